"""What a deployed ``requirements.txt`` may ask for (decisions, no I/O: files are read
through the ``read`` function the caller gives).

Allowed: named requirements with versions, extras, markers and ``--hash`` options; paths
inside the deployed folder (``./pkg``, ``-e ./pkg``, ``name @ file:pkg``); ``-r`` and ``-c``
of other files inside it, followed and checked the same way (a file included twice is read
once). Refused, unless the manager allows index options (``MVI_MANAGER_ALLOW_INDEX_OPTIONS``):
the options that choose where packages come from (``--index-url``, ``--extra-index-url``,
``--no-index``, ``--find-links``, ``--trusted-host``) and requirements from a URL. Always
refused: paths outside the folder (absolute, or leaving it with ``..``), ``file:`` URLs
outside it, and any other option. A refusal names the file and line, never a path of the
manager's machine.

``mvi`` itself is never installed from the requirements: each version gets the manager's
own SDK. A requirement on ``mvi`` is dropped, with a warning when its version specifier
does not accept the manager's version.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mvi._exceptions import InvalidDeployment

__all__ = ["INDEX_OPTIONS", "RequirementsPlan", "plan_requirements"]

INDEX_OPTIONS = (
    "--index-url",
    "-i",
    "--extra-index-url",
    "--no-index",
    "--find-links",
    "-f",
    "--trusted-host",
)
"""Options that choose where packages come from (refused unless the manager allows them)."""

_INCLUDES = {"-r": "-r", "--requirement": "-r", "-c": "-c", "--constraint": "-c"}
_EDITABLE = ("-e", "--editable")
_WITH_VALUE = {"--index-url", "-i", "--extra-index-url", "--find-links", "-f", "--trusted-host"}
_HASH = re.compile(r"--hash[= ]\S+")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_MAX_FILES = 100


ReadFile = Callable[[str], str | None]
"""``read(path)`` gives the text of ``path`` (relative to the deployed folder, ``/``
separated), or ``None`` when there is no such file."""


@dataclass(frozen=True)
class RequirementsPlan:
    """What to install: the checked lines, with paths made relative to the folder's root."""

    requirements: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    local_paths: bool = False
    """Whether anything is installed from the folder (so its key covers the upload)."""
    sdk_pins: tuple[str, ...] = ()
    """The requirements on ``mvi`` that were dropped."""
    warnings: tuple[str, ...] = ()
    """What the build log says about them."""

    def text(self, root: str) -> tuple[str, str]:
        """The requirements and constraints files to install, with each local path under
        ``root`` (the folder on the manager's disk, which the plan never shows itself)."""

        def place(line: str) -> str:
            return line.replace("{root}", root)

        return (
            "".join(place(line) + "\n" for line in self.requirements),
            "".join(place(line) + "\n" for line in self.constraints),
        )


@dataclass
class _State:
    read: ReadFile
    allow_index: bool
    sdk_version: str
    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    local: bool = False
    pins: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan_requirements(
    read: ReadFile, *, allow_index_options: bool, sdk_version: str, root: str = "requirements.txt"
) -> RequirementsPlan:
    """Check ``root`` and all it includes; raises :class:`InvalidDeployment` (422) naming
    the first line that is refused."""
    state = _State(read, allow_index_options, sdk_version)
    _check_file(state, root, constraint=False, origin=None)
    return RequirementsPlan(
        tuple(state.requirements),
        tuple(state.constraints),
        state.local,
        tuple(state.pins),
        tuple(state.warnings),
    )


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """``(number, line)`` without comments, continuation lines joined."""
    found: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw if not raw.lstrip().startswith("#") else ""
        line = re.split(r"\s#", line, maxsplit=1)[0].rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined = (pending + line).strip()
        pending = ""
        if joined:
            found.append((start, joined))
    if pending.strip():
        found.append((start, pending.strip()))
    return found


def _refuse(where: str, line: str, why: str) -> InvalidDeployment:
    shown = line if len(line) <= 200 else line[:200] + "..."
    return InvalidDeployment(f"{where}: `{shown}` is refused: {why}")


def _inside(folder: str, target: str, where: str, line: str) -> str:
    """``target`` (relative to ``folder``) as a path relative to the root, or a refusal."""
    if target.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", target):
        raise _refuse(where, line, "a path outside the deployed folder (only paths inside it)")
    joined = posixpath.normpath(posixpath.join(folder, target.replace("\\", "/")))
    if joined == ".." or joined.startswith("../"):
        raise _refuse(where, line, "a path outside the deployed folder")
    return joined


def _check_file(state: _State, path: str, *, constraint: bool, origin: str | None) -> None:
    if path in state.seen:
        return
    if len(state.seen) >= _MAX_FILES:
        raise InvalidDeployment(f"requirements include more than {_MAX_FILES} files")
    state.seen.add(path)
    text = state.read(path)
    if text is None:
        if origin is None:
            return  # no requirements.txt: nothing to install
        raise InvalidDeployment(f"{origin}: the file {path} is not in the deployed folder")
    folder = posixpath.dirname(path)
    for number, line in _logical_lines(text):
        where = f"{path} line {number}"
        _check_line(state, line, folder, where, constraint)


