"""The manager's REST API under ``/api`` (documented at ``/docs``)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, params

from mvi.manager.api import auth, notifications, rollout, services, system

__all__ = ["api_router"]


def api_router(dependencies: Sequence[params.Depends] = ()) -> APIRouter:
    """Every API route under ``/api``, each guarded by ``dependencies`` (e.g. auth)."""
    router = APIRouter(prefix="/api", dependencies=list(dependencies))
    router.include_router(rollout.router)  # before services: see mvi.manager.api.rollout
    router.include_router(services.router)
    router.include_router(system.router)
    router.include_router(auth.router)
    router.include_router(notifications.router)
    return router
