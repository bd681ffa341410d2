"""Landlock rulesets through the raw system calls (Linux 5.13+, x86_64 and aarch64).

:func:`abi_version` says which Landlock ABI the kernel has (``None``: none).
:class:`Ruleset` is built in the manager (the paths opened there, ``O_PATH``) and applied
by :meth:`Ruleset.restrict_self` in the forked child just before ``exec``: two system
calls, nothing that allocates or takes a lock. Once applied, a ruleset cannot be undone by
the process or anything it starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
from collections.abc import Iterable
from pathlib import Path

__all__ = ["Ruleset", "abi_version"]

_SYSCALLS = {  # landlock_create_ruleset, landlock_add_rule, landlock_restrict_self
    "x86_64": (444, 445, 446),
    "aarch64": (444, 445, 446),
}
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# filesystem rights, by the ABI that brought them
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_ABI1 = (1 << 13) - 1  # execute .. make_sym
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_prctl = _libc.prctl
_prctl.restype = ctypes.c_int
_capset = _libc.capset
_capset.restype = ctypes.c_int


def _last_capability() -> int:
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return 63


def abi_version() -> int | None:
    """The kernel's Landlock ABI (1 and up), or ``None`` when it has none."""
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        return None
    abi = _syscall(ctypes.c_long(numbers[0]), None, ctypes.c_size_t(0),
                   ctypes.c_uint32(_CREATE_RULESET_VERSION))  # fmt: skip
    return int(abi) if abi > 0 else None


def _handled(abi: int) -> int:
    rights = _ABI1
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


class Ruleset:
    """A Landlock ruleset: read (and execute) ``readable``, everything in ``writable``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._last_cap = _last_capability()
        self._cap_header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        self._cap_data = (_CapData * 2)()

    @classmethod
    def build(cls, readable: Iterable[Path], writable: Iterable[Path], abi: int) -> Ruleset:
        """The ruleset of those paths (those that do not exist are left out); raises
        ``OSError`` when the kernel refuses it."""
        numbers = _SYSCALLS[platform.machine()]
        handled = _handled(abi)
        attr = _RulesetAttr(handled, 0, 0)
        size = ctypes.sizeof(_RulesetAttr)
        if abi >= 6:
            attr.scoped = _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX_SOCKET
        else:
            size = 16 if abi >= 4 else 8  # the struct as those ABIs know it
        fd = _syscall(ctypes.c_long(numbers[0]), ctypes.byref(attr), ctypes.c_size_t(size),
                      ctypes.c_uint32(0))  # fmt: skip
        if fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"landlock_create_ruleset: {os.strerror(error)}")
        ruleset = cls(int(fd))
        try:
            read_rights = _EXECUTE | _READ_FILE | _READ_DIR | (_IOCTL_DEV if abi >= 5 else 0)
            for path in readable:
                ruleset._allow(numbers[1], path, read_rights, handled)
            for path in writable:
                ruleset._allow(numbers[1], path, handled, handled)
        except BaseException:
            ruleset.close()
            raise
        return ruleset

    def _allow(self, number: int, path: Path, rights: int, handled: int) -> None:
        try:
            target = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return  # not on this machine: nothing to allow
        try:
            if not os.path.isdir(f"/proc/self/fd/{target}"):
                rights &= _FILE_RIGHTS
            rule = _PathBeneathAttr(rights & handled, target)
            done = _syscall(ctypes.c_long(number), ctypes.c_int(self.fd),
                            ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule),
                            ctypes.c_uint32(0))  # fmt: skip
            if done < 0:
                error = ctypes.get_errno()
                raise OSError(error, f"landlock_add_rule {path}: {os.strerror(error)}")
        finally:
            os.close(target)

    def restrict_self(self) -> None:
        """Confine the calling process (and all it starts) to the ruleset; for the child
        between ``fork`` and ``exec`` (raises ``OSError`` if the kernel refuses).

        A child of a manager that runs as root also loses every capability, for good (its
        bounding set is emptied), so that being root does not get it around the ruleset
        (``CAP_SYS_PTRACE`` would let it read the manager's memory and environment)."""
        if os.geteuid() == 0:
            for cap in range(self._last_cap + 1):
                if _prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {cap}) failed")
            if _capset(ctypes.byref(self._cap_header), self._cap_data) != 0:
                raise OSError(ctypes.get_errno(), "capset failed")
        if _prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        number = _SYSCALLS[platform.machine()][2]
        if _syscall(ctypes.c_long(number), ctypes.c_int(self.fd), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")

    def close(self) -> None:
        """Release the ruleset's descriptor (the processes it confines stay confined)."""
        with contextlib.suppress(OSError):
            os.close(self.fd)
