"""A version's bundle: its source and a wheelhouse, from the manager to every node.

The manager packs the version's folder (``.s2iignore`` honoured) and builds a wheelhouse
of its requirements and the mvi SDK once per lock (``pip wheel``, where the manager can reach
its package index); the wheelhouse's lock is the list of its wheels with their hashes, and
the hash of that list names it. Both go into the cluster's GCS key-value store, so that a
replica restarted on any node, even after the manager is gone, finds them.

On a node, :func:`materialize` unpacks the source (safely, with the deploy limits) and
builds the environment offline from the wheelhouse with uv (``--offline --no-index``),
each once per node and cached by their hashes (a file lock keeps two replicas on one node
from building the same one at once).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mvi._exceptions import BuildFailed
from mvi.manager.builds.archives import pack, unpack
from mvi.manager.builds.environments import COMPLETE_MARK, SdkSource, error_lines, pins_sdk

__all__ = ["Bundle", "BundleMaker", "NodeFiles", "materialize", "source_key", "wheels_key"]

logger = logging.getLogger("mvi.manager.ray")

_MAX_BYTES = 4 * 1024 * 1024 * 1024
_MAX_MEMBERS = 100_000


def source_key(sha256: str) -> str:
    """The GCS key of a version's packed source."""
    return f"mvi/source/{sha256}"


def wheels_key(lock: str) -> str:
    """The GCS key of a packed wheelhouse."""
    return f"mvi/wheels/{lock}"


@dataclass(frozen=True)
class Bundle:
    """What a replica needs to find its code and build its environment on a node."""

    source: str
    """The SHA-256 of the packed source."""
    lock: str
    """The hash of the wheelhouse's lock."""


def _pack_bytes(folder: Path) -> bytes:
    buffer = io.BytesIO()
    pack(folder, buffer)
    return buffer.getvalue()


def _run(args: list[str], cwd: Path, timeout: float) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")
    }
    env.update(UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1", NO_COLOR="1")
    try:
        done = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BuildFailed(f"{Path(args[0]).name} took longer than {timeout:g}s", []) from None
    if done.returncode != 0:
        lines = error_lines((done.stdout + done.stderr).decode(errors="replace"))
        raise BuildFailed(
            "Building the replica's wheelhouse or environment failed:\n" + "\n".join(lines), lines
        )


class BundleMaker:
    """The manager's side: packs sources and builds wheelhouses (cached in ``root``)."""

    def __init__(self, root: Path, *, timeout: float, sdk: SdkSource | None = None) -> None:
        self.root = root
        self.timeout = timeout
        self.sdk = sdk or SdkSource.detect()

    def source(self, folder: Path) -> tuple[str, bytes]:
        """The packed source of a version's folder and its SHA-256."""
        data = _pack_bytes(folder)
        return hashlib.sha256(data).hexdigest(), data

    def wheelhouse(self, folder: Path) -> tuple[str, bytes]:
        """The lock hash and packed wheelhouse of the requirements in ``folder`` (with the
        SDK unless they pin it), built once per requirements, SDK and interpreter."""
        requirements = folder / "requirements.txt"
        text = requirements.read_text(encoding="utf-8") if requirements.is_file() else ""
        recipe = f"{text}\n{self.sdk.identity}\n{sys.version}\n"
        key = hashlib.sha256(recipe.encode()).hexdigest()[:32]
        cache = self.root / key
        if not (cache / COMPLETE_MARK).is_file():
            self._build(folder, text, cache)
        lock = (cache / "lock.txt").read_text()
        return hashlib.sha256(lock.encode()).hexdigest()[:32], (
            cache / "wheels.tar.gz"
        ).read_bytes()

    def _build(self, folder: Path, text: str, cache: Path) -> None:
        shutil.rmtree(cache, ignore_errors=True)
        wheels = cache / "wheels"
        wheels.mkdir(parents=True)
        args = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels)]
        if text.strip():
            args += ["-r", str(folder / "requirements.txt")]
        if not pins_sdk(text):
            args += [arg for arg in self.sdk.args if arg != "-e"]
        logger.info("building a wheelhouse: %s", " ".join(args[3:]))
        try:
            _run(args, folder, self.timeout)
            lines = []
            for wheel in sorted(wheels.glob("*.whl")):
                digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                lines.append(f"{wheel.name} sha256={digest}\n")
            (cache / "lock.txt").write_text("".join(lines))
            (cache / "wheels.tar.gz").write_bytes(_pack_bytes(wheels))
        except BaseException:
            shutil.rmtree(cache, ignore_errors=True)
            raise
        shutil.rmtree(wheels, ignore_errors=True)
        (cache / COMPLETE_MARK).write_text(self.sdk.identity + "\n")


