"""Helpers of the links integration tests: service files from text, clients, services."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from mvi.links import LinkService
from mvi.links.models.definition import LinkDefinition, load_module
from mvi.links.runtime import ServiceRuntime
from mvi.settings import ServiceSettings

FAST = ServiceSettings(
    link_request_timeout=0.5, link_request_retries=1, link_linger=0.2, link_subscriber_wait=5
)
"""Short timeouts, so that failing paths fail fast."""


def service_file(folder: Path, name: str, text: str) -> Path:
    """Write a service file; its path."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def module(folder: Path, name: str, text: str) -> ModuleType:
    """Write and import a service file."""
    return load_module(service_file(folder, name, text))


@contextmanager
def client(
    source: ModuleType,
    addresses: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    settings: ServiceSettings = FAST,
) -> Iterator[ServiceRuntime]:
    """A service's out connections, opened here: call ``to_send`` on what it yields."""
    runtime = ServiceRuntime(
        LinkDefinition.from_module(source), config=config, addresses=addresses, settings=settings
    )
    try:
        runtime.prepare()
        runtime.build()
        runtime.open()
        yield runtime
    finally:
        runtime.close()


@contextmanager
def running(
    source: ModuleType,
    addresses: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    settings: ServiceSettings = FAST,
    **options: Any,
) -> Iterator[LinkService]:
    """A link service running its loop in the background."""
    service = LinkService(
        service_module=source,
        config=config,
        addresses=addresses,
        settings=settings,
        configure_logs=False,
        **options,
    )
    service.run_service()
    try:
        yield service
    finally:
        service.stop_service()


def connection(service: LinkService, name: str) -> Any:
    """One connection of a running service (its counters)."""
    assert service.runtime is not None
    return service.runtime.connections[name]