def _option(line: str) -> tuple[str, str]:
    """``("--name", "value")`` of an option line (``-rfile``, ``-r file``, ``--r=file``)."""
    head, _, rest = line.partition(" ")
    if head.startswith("--") and "=" in head:
        name, _, value = head.partition("=")
        return name, (value + " " + rest).strip()
    if not head.startswith("--") and len(head) > 2:
        return head[:2], (head[2:] + " " + rest).strip()
    return head, rest.strip()


def _check_line(state: _State, line: str, folder: str, where: str, constraint: bool) -> None:
    out = state.constraints if constraint else state.requirements
    if line.startswith("-"):
        name, value = _option(line)
        if name in _INCLUDES:
            target = _unquote(value)
            if not target or _SCHEME.match(target):
                raise _refuse(where, line, "only files inside the deployed folder may be included")
            included = _inside(folder, target, where, line)
            _check_file(state, included, constraint=_INCLUDES[name] == "-c", origin=where)
            return
        if name in _EDITABLE:
            out.append("-e " + _local(state, value, folder, where, line))
            return
        if name in INDEX_OPTIONS:
            if not state.allow_index:
                raise _refuse(where, line, _INDEX_WHY)
            if name in _WITH_VALUE and not value:
                raise _refuse(where, line, f"{name} needs a value")
            out.append(line)
            return
        raise _refuse(where, line, "only -r, -c, -e and --hash options may be used here")
    spec = _HASH.sub("", line).strip()
    if spec.startswith((".", "/", "~")) or (
        "/" in spec and not _SCHEME.match(spec) and "@" not in spec
    ):
        out.append(_local(state, line, folder, where, line))
        return
    if _SCHEME.match(spec) and not spec.lower().startswith("file:"):
        if not state.allow_index:
            raise _refuse(where, line, _URL_WHY)
        out.append(line)
        return
    if spec.lower().startswith("file:"):
        out.append(_local(state, line, folder, where, line))
        return
    try:
        requirement = Requirement(spec)
    except InvalidRequirement as exc:
        raise _refuse(where, line, f"not a requirement ({exc})") from None
    if canonicalize_name(requirement.name) == "mvi":
        _pin_sdk(state, requirement, where)
        return
    if requirement.url is not None:
        url = requirement.url
        if url.lower().startswith("file:"):
            path = _inside(folder, _file_url_path(url, where, line), where, line)
            state.local = True
            hashes = " ".join(_HASH.findall(line))
            placed = f"{requirement.name} @ file://{{root}}/{path}"
            out.append(f"{placed} {hashes}".strip())
            return
        if not state.allow_index:
            raise _refuse(where, line, _URL_WHY)
    out.append(line)


_INDEX_WHY = (
    "index options are not allowed on this manager (its operator may set "
    "MVI_MANAGER_ALLOW_INDEX_OPTIONS=true)"
)
_URL_WHY = (
    "requirements from a URL are not allowed on this manager (its operator may set "
    "MVI_MANAGER_ALLOW_INDEX_OPTIONS=true)"
)


def _unquote(value: str) -> str:
    try:
        parts = shlex.split(value)
    except ValueError:
        parts = [value]
    return parts[0] if parts else ""


def _file_url_path(url: str, where: str, line: str) -> str:
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise _refuse(where, line, "a file URL of another machine")
    path = unquote(parsed.path if parsed.netloc or url.lower().startswith("file://") else url[5:])
    return path


def _local(state: _State, value: str, folder: str, where: str, line: str) -> str:
    """A path (or ``file:`` URL) inside the folder, placed under ``{root}``."""
    target = _HASH.sub("", _unquote(value) if value else "").strip()
    extras = ""
    match = re.match(r"^(.*?)(\[[^\]]*\])$", target)
    if match:
        target, extras = match[1], match[2]
    if target.lower().startswith("file:"):
        target = _file_url_path(target, where, line)
    if _SCHEME.match(target):
        if not state.allow_index:
            raise _refuse(where, line, _URL_WHY)
        return target + extras
    path = _inside(folder, target, where, line)
    state.local = True
    return str(PurePosixPath("{root}") / path) + extras


def _pin_sdk(state: _State, requirement: Requirement, where: str) -> None:
    state.pins.append(str(requirement))
    try:
        accepted = requirement.specifier.contains(Version(state.sdk_version), prereleases=True)
    except InvalidVersion:
        accepted = True
    if requirement.url is not None or not accepted:
        state.warnings.append(
            f"{where} asks for `{requirement}`, but this manager runs mvi "
            f"{state.sdk_version}: the version gets the manager's own mvi {state.sdk_version} "
            "(no second SDK is installed); deploy to a manager of that version, or change "
            "the requirement"
        )
    else:
        state.warnings.append(
            f"{where} names mvi: the version gets the manager's own mvi {state.sdk_version}"
        )