@dataclass(frozen=True)
class NodeFiles:
    """Where a node keeps what replicas unpack and build."""

    root: Path

    def source(self, sha256: str) -> Path:
        """A version's unpacked source."""
        return self.root / "sources" / sha256

    def environment(self, lock: str) -> Path:
        """The environment built from a wheelhouse."""
        return self.root / "envs" / lock

    def logs(self) -> Path:
        """The replicas' logs."""
        return self.root / "logs"

    def monitoring(self) -> Path:
        """The replicas' SQLite monitoring stores."""
        return self.root / "monitoring"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unpack_bytes(data: bytes, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, suffix=".tar.gz") as handle:
        handle.write(data)
        handle.flush()
        return unpack(Path(handle.name), dest, max_bytes=_MAX_BYTES, max_members=_MAX_MEMBERS)


def materialize(
    files: NodeFiles, bundle: Bundle, fetch: Callable[[str], bytes | None], *, timeout: float
) -> tuple[Path, Path]:
    """The source folder and the environment's python of ``bundle`` on this node, unpacked
    and built from what ``fetch`` (the GCS store) gives if this node has not got them."""
    source = files.source(bundle.source)
    with _locked(source.with_suffix(".lock")):
        if not (source.parent / f"{bundle.source}{COMPLETE_MARK}").is_file():
            data = fetch(source_key(bundle.source))
            if data is None or hashlib.sha256(data).hexdigest() != bundle.source:
                raise BuildFailed(f"the source {bundle.source[:12]} is not in the cluster", [])
            shutil.rmtree(source, ignore_errors=True)
            root = _unpack_bytes(data, source)
            if root != source:  # keep one layout: the project at the folder itself
                raise BuildFailed("the packed source has an unexpected layout", [])
            (source.parent / f"{bundle.source}{COMPLETE_MARK}").write_text("")
    env = files.environment(bundle.lock)
    with _locked(env.with_suffix(".lock")):
        if not (env / COMPLETE_MARK).is_file():
            _build_environment(env, bundle, fetch, timeout)
    return source, env / "bin" / "python"


def _build_environment(
    env: Path, bundle: Bundle, fetch: Callable[[str], bytes | None], timeout: float
) -> None:
    import uv

    data = fetch(wheels_key(bundle.lock))
    if data is None:
        raise BuildFailed(f"the wheelhouse {bundle.lock[:12]} is not in the cluster", [])
    shutil.rmtree(env, ignore_errors=True)
    wheels = env.with_name(env.name + ".wheels")
    shutil.rmtree(wheels, ignore_errors=True)
    try:
        _unpack_bytes(data, wheels)
        uv_bin = uv.find_uv_bin()
        _run([uv_bin, "venv", "--quiet", "--python", sys.executable, str(env)], env.parent, timeout)
        python = str(env / "bin" / "python")
        found = sorted(str(p) for p in wheels.rglob("*.whl"))
        args = [uv_bin, "pip", "install", "--offline", "--no-index", "--no-deps"]
        _run([*args, "--python", python, *found], env.parent, timeout)
    except BaseException:
        shutil.rmtree(env, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(wheels, ignore_errors=True)
    (env / COMPLETE_MARK).write_text(bundle.lock + "\n")
