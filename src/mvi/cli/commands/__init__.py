"""The ``mvi`` commands; each sibling module registers its own on the shared app."""

from __future__ import annotations

from mvi.cli.commands import (  # noqa: F401  (importing registers the commands)
    auth,  # mvi login, logout, token create|ls|revoke
    cluster,  # mvi scale, node start, export k8s
    deploy,  # mvi deploy
    links,  # mvi link (seed 004's link services)
    manager,  # mvi manager start
    notifications,  # mvi notifications
    project,  # mvi init, run, test
    rollout,  # mvi shadow, shadow-report, rollback
    services,  # mvi ls, logs, stop, start, restart, assign, kill, call
)

__all__: list[str] = []
