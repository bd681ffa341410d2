"""Several link services in one thread, wired without sockets.

::

    inline = InlineServices()
    inline.set_main_service("requester", "./requester_service.py", {"num_req_to_send": 10})
    inline.add_service("replyer", "./replyer_service.py")
    inline.add_relation("requester", "request", "replyer", "reply")
    inline.start()      # runs the main service's main(); returns when it does

A relation joins an out connection to an in connection of another service: a requester
to a replyer, or a publisher to subscribers (one publisher may feed several). Messages
are checked on both sides exactly as over the network. Each service gets the seed's
workflow (config, addresses, connection arguments, init_function); the main service then
runs ``main``. Connections that are not related need addresses, as over the network
(pass ``addresses=``); inbound ones must be related, since no loop polls them here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from mvi._exceptions import LinkDefinitionError
from mvi.links.connections import (
    Connection,
    InlinePublisher,
    InlineRequester,
    Replyer,
    Subscriber,
)
from mvi.links.models.definition import LinkDefinition, raise_problems
from mvi.links.runtime import ServiceRuntime
from mvi.settings import ServiceSettings, get_settings

__all__ = ["InlineServices"]

_PAIRS = {("requester", "replyer"), ("publisher", "subscriber")}


@dataclass
class _Member:
    name: str
    definition: LinkDefinition
    config: Mapping[str, Any] | None
    addresses: Mapping[str, Any] | None
    runtime: ServiceRuntime | None = None
    related: set[str] = field(default_factory=set)


class InlineServices:
    """Link services run together in the calling thread (see the module docstring)."""

    def __init__(self, settings: ServiceSettings | None = None) -> None:
        self.settings: ServiceSettings = settings or get_settings()
        self.services: dict[str, _Member] = {}
        self.main_service: str | None = None
        self.relations: list[tuple[str, str, str, str]] = []

    def _add(
        self,
        name: str,
        definition: LinkDefinition,
        config: Mapping[str, Any] | None,
        addresses: Mapping[str, Any] | None,
    ) -> None:
        if name in self.services:
            message = f"an inline service is named {name!r} already"
            raise LinkDefinitionError(message, [message])
        self.services[name] = _Member(name, definition, config, addresses)

    def set_main_service(
        self,
        name: str,
        path: str | Path,
        config: Mapping[str, Any] | None = None,
        addresses: Mapping[str, Any] | None = None,
    ) -> None:
        """The service whose ``main`` runs, from its file."""
        self._add(name, LinkDefinition.from_path(path), config, addresses)
        self.main_service = name

    def set_main_service_by_module(
        self,
        name: str,
        module: ModuleType,
        config: Mapping[str, Any] | None = None,
        addresses: Mapping[str, Any] | None = None,
    ) -> None:
        """The service whose ``main`` runs, from an imported module."""
        self._add(name, LinkDefinition.from_module(module), config, addresses)
        self.main_service = name

    def add_service(
        self,
        name: str,
        path: str | Path,
        config: Mapping[str, Any] | None = None,
        addresses: Mapping[str, Any] | None = None,
    ) -> None:
        """Another service, from its file."""
        self._add(name, LinkDefinition.from_path(path), config, addresses)

    def add_service_by_module(
        self,
        name: str,
        module: ModuleType,
        config: Mapping[str, Any] | None = None,
        addresses: Mapping[str, Any] | None = None,
    ) -> None:
        """Another service, from an imported module."""
        self._add(name, LinkDefinition.from_module(module), config, addresses)

    def add_relation(
        self,
        requester_service: str,
        requester_connection: str,
        replyer_service: str,
        replyer_connection: str,
    ) -> None:
        """Wire an out connection of one service to an in connection of another."""
        problems = []
        for service, connection, side in (
            (requester_service, requester_connection, "out"),
            (replyer_service, replyer_connection, "in"),
        ):
            member = self.services.get(service)
            if member is None:
                problems.append(f"no inline service {service!r} (add it first)")
                continue
            model = member.definition.connections.get(connection)
            if model is None or model.side != side:
                problems.append(f"service {service!r} has no {side!r} connection {connection!r}")
        if not problems:
            out = self.services[requester_service].definition.connections[requester_connection]
            into = self.services[replyer_service].definition.connections[replyer_connection]
            if (out.kind.name, into.kind.name) not in _PAIRS:
                problems.append(
                    f"a {out.kind.name} cannot be related to a {into.kind.name} "
                    "(requester -> replyer, publisher -> subscriber)"
                )
            if out.kind.name == "requester" and any(
                (s, c) == (requester_service, requester_connection) for s, c, _, _ in self.relations
            ):
                problems.append(f"{requester_service}.{requester_connection} has a replyer already")
        raise_problems("the relation", problems)
        self.relations.append(
            (requester_service, requester_connection, replyer_service, replyer_connection)
        )
        self.services[requester_service].related.add(requester_connection)
        self.services[replyer_service].related.add(replyer_connection)

    def start(self) -> None:
        """Set every service up, run the main service's ``main``, then close them all."""
        if self.main_service is None:
            message = "set a main service first (set_main_service)"
            raise LinkDefinitionError(message, [message])
        try:
            self._prepare()
            self._build()
            main = self.services[self.main_service].runtime
            assert main is not None
            for member in self.services.values():
                assert member.runtime is not None
                if member.runtime is not main and not member.runtime.run_init():
                    return
            if main.run_init():
                main.run_main()
        finally:
            for member in self.services.values():
                if member.runtime is not None:
                    member.runtime.close()

    def _prepare(self) -> None:
        problems: list[str] = []
        for member in self.services.values():
            member.runtime = ServiceRuntime(
                member.definition,
                config=member.config,
                addresses=member.addresses,
                main_mode=member.name == self.main_service,
                settings=self.settings,
            )
            try:
                member.runtime.prepare(without_socket=tuple(member.related))
            except LinkDefinitionError as exc:
                problems.extend(f"{member.name}: {problem}" for problem in exc.problems)
                continue
            for model in member.definition.inbound():
                if model.name not in member.related:
                    problems.append(
                        f"{member.name}: in connection {model.name!r} has no relation "
                        "(add_relation), and nothing polls it inline"
                    )
        raise_problems("the inline services", problems)

    def _build(self) -> None:
        inbound: dict[tuple[str, str], Connection] = {}
        for member in self.services.values():
            assert member.runtime is not None
            for model in member.definition.inbound():
                kind = Replyer if model.kind.name == "replyer" else Subscriber
                inbound[(member.name, model.name)] = kind(
                    model, member.runtime.connection_arguments(model.name), [], member.runtime
                )
        replacements: dict[str, dict[str, Connection]] = {name: {} for name in self.services}
        for key, connection in inbound.items():
            replacements[key[0]][key[1]] = connection
        for out_service, out_name, in_service, in_name in self.relations:
            runtime = self.services[out_service].runtime
            assert runtime is not None
            model = self.services[out_service].definition.connections[out_name]
            target = inbound[(in_service, in_name)]
            arguments = runtime.connection_arguments(out_name)
            current = replacements[out_service].get(out_name)
            if isinstance(target, Replyer):
                replacements[out_service][out_name] = InlineRequester(
                    model, arguments, runtime, target
                )
            elif isinstance(current, InlinePublisher):
                current.targets.append(target)  # type: ignore[arg-type]
            else:
                assert isinstance(target, Subscriber)
                replacements[out_service][out_name] = InlinePublisher(
                    model, arguments, runtime, [target]
                )
        for member in self.services.values():
            assert member.runtime is not None
            member.runtime.build(replacements[member.name])
            unrelated = tuple(
                name for name in member.definition.connections if name not in member.related
            )
            member.runtime.open(unrelated)
