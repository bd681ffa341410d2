"""Virtual environments for service versions, made with uv and shared when equal.

Each version runs in a virtual environment holding its ``requirements.txt`` and this
project's SDK (the manager's own version, unless the requirements pin ``mvi``). An
environment is keyed by the hash of what goes into it: the requirements text, the SDK's
source identity, the Python interpreter and platform; versions with the same key share one,
so a redeploy with unchanged requirements builds nothing. Requirements that point at local
paths (``./pkg``, ``-e``, ``file:``) depend on files the text does not show, so their key
also covers the uploaded archive.

What the requirements may ask for is checked first
(:mod:`~mvi.manager.builds.requirements`: named requirements and paths inside the project;
index options only where the manager allows them); the checked lines are what uv installs,
with the operator's wheel folders (``MVI_MANAGER_FIND_LINKS``) as find-links.

How the SDK gets in: always the manager's own, never a requirement's (a requirement on
``mvi`` is dropped, with a warning when it asks for another version). When the manager's
``mvi`` was installed from a local source tree (``pip install -e .`` or ``pip install
/path``), its ``direct_url.json`` names that tree and the environment gets it from there
(editable when the manager's is); otherwise ``mvi==<version>`` comes from the package index.

An environment is built in its final folder and marked complete only at the end; a folder
without the mark (a build cut short) is rebuilt. A failed build is removed and raises
:class:`BuildFailed` with uv's output.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import platform
import re
import shutil
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from mvi._exceptions import BuildFailed
from mvi._version import __version__
from mvi.manager.builds.requirements import RequirementsPlan, plan_requirements

__all__ = [
    "COMPLETE_MARK",
    "Environment",
    "EnvironmentBuilder",
    "OutputSink",
    "SdkSource",
    "environment_key",
    "error_lines",
    "make_readable",
    "pins_sdk",
    "uses_local_paths",
]

logger = logging.getLogger("mvi.manager.builder")

OutputSink = Callable[[str], None]
"""Gets the builder's output, one line at a time."""

COMPLETE_MARK = ".mvi-complete"
"""File written into an environment once it is fully built."""
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MAX_ERROR_LINES = 60


@dataclass(frozen=True)
class SdkSource:
    """How this project (``mvi``) is installed into a service's environment."""

    args: tuple[str, ...]
    """Arguments to ``uv pip install`` that install it."""
    identity: str
    """What the environment key records about it."""

    @property
    def trees(self) -> tuple[Path, ...]:
        """The local source trees it is installed from (what versions must be able to read
        when it is editable)."""
        return tuple(Path(arg) for arg in self.args if arg.startswith("/"))

    @classmethod
    def detect(cls) -> SdkSource:
        """The manager's own ``mvi``: its source tree if installed from one, else the index."""
        try:
            text = metadata.distribution("mvi").read_text("direct_url.json")
        except metadata.PackageNotFoundError:
            text = None
        if text:
            info = json.loads(text)
            url = str(info.get("url", ""))
            if url.startswith("file://"):
                tree = Path(unquote(urlparse(url).path))
                if tree.is_dir() and (tree / "pyproject.toml").is_file():
                    if info.get("dir_info", {}).get("editable"):
                        return cls(("-e", str(tree)), f"editable:{tree}:{__version__}")
                    return cls((str(tree),), f"tree:{tree}:{_tree_stamp(tree)}:{__version__}")
        return cls((f"mvi=={__version__}",), f"index:mvi=={__version__}")


def _tree_stamp(tree: Path) -> str:
    """Changes when the package's files change (names, sizes, times)."""
    digest = hashlib.sha256()
    for path in [*sorted((tree / "src").rglob("*.py")), tree / "pyproject.toml"]:
        with contextlib.suppress(OSError):
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _requirement_lines(text: str) -> list[str]:
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def pins_sdk(requirements: str) -> bool:
    """Whether ``requirements`` names ``mvi`` itself (then it is not added)."""
    for line in _requirement_lines(requirements):
        if line.startswith("-"):
            continue
        try:
            if canonicalize_name(Requirement(line).name) == "mvi":
                return True
        except InvalidRequirement:
            continue
    return False


