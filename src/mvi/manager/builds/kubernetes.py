"""``mvi export k8s``: a version as a container image recipe and Kubernetes manifests.

:func:`export` writes, for one deployed version, a folder that builds and runs it outside
the manager: ``app/`` (its code), ``requirements.lock`` (the exact packages of its
environment, the SDK as ``mvi==<version>``), a ``Dockerfile``, ``k8s/`` with a ConfigMap (the
version's variables), a Deployment (its replicas, readiness on ``/~ready``, liveness on
``/~health``, the CPU and memory its replicas reserve, and *references* to a Secret for the
variables that are secret: the values never leave the manager) and a Service, and a
README saying how to create the Secret and apply the rest.

Every manifest is validated offline by ``kubernetes-validate`` in strict mode (unknown
fields are errors) against :data:`KUBERNETES_VERSION`, and by :func:`check_manifests`, which
checks what schemas cannot: names are DNS-1123, selectors match the pod's labels, and the
ports of the Service and the probes name a port of the container. A manifest that fails
raises :class:`~mvi._exceptions.InvalidManifest`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mvi._exceptions import InvalidManifest
from mvi._version import __version__
from mvi.manager.builds.archives import iter_project_files

__all__ = [
    "KUBERNETES_VERSION",
    "SECRET_WORDS",
    "ExportedVersion",
    "check_manifests",
    "dns_name",
    "export",
    "manifests",
    "validate",
]

KUBERNETES_VERSION = "1.30.0"
"""The Kubernetes version whose schemas the manifests are validated against."""
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "KEY", "CREDENTIAL")
"""A variable whose name holds one of these goes to the Secret, never the ConfigMap."""
PORT = 8000
_DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns_name(*parts: str) -> str:
    """A DNS-1123 label made of ``parts`` (``hello``, ``1.0.0`` -> ``hello-1-0-0``)."""
    name = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")
    return name[:63].rstrip("-") or "mvi"


class ExportedVersion:
    """What the export needs of a version: its identity, variables, replicas, resources."""

    def __init__(
        self,
        name: str,
        version: str,
        *,
        app_file: str,
        environment: Mapping[str, str],
        replicas: int,
        cpus: float,
        memory_mb: int,
        arguments: list[str] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.app_file = app_file
        self.environment = dict(environment)
        self.replicas = replicas
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.arguments = arguments
        """What follows ``python`` in the image's command (``None``: the ``app_file``)."""

    @property
    def app(self) -> str:
        """The DNS-1123 name of its Kubernetes objects."""
        return dns_name(self.name, self.version)

    @property
    def labels(self) -> dict[str, str]:
        """The labels of its pods (and the selectors that find them)."""
        return {
            "app.kubernetes.io/name": dns_name(self.name),
            "app.kubernetes.io/instance": self.app,
            "app.kubernetes.io/version": self.version,
            "app.kubernetes.io/managed-by": "mvi",
        }


def _is_secret(variable: str) -> bool:
    return any(word in variable.upper() for word in SECRET_WORDS)


def manifests(version: ExportedVersion) -> dict[str, dict[str, Any]]:
    """The ConfigMap, Deployment and Service of ``version``, by file name."""
    app, labels = version.app, version.labels
    variables = {
        **version.environment,
        "MVI_SERVICE_NAME": version.name,
        "MVI_SERVICE_VERSION": version.version,
        "MVI_HOST": "0.0.0.0",
        "MVI_PORT": str(PORT),
    }
    plain = {k: v for k, v in sorted(variables.items()) if not _is_secret(k) and k != "APP_FILE"}
    secret = sorted({k for k in variables if _is_secret(k)} | {"MVI_SERVICE_ACCESS_TOKEN"})
    resources: dict[str, dict[str, str]] = {"requests": {"cpu": f"{int(version.cpus * 1000)}m"}}
    if version.memory_mb:
        resources["requests"]["memory"] = f"{version.memory_mb}Mi"
        resources["limits"] = {"memory": f"{version.memory_mb}Mi"}
    probe = {"httpGet": {"path": "/~ready", "port": "http"}, "periodSeconds": 5}
    container = {
        "name": "service",
        "image": f"{dns_name(version.name)}:{version.version}",
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": app}}],
        "env": [
            {
                "name": key,
                "valueFrom": {
                    "secretKeyRef": {"name": f"{app}-secrets", "key": key, "optional": True}
                },
            }
            for key in secret
        ],
        "readinessProbe": probe,
        "livenessProbe": {
            "httpGet": {"path": "/~health", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "resources": resources,
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
    }
    return {
        "configmap.yaml": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": app, "labels": labels},
            "data": plain,
        },
        "deployment.yaml": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app, "labels": labels},
            "spec": {
                "replicas": version.replicas,
                "selector": {"matchLabels": dict(labels)},
                "template": {
                    "metadata": {"labels": dict(labels)},
                    "spec": {"containers": [container]},
                },
            },
        },
        "service.yaml": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": app, "labels": labels},
            "spec": {
                "selector": dict(labels),
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        },
    }


