"""The git checkout behind ``mvi deploy --git URL [--ref REF]``.

The CLI clones, never the manager: ``git clone`` runs here, in a temporary folder, with the
user's own git configuration and credentials (ssh agent, credential helpers), so the
manager never fetches a URL it is given. :func:`checkout` clones the URL (any address git
can reach: a local path, ``file://``, ``https://``, ``ssh://`` or ``user@host:repo``),
resolves the ref (a branch, a tag or a commit id; default: the remote's default branch),
checks that commit out and removes ``.git``, so the folder is packed like any other
project. git runs without a terminal prompt and within ``MVI_CLI_GIT_TIMEOUT``; every
failure is a :class:`~mvi.GitSourceError` quoting git.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mvi._exceptions import GitSourceError
from mvi.manager.sources import GitSource, public_url

__all__ = ["Checkout", "checkout"]

_ENV = {
    "GIT_TERMINAL_PROMPT": "0",  # fail rather than wait for a password nobody types
    "LC_ALL": "C",
}


@dataclass(frozen=True)
class Checkout:
    """A checked-out commit: its folder (without ``.git``) and where it came from."""

    path: Path
    source: GitSource


def _git(args: list[str], cwd: Path | None, timeout: float, what: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise GitSourceError("`mvi deploy --git` needs the git command; install git")
    try:
        done = subprocess.run(
            [git, *args],
            cwd=cwd,
            env={**os.environ, **_ENV},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise GitSourceError(
            f"git took over {timeout:g} s to {what}; check the URL and the network, "
            "or raise MVI_CLI_GIT_TIMEOUT"
        ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        said = "; ".join(lines[-3:]) or f"exit status {done.returncode}"
        raise GitSourceError(f"git could not {what}: {said}")
    return done.stdout.strip()


def _url_of(url: str) -> str:
    """What git is given: a local folder as its absolute path, anything else as it is."""
    local = Path(url).expanduser()
    if "://" not in url and local.exists():
        return str(local.resolve())
    return url


def checkout(url: str, ref: str | None, into: Path, timeout: float) -> Checkout:
    """Clone ``url`` into the new folder ``into``, check out ``ref`` and drop ``.git``.

    Raises :class:`GitSourceError` (nothing is left in ``into``) when the URL or ref is
    refused or unknown, or git fails or takes longer than ``timeout`` seconds.
    """
    if not url or url.startswith("-"):
        raise GitSourceError(f"{url!r} is not a git URL; give a path, file:// or a remote URL")
    if ref is not None and (not ref or ref.startswith("-") or not ref.isprintable()):
        raise GitSourceError(f"{ref!r} is not a git ref; give a branch, tag or commit id")
    target = _url_of(url)
    shown = public_url(url)
    try:
        _git(["clone", "--quiet", "--no-checkout", "--", target, str(into)], None, timeout,
             f"clone {shown}")  # fmt: skip
        commit = _resolve(into, ref, timeout, shown)
        _git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit],
             into, timeout, f"check out {commit}")  # fmt: skip
        shutil.rmtree(into / ".git")
    except BaseException:
        shutil.rmtree(into, ignore_errors=True)
        raise
    return Checkout(into, GitSource(public_url(target), ref, commit))


def _resolve(repo: Path, ref: str | None, timeout: float, shown: str) -> str:
    """The full commit id ``ref`` names in the clone (a remote branch counts)."""
    if ref is None:
        candidates = ["HEAD"]
    else:
        candidates = [ref, f"refs/remotes/origin/{ref}", f"refs/tags/{ref}"]
    for candidate in candidates:
        try:
            return _git(
                ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}"],
                repo,
                timeout,
                f"resolve {candidate}",
            )
        except GitSourceError:
            continue
    if ref is None:
        raise GitSourceError(f"{shown} has no commits on its default branch; give --ref")
    raise GitSourceError(
        f"{shown} has no branch, tag or commit {ref!r}; check --ref "
        "(`git ls-remote URL` lists the branches and tags)"
    )