def uses_local_paths(requirements: str) -> bool:
    """Whether ``requirements`` installs from paths inside the project."""
    for line in _requirement_lines(requirements):
        if line.startswith((".", "/", "-e", "--editable", "file:")) or " @ file:" in line:
            return True
        if line.startswith(("-r", "-c", "--requirement", "--constraint")):
            return True
    return False


def environment_key(requirements: str, sdk: SdkSource, python: str, extra: str = "") -> str:
    """The key an environment is cached under."""
    digest = hashlib.sha256()
    lines = "\n".join(_requirement_lines(requirements))
    for part in (lines, sdk.identity, python, platform.machine(), extra):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def error_lines(output: str) -> list[str]:
    """The installer's output as plain lines (colour codes removed), the last ones kept."""
    lines = [_ANSI.sub("", line).rstrip() for line in output.splitlines()]
    lines = [line for line in lines if line.strip()]
    return lines[-_MAX_ERROR_LINES:]


@dataclass(frozen=True)
class Environment:
    """A built virtual environment."""

    key: str
    path: Path
    reused: bool

    @property
    def python(self) -> Path:
        """Its interpreter."""
        return self.path / "bin" / "python"


class EnvironmentBuilder:
    """Builds (or reuses) the environment of each deploy, one build per key at a time."""

    def __init__(
        self,
        envs_dir: Path,
        *,
        timeout: float,
        sdk: SdkSource | None = None,
        python: str | None = None,
        uv: str | None = None,
        allow_index_options: bool = False,
        find_links: tuple[Path, ...] = (),
    ) -> None:
        self.envs_dir = envs_dir
        self.timeout = timeout
        self.allow_index_options = allow_index_options
        """Whether requirements may choose where packages come from."""
        self.find_links = find_links
        """Folders of wheels the operator trusts, given to every build as find-links."""
        self.readable_by_all = False
        """Make every environment readable by all users (versions run as uids of their
        own: isolation mode ``user``)."""
        self.sdk = sdk or SdkSource.detect()
        self.python = python or sys.executable
        self._uv = uv
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def uv(self) -> str:
        """The uv executable (from the ``uv`` package)."""
        if self._uv is None:
            import uv

            self._uv = uv.find_uv_bin()
        return self._uv

    def plan_for(self, project: Path) -> RequirementsPlan:
        """The checked requirements of the project at ``project``; raises
        :class:`~mvi._exceptions.InvalidDeployment` naming the line that is refused."""
        return plan_requirements(
            _project_reader(project),
            allow_index_options=self.allow_index_options,
            sdk_version=__version__,
        )

    def key_for(self, project: Path, source_sha256: str) -> str:
        """The environment key of the project unpacked at ``project``."""
        plan = self.plan_for(project)
        text = "\n".join([*plan.requirements, "--constraints", *plan.constraints])
        links = "\n".join(str(path) for path in self.find_links)
        extra = (source_sha256 if plan.local_paths else "") + links
        return environment_key(text, self.sdk, f"{self.python}:{sys.version}", extra)

    def path_of(self, key: str) -> Path:
        """Where the environment ``key`` lives."""
        return self.envs_dir / key

    def is_complete(self, key: str) -> bool:
        """Whether the environment ``key`` exists and finished building."""
        return (self.path_of(key) / COMPLETE_MARK).is_file()

    async def ensure(
        self, project: Path, source_sha256: str, on_output: OutputSink | None = None
    ) -> Environment:
        """The environment for the project at ``project``, built if not cached;
        ``on_output`` gets uv's output line by line as it comes.

        Raises :class:`BuildFailed` with uv's output when the install fails or times out.
        """
        key = self.key_for(project, source_sha256)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            path = self.path_of(key)
            if self.is_complete(key):
                return Environment(key, path, reused=True)
            if path.exists():
                await asyncio.to_thread(shutil.rmtree, path, True)
            try:
                await self._build(project, path, on_output)
            except BaseException:
                await asyncio.to_thread(shutil.rmtree, path, True)
                raise
            if self.readable_by_all:  # versions of other uids run from it
                await asyncio.to_thread(make_readable, path)
            (path / COMPLETE_MARK).write_text(self.sdk.identity + "\n")
            return Environment(key, path, reused=False)

    async def _build(self, project: Path, path: Path, on_output: OutputSink | None) -> None:
        plan = self.plan_for(project)
        venv = [self.uv, "venv", "--quiet", "--python", self.python, str(path)]
        await self._run(venv, project, on_output)
        # compiled once here, because every start of the service would compile its imports
        # again where bytecode is not written (read-only trees, PYTHONDONTWRITEBYTECODE)
        python = str(path / "bin" / "python")
        args = [self.uv, "pip", "install", "--compile-bytecode", "--python", python]
        requirements, constraints = plan.text(str(project))
        checked = path / ".mvi-requirements.txt"
        if requirements:
            checked.write_text(requirements, encoding="utf-8")
            args += ["-r", str(checked)]
        if constraints:
            (path / ".mvi-constraints.txt").write_text(constraints, encoding="utf-8")
            args += ["-c", str(path / ".mvi-constraints.txt")]
        for folder in self.find_links:
            args += ["--find-links", str(folder)]
        args += list(self.sdk.args)  # the manager's own SDK, whatever the requirements say
        for warning in plan.warnings:
            logger.warning("building environment %s: %s", path.name, warning)
        logger.info("building environment %s: %s", path.name, " ".join(args[2:]))
        if on_output is not None:
            on_output("$ uv " + " ".join(args[1:]))
        await self._run(args, project, on_output)

    async def _run(self, args: list[str], cwd: Path, on_output: OutputSink | None) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "CONDA_PREFIX")
        }
        env.update(
            UV_PYTHON_DOWNLOADS="never",
            UV_NO_PROGRESS="1",
            NO_COLOR="1",
            UV_COLOR="never",
        )
        process = await asyncio.create_subprocess_exec(
            *args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_shared_umask if self.readable_by_all else None,
        )
        try:
            output = await asyncio.wait_for(_collect(process, on_output), self.timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            await process.wait()
            raise BuildFailed(
                f"Installing the requirements took longer than {self.timeout:g}s "
                "(MVI_MANAGER_BUILD_TIMEOUT)",
                [],
            ) from None
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            await process.wait()
            raise
        if process.returncode != 0:
            lines = error_lines(output.decode(errors="replace"))
            raise BuildFailed(
                "Installing the requirements failed; fix requirements.txt and deploy again:\n"
                + "\n".join(lines),
                lines,
            )

    def remove_unused(self, in_use: set[str]) -> list[str]:
        """Delete environments no version uses (and none is being built); their keys."""
        removed: list[str] = []
        if not self.envs_dir.is_dir():
            return removed
        for path in self.envs_dir.iterdir():
            lock = self._locks.get(path.name)
            if path.name in in_use or (lock is not None and lock.locked()):
                continue
            shutil.rmtree(path, ignore_errors=True)
            self._locks.pop(path.name, None)
            removed.append(path.name)
        return removed


async def _collect(process: asyncio.subprocess.Process, on_output: OutputSink | None) -> bytes:
    """The process's output until it exits, each complete line handed to ``on_output`` as
    it arrives (a line is cut at 64 KiB)."""
    assert process.stdout is not None
    output = bytearray()
    pending = b""
    while chunk := await process.stdout.read(65536):
        output += chunk
        if on_output is not None:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > 65536:
                lines, pending = [*lines, pending], b""
            for line in lines:
                on_output(line.decode(errors="replace"))
    if on_output is not None and pending:
        on_output(pending.decode(errors="replace"))
    await process.wait()
    return bytes(output)


def _shared_umask() -> None:
    os.umask(0o022)  # what uv makes, versions of other uids read (isolation mode user)


def make_readable(root: Path) -> None:
    """Let every user read ``root``'s files and search its folders (a virtual environment
    that versions of other uids run from); nobody but the owner may write them."""
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                mode = stat.S_IMODE(os.lstat(path).st_mode)
                os.chmod(path, (mode | 0o444 | (0o111 if mode & 0o100 else 0)) & 0o755)


def _project_reader(project: Path) -> Callable[[str], str | None]:
    """Reads files of the project by relative path, never one outside it (symlinks too)."""
    root = project.resolve()

    def read(relative: str) -> str | None:
        file = (root / relative).resolve()
        if not file.is_relative_to(root) or not file.is_file():
            return None
        try:
            return file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise BuildFailed(f"{relative} is not UTF-8 text", []) from None

    return read