def check_manifests(documents: Sequence[Mapping[str, Any]]) -> list[str]:
    """What schema validation misses: the problems found (empty when there are none)."""
    problems: list[str] = []
    pods: list[tuple[dict[str, str], set[str | int]]] = []
    for doc in documents:
        name = str(doc.get("metadata", {}).get("name", ""))
        if not _DNS_1123_LABEL.match(name) or len(name) > 63:
            problems.append(f"{doc.get('kind')} name {name!r} is not a DNS-1123 label")
        if doc.get("kind") != "Deployment":
            continue
        spec = doc["spec"]
        labels = spec["template"]["metadata"].get("labels", {})
        selector = spec["selector"].get("matchLabels", {})
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            problems.append(f"Deployment {name}: its selector does not match its pods' labels")
        ports: set[str | int] = set()
        for container in spec["template"]["spec"]["containers"]:
            for port in container.get("ports", []):
                ports.add(port["containerPort"])
                if "name" in port:
                    ports.add(port["name"])
            for probe in ("readinessProbe", "livenessProbe"):
                target = container.get(probe, {}).get("httpGet", {}).get("port")
                if target is not None and target not in ports:
                    problems.append(f"Deployment {name}: the {probe} port {target!r} is no port")
        pods.append((labels, ports))
    for doc in documents:
        if doc.get("kind") != "Service":
            continue
        name = doc["metadata"]["name"]
        selector = doc["spec"].get("selector", {})
        matched = [p for p in pods if all(p[0].get(k) == v for k, v in selector.items())]
        if not selector or not matched:
            problems.append(f"Service {name}: its selector matches no Deployment's pods")
        for port in doc["spec"].get("ports", []):
            target = port.get("targetPort", port.get("port"))
            if matched and all(target not in ports for _, ports in matched):
                problems.append(f"Service {name}: targetPort {target!r} is no container port")
    return problems


def validate(documents: Sequence[Mapping[str, Any]]) -> None:
    """Validate ``documents`` (strict schemas, then :func:`check_manifests`)."""
    import kubernetes_validate

    for doc in documents:
        try:
            kubernetes_validate.validate(dict(doc), KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(part) for part in exc.path) or "(top)"
            raise InvalidManifest(
                f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}: {where}: {exc.message}"
            ) from None
    problems = check_manifests(documents)
    if problems:
        raise InvalidManifest("; ".join(problems))


def _lock(python: Path, uv: str) -> str:
    """The exact packages of an environment, ``name==version`` each (the SDK as the
    release the manager runs, whether its environment got it from a tree or the index)."""
    done = subprocess.run(
        [uv, "pip", "list", "--format", "json", "--python", str(python)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise InvalidManifest(f"listing the version's packages failed: {done.stderr.strip()}")
    lines = []
    for package in json.loads(done.stdout):
        name, installed = str(package["name"]), str(package["version"])
        lines.append(f"mvi=={__version__}" if name.lower() == "mvi" else f"{name}=={installed}")
    return "\n".join(sorted(lines, key=str.lower)) + "\n"


_DOCKERFILE = """\
# The image of {name} {version}, as exported by `mvi export k8s`.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.lock /app/requirements.lock
RUN pip install -r /app/requirements.lock
COPY app/ /app/
RUN useradd --uid 10001 --no-create-home service && chown -R 10001 /app
USER 10001
EXPOSE {port}
CMD {command}
"""

_README = """\
# {name} {version} on Kubernetes

Made by `mvi export k8s {name} {version}`; the manifests passed kubernetes-validate
(strict, Kubernetes {kube}) and mvi's own checks.

1. Build and push the image, and set it in `k8s/deployment.yaml`:
   `docker build -t REGISTRY/{image} . && docker push REGISTRY/{image}`
2. Create the Secret the Deployment refers to (values never leave the manager):
   `kubectl create secret generic {app}-secrets {secret_args}`
3. `kubectl apply -f k8s/`
"""


def export(version: ExportedVersion, source: Path, python: Path, uv: str, out: Path) -> Path:
    """Write the export of ``version`` (code at ``source``, environment of ``python``)
    into the new folder ``out``; validated before anything is written."""
    import yaml

    documents = manifests(version)
    validate(list(documents.values()))
    lock = _lock(python, uv)
    out.mkdir(parents=True)
    try:
        app = out / "app"
        for path, rel in iter_project_files(source):
            target = app / rel
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif path.is_file() and not path.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        (out / "requirements.lock").write_text(lock)
        (out / "Dockerfile").write_text(
            _DOCKERFILE.format(
                name=version.name,
                version=version.version,
                port=PORT,
                command=json.dumps(["python", *(version.arguments or [version.app_file])]),
            )
        )
        (out / "k8s").mkdir()
        for file, doc in documents.items():
            (out / "k8s" / file).write_text(yaml.safe_dump(doc, sort_keys=False))
        secrets = documents["deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]["env"]
        (out / "README.md").write_text(
            _README.format(
                name=version.name,
                version=version.version,
                kube=KUBERNETES_VERSION,
                image=f"{dns_name(version.name)}:{version.version}",
                app=version.app,
                secret_args=" ".join(f"--from-literal={e['name']}=..." for e in secrets),
            )
        )
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out
