"""Putting the isolation of :mod:`~mvi.manager.supervision.isolation` into effect (I/O).

:func:`detect_isolation` looks at this machine (root? Landlock? can other users reach the
data directory and the interpreter?) and asks :func:`choose_isolation`; :func:`prepare`
gives a version's folders to its uid before a start; :func:`spawn_options` is what
``subprocess.Popen`` needs to start a process confined (the uid and gid, no supplementary
groups, and a Landlock ruleset applied in the child before ``exec``).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mvi.manager.supervision import landlock
from mvi.manager.supervision.isolation import (
    Confinement,
    IsolationChoice,
    IsolationMode,
    choose_isolation,
)

__all__ = [
    "detect_isolation",
    "interpreter_folders",
    "prepare",
    "reachable_by_others",
    "spawn_options",
]


def reachable_by_others(path: Path) -> bool:
    """Whether a user who is neither the owner nor in the group can search every folder
    above ``path`` (and ``path`` itself, when it is a folder that exists)."""
    path = path.resolve()
    for folder in [*reversed(path.parents), path]:
        try:
            mode = folder.stat().st_mode
        except FileNotFoundError:
            return True  # made by the manager, searchable when it needs to be
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return False
    return True


def detect_isolation(requested: str, data_dir: Path, needed: Iterable[Path]) -> IsolationChoice:
    """The isolation in force on this machine for ``requested`` (``MVI_MANAGER_ISOLATION``);
    ``needed`` are the folders every version must read (its interpreter, the SDK)."""
    searchable = reachable_by_others(data_dir.parent) and all(
        reachable_by_others(path) for path in needed
    )
    return choose_isolation(
        requested,
        is_root=os.geteuid() == 0,
        landlock_abi=landlock.abi_version(),
        data_dir_searchable=searchable,
    )


def interpreter_folders() -> list[Path]:
    """Where the manager's Python lives (what a version's environment links to)."""
    return sorted({Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent.parent})


def _chown_tree(root: Path, uid: int) -> None:
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.lchown(os.path.join(folder, name), uid, uid)
        os.chmod(folder, 0o700)
    os.lchown(root, uid, uid)


def prepare(confinement: Confinement | None) -> None:
    """Make the folders ready for a start: the version's own given to its uid (0700), the
    folders on the way to them searchable by others."""
    if confinement is None:
        return
    for path in confinement.owned:
        path.mkdir(parents=True, exist_ok=True)
    if confinement.uid is None:
        return
    for folder in confinement.searchable:
        mode = stat.S_IMODE(folder.stat().st_mode)
        if not mode & stat.S_IXOTH:
            os.chmod(folder, mode | stat.S_IXOTH)
    for path in confinement.owned:
        _chown_tree(path, confinement.uid)


def spawn_options(confinement: Confinement | None) -> tuple[dict[str, Any], Callable[[], None]]:
    """The ``Popen`` arguments that start a process confined, and what releases them after
    the start (the ruleset's descriptor)."""
    if confinement is None or confinement.mode == IsolationMode.NONE:
        return {}, lambda: None
    if confinement.mode == IsolationMode.USER:
        assert confinement.uid is not None
        uid = confinement.uid
        return {"user": uid, "group": uid, "extra_groups": []}, lambda: None
    abi = landlock.abi_version()
    if abi is None:
        raise OSError("this kernel has no Landlock; start the manager with another isolation")
    ruleset = landlock.Ruleset.build(confinement.readable, confinement.writable, abi)
    return {"preexec_fn": ruleset.restrict_self}, ruleset.close
