"""One link service at run time: the seed's workflow, step by step.

1. the service file was read (:class:`~mvi.links.models.definition.LinkDefinition`);
2. config: the file, environment variables, extra arguments, ``setup_config``, checked;
3. addresses: loaded, ``setup_addresses(addresses, config)`` if present, checked;
4. connections: ``setup_connections(config)`` gives their arguments, checked; then built;

   (every problem of 2-4 is raised at once, before any socket exists)

5. signal handlers (SIGTERM, SIGINT: the service's handler, then a graceful stop);
6. ``init_function(to_send, config)``;
7. ``main(to_send, config)`` in main mode, else the service loop: one poll of every
   inbound socket, with a timeout (``SLICE``), no busy loop; a turn that handled
   messages is followed by a pause, so that ``min_wait`` seconds at least pass between the
   starts of two such turns (``-wt``); a replyer then answers one request a turn (its
   answer lets the requester send the next one at once: it waits for the next turn).

Closing gives each socket ``MVI_LINK_LINGER`` seconds at most to send what is queued.
"""

from __future__ import annotations

import copy
import logging
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, Literal

import zmq

from mvi._exceptions import InvalidMessage, LinkClosed, LinkError
from mvi.links.connections import (
    CONNECTION_CLASSES,
    Connection,
    Inbound,
    Outbound,
    resolve_target,
)
from mvi.links.connections.base import SLICE
from mvi.links.curve import CurveGuard
from mvi.links.logs import get_logger
from mvi.links.models.addresses import check_addresses
from mvi.links.models.config import build_config
from mvi.links.models.definition import LinkDefinition, raise_problems
from mvi.settings import ServiceSettings, get_settings

__all__ = ["ServiceRuntime", "State"]

State = Literal["starting", "ready", "stopping", "stopped", "failed"]


class _Stopping(BaseException):
    """Unwinds ``main`` or ``init_function`` when the service is asked to stop (control
    flow, like ``KeyboardInterrupt``: no error, and not caught by ``except Exception``)."""


