"""Ray's environment, made safe before anything imports ``ray``.

Out of the box Ray probes cloud metadata (169.254.169.254), posts a usage report even with
usage stats "disabled", binds the host's non-loopback address, and writes an auth token into
the real HOME. :func:`ray_environ` gives the variables that prevent each; :func:`prepare`
writes them into this process's environment (Ray reads them there, in this process and in
every process it starts) after making the HOME Ray gets, with its
``ray_bootstrap_config.yaml`` (``provider: type: local``: no cloud to look for).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["BOOTSTRAP_CONFIG", "new_token", "prepare", "ray_environ"]

BOOTSTRAP_CONFIG = "provider:\n  type: local\n"
"""What ``ray_bootstrap_config.yaml`` in Ray's HOME says."""


def new_token() -> str:
    """A random cluster token (``RAY_AUTH_TOKEN``)."""
    return secrets.token_hex(32)


def ray_environ(home: Path, token: str) -> dict[str, str]:
    """The variables every Ray process of mvi runs with (HOME ``home``, token ``token``)."""
    if not token:
        raise ValueError("a Ray cluster token is required (MVI_MANAGER_RAY_AUTH_TOKEN)")
    return {
        "HOME": str(home),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
    }


def prepare(home: Path, token: str) -> dict[str, str]:
    """Make Ray's HOME and set :func:`ray_environ` in ``os.environ``; call it before the
    first ``import ray``. Returns the variables set."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = home / "ray_bootstrap_config.yaml"
    if not config.is_file() or config.read_text() != BOOTSTRAP_CONFIG:
        config.write_text(BOOTSTRAP_CONFIG)
    values = ray_environ(home, token)
    os.environ.update(values)
    return values