class ServiceRuntime:
    """A service file's definition, configured and connected, ready to run."""

    def __init__(
        self,
        definition: LinkDefinition,
        *,
        config: Mapping[str, Any] | None = None,
        addresses: Mapping[str, Any] | None = None,
        extra_config: Mapping[str, Any] | None = None,
        main_mode: bool = False,
        min_wait: float = 0.0,
        settings: ServiceSettings | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.definition = definition
        self.module = definition.module
        self.name = definition.name
        self.main_mode = main_mode
        self.min_wait = max(0.0, float(min_wait))
        self.settings: ServiceSettings = settings or get_settings()
        self.log = log or get_logger()
        self.config: dict[str, Any] = {}
        self.state: State = "starting"
        self.connections: dict[str, Connection] = {}
        self._config_source = config
        self._addresses_source = addresses
        self._extra = extra_config
        self._urls: dict[str, list[str]] = {}
        self._arguments: dict[str, dict[str, Any]] = {}
        self._out: dict[str, Outbound] = {}
        self._in: dict[str, Inbound] = {}
        self._context: zmq.Context[Any] | None = None
        self._curve: CurveGuard | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._stop_requested = False
        self._closed = False
        self._unwind = False
        self._signalled = False
        self._previous: dict[int, Any] = {}
        self._pipe_lock = threading.Lock()

    # -- steps 2-4: config, addresses, connection arguments ------------------------------
    def prepare(self, without_socket: tuple[str, ...] = ()) -> None:
        """Config, addresses and connection arguments, checked: one
        :class:`mvi.links.LinkDefinitionError` lists every problem."""
        problems: list[str] = []
        functions = self.definition.functions
        self.config = build_config(self.definition, self._config_source, self._extra, problems)
        addresses: Any = copy.deepcopy(dict(self._addresses_source or {}))
        if "setup_addresses" in functions:
            try:
                addresses = functions["setup_addresses"](addresses, self.config)
            except Exception as exc:
                problems.append(f"setup_addresses failed: {type(exc).__name__}: {exc}")
            if not isinstance(addresses, Mapping):
                problems.append("setup_addresses must return the addresses (a dict)")
                addresses = {}
        self._urls, found = check_addresses(
            addresses,
            self.definition.connections,
            main_mode=self.main_mode,
            without_socket=without_socket,
        )
        problems += found
        self._arguments = self._connection_arguments(problems)
        if self.main_mode and "main" not in functions:
            problems.append("main mode needs a function main(to_send, config) in the file")
        raise_problems(f"the link service {self.name!r}", problems)

    def _connection_arguments(self, problems: list[str]) -> dict[str, dict[str, Any]]:
        given: Any = {}
        if "setup_connections" in self.definition.functions:
            try:
                given = self.definition.functions["setup_connections"](self.config) or {}
            except Exception as exc:
                problems.append(f"setup_connections failed: {type(exc).__name__}: {exc}")
        if not isinstance(given, Mapping):
            problems.append("setup_connections must return {connection name: {argument: value}}")
            given = {}
        connections = self.definition.connections
        for name in sorted(set(given) - set(connections)):
            problems.append(f"setup_connections: the service has no connection {name!r}")
        arguments: dict[str, dict[str, Any]] = {}
        for name, model in connections.items():
            try:
                arguments[name] = model.connection_arguments.validate(given.get(name) or {})
            except InvalidMessage as exc:
                problems.extend(
                    f"connection {name!r}: connection argument {field!r}: {message}"
                    for field, message in exc.errors
                )
            if model.kind.name == "external_target":
                try:
                    resolve_target(self.module, model.creation.get("target"))
                except ValueError as exc:
                    problems.append(f"connection {name!r}: {exc}")
        return arguments

    # -- building and opening the connections --------------------------------------------
    def build(self, replacements: Mapping[str, Connection] | None = None) -> None:
        """Make the connection objects (``replacements`` for inline relations)."""
        replacements = replacements or {}
        for name, model in self.definition.connections.items():
            connection = replacements.get(name) or CONNECTION_CLASSES[model.kind.name](
                model, self._arguments.get(name, {}), self._urls.get(name, []), self
            )
            self.connections[name] = connection
            if isinstance(connection, Outbound):
                self._out[name] = connection
            elif isinstance(connection, Inbound):
                self._in[name] = connection

    def open(self, names: tuple[str, ...] | None = None) -> None:
        """Open the connections (all, or those named), in the thread that will use them."""
        try:
            for name, connection in self.connections.items():
                if names is None or name in names:
                    connection.open()
        except BaseException:
            self.close()
            raise

    def connection_arguments(self, name: str) -> dict[str, Any]:
        """The checked connection arguments of one connection."""
        return self._arguments.get(name, {})

    # -- what connections need (the Host protocol) ----------------------------------------
    def zmq_context(self) -> zmq.Context[Any]:
        """This service's own ZeroMQ context (made on first use)."""
        if self._context is None:
            self._context = zmq.Context()
        return self._context

    def curve(self) -> CurveGuard:
        """The CURVE setup of this service's context."""
        if self._curve is None:
            self._curve = CurveGuard(self.zmq_context())
        return self._curve

    def check_running(self) -> None:
        """Raise if the service stopped, or unwind the caller if it is stopping."""
        if self._closed:
            raise LinkClosed(f"the link service {self.name!r} has stopped; to_send works no more")
        if self._stop_requested:
            raise _Stopping

    def to_send(self, connection_name: str, args: Any) -> Any:
        """Send ``args`` on the out connection ``connection_name``; its answer, if any."""
        connection = self._out.get(connection_name)
        if connection is None:
            self.check_running()
            raise LinkError(
                f"to_send: the service {self.name!r} has no out connection "
                f"{connection_name!r}; it has {sorted(self._out) or 'none'}"
            )
        return connection.send(args)

    # -- steps 5-7 -------------------------------------------------------------------------
    def install_signals(self) -> None:
        """SIGTERM and SIGINT run the service's handler, then stop it (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGTERM, signal.SIGINT):
            self._previous[number] = signal.signal(number, self._on_signal)

    def restore_signals(self) -> None:
        """Put back the signal handlers that were there before."""
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        if self._signalled:
            return
        self._signalled = True
        name = "sigterm_handler" if number == signal.SIGTERM else "sigint_handler"
        self.log.info("got %s: stopping", signal.Signals(number).name)
        handler = self.definition.functions.get(name)
        if handler is not None:
            try:
                handler(number, frame, self.to_send, self.config)
            except _Stopping:
                pass
            except Exception:
                self.log.exception("%s raised", name)
        self.stop()
        if self._unwind:
            raise _Stopping

    def _unwinding(self, function: Callable[..., Any]) -> bool:
        """Run ``function(to_send, config)``; False when it was stopped."""
        self._unwind = True
        try:
            function(self.to_send, self.config)
        except _Stopping:
            return False
        finally:
            self._unwind = False
        return True

    def run_init(self) -> bool:
        """``init_function(to_send, config)``; False when a stop interrupted it."""
        function = self.definition.functions.get("init_function")
        return function is None or self._unwinding(function)

    def run_main(self) -> None:
        """``main(to_send, config)``, to its end or until the service is stopped."""
        self.state = "ready"
        self._unwinding(self.definition.functions["main"])

    def serve(self) -> None:
        """The service loop, until :meth:`stop`."""
        inbound = [c for c in self._in.values() if c.socket is not None]
        if self.min_wait:
            for connection in inbound:
                if connection.answers:  # its sender's next message is the next turn's
                    connection.batch = 1
        self.state = "ready"
        try:
            if len(inbound) == 1:
                self._serve_one(inbound[0])
            else:
                self._serve_many(inbound)
        except _Stopping:
            pass

    def _serve_one(self, only: Inbound) -> None:
        assert only.socket is not None
        only.socket.rcvtimeo = int(SLICE * 1000)
        while not self._stop_requested:
            came = self._turn(only, only.wait_and_take)
            started = time.monotonic()
            if came:
                self._pause(started)

    def _serve_many(self, inbound: list[Inbound]) -> None:
        poller = zmq.Poller()
        by_socket: dict[Any, Inbound] = {}
        for connection in inbound:
            poller.register(connection.socket, zmq.POLLIN)
            by_socket[connection.socket] = connection
        while not self._stop_requested:
            if not by_socket:  # zmq_poll of nothing returns at once: wait for a stop
                select.select([self._wake_r], [], [], SLICE)
                continue
            events = poller.poll(int(SLICE * 1000))
            started = time.monotonic()  # a turn starts when there is work
            for ready, _ in events:
                connection = by_socket[ready]
                self._turn(connection, connection.on_readable)
            if events:
                self._pause(started)

    def _turn(self, connection: Inbound, work: Callable[[], Any]) -> Any:
        try:
            return work()
        except Exception:  # never the end of the service: log, go on
            connection.count_error("failed")
            self.log.exception("connection %r failed", connection.name)
            return True

    def _pause(self, started: float) -> None:
        """``min_wait`` seconds at least between the starts of two turns with work."""
        if self.min_wait:
            left = self.min_wait - (time.monotonic() - started)
            if left > 0 and not self._stop_requested:
                select.select([self._wake_r], [], [], left)

    def stop(self) -> None:
        """Ask the service to stop (from any thread, or a signal handler)."""
        if self._stop_requested:
            return
        self._stop_requested = True
        if self.state == "ready":
            self.state = "stopping"
        # never blocks: a signal may interrupt close() in this same thread, holding the lock
        if self._pipe_lock.acquire(blocking=False):
            try:
                if not self._closed:
                    os.write(self._wake_w, b"x")
            except OSError:  # the pipe is full: it is awake anyway
                pass
            finally:
                self._pipe_lock.release()

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for."""
        return self._stop_requested

    def close(self) -> None:
        """Close every socket (bounded linger) and the context; to_send then raises."""
        if self._closed:
            return
        self._stop_requested = True
        for connection in self.connections.values():
            try:
                connection.close()
            except Exception:
                self.log.exception("closing connection %r failed", connection.name)
        if self._curve is not None:
            self._curve.close()
        if self._context is not None:
            self._context.destroy(linger=int(self.settings.link_linger * 1000))
            self._context = None
        with self._pipe_lock:
            self._closed = True
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
        if self.state != "failed":
            self.state = "stopped"
