"""A link service as an object: run it in the background or blocking, stop it.

::

    from mvi.links import LinkService

    service = LinkService(service_path="./replyer.py", config={...}, addresses={...})
    service.run_service()            # in the background; returns once it serves
    service.stop_service()

    LinkService(service_module=module, ...).run_service_as_main_blocking()

The command line (``mvi link``, ``python -m mvi.links``) runs this class, blocking.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from mvi._exceptions import LinkDefinitionError, LinkError
from mvi.links.logs import configure_logging, get_logger
from mvi.links.metrics import LinkMetrics
from mvi.links.models.config import load_json
from mvi.links.models.definition import LinkDefinition
from mvi.links.runtime import ServiceRuntime, State
from mvi.links.status import StatusServer
from mvi.settings import ServiceSettings, get_settings

__all__ = ["LinkService"]

Source = Mapping[str, Any] | str | Path | None


def _loaded(value: Source, what: str) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    try:
        data = load_json(value, what)
    except ValueError as exc:
        raise LinkDefinitionError(str(exc), [str(exc)]) from None
    if not isinstance(data, Mapping):
        message = f"the {what} file {value} must hold a JSON object"
        raise LinkDefinitionError(message, [message])
    return data


class LinkService:
    """One link service: a service file (by path or module), its config and addresses.

    ``config`` and ``addresses`` are dicts, or paths of their JSON files; ``extra_config``
    are the command line's extra ``--key value`` pairs. The log arguments are those of
    the command line (``-cl``, ``-l``, ``-f``, ``-bc``); ``configure_logs=False`` leaves
    logging alone. ``http_port`` (or ``MVI_LINK_HTTP``, on ``MVI_PORT``) also serves
    ``/~health``, ``/~ready`` and ``/~metrics``.
    """

    def __init__(
        self,
        service_path: str | Path | None = None,
        service_module: ModuleType | None = None,
        config: Source = None,
        addresses: Source = None,
        console_loglevel: str = "INFO",
        log_path: str | Path | None = None,
        file_loglevel: str = "INFO",
        backup_count: int = 24,
        service_loop_min_wait_time: float = 0.0,
        *,
        extra_config: Mapping[str, Any] | None = None,
        http_port: int | None = None,
        settings: ServiceSettings | None = None,
        configure_logs: bool = True,
    ) -> None:
        if (service_path is None) == (service_module is None):
            message = "give the service file as service_path= or service_module= (one of them)"
            raise LinkDefinitionError(message, [message])
        self.service_path = service_path
        self.service_module = service_module
        self.config = _loaded(config, "config")
        self.addresses = _loaded(addresses, "addresses")
        self.extra_config = dict(extra_config or {})
        self.log_arguments: dict[str, Any] = {
            "console_loglevel": console_loglevel,
            "log_path": log_path,
            "file_loglevel": file_loglevel,
            "backup_count": backup_count,
        }
        self.min_wait = service_loop_min_wait_time
        self.settings: ServiceSettings = settings or get_settings()
        self.http_port = http_port
        self.configure_logs = configure_logs
        self.runtime: ServiceRuntime | None = None
        self.status: StatusServer | None = None
        self.metrics: LinkMetrics | None = None
        self.exception: BaseException | None = None
        """What ended the last background run, if it failed."""
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._lock = threading.Lock()

    @property
    def state(self) -> State:
        """``starting``, ``ready``, ``stopping``, ``stopped`` or ``failed``."""
        return self.runtime.state if self.runtime is not None else "starting"

    def _definition(self) -> LinkDefinition:
        if self.service_module is not None:
            return LinkDefinition.from_module(self.service_module)
        assert self.service_path is not None
        return LinkDefinition.from_path(self.service_path)

    def _run(self, main_mode: bool) -> None:
        runtime: ServiceRuntime | None = None
        try:
            name = Path(str(self.service_path)).stem if self.service_path else "service"
            if self.configure_logs:
                configure_logging(**self.log_arguments, name=name)
            definition = self._definition()
            runtime = ServiceRuntime(
                definition,
                config=self.config,
                addresses=self.addresses,
                extra_config=self.extra_config,
                main_mode=main_mode,
                min_wait=self.min_wait,
                settings=self.settings,
            )
            with self._lock:
                self.runtime = runtime
            runtime.prepare()
            runtime.build()
            runtime.open()
            self.metrics = LinkMetrics(definition.name, lambda: runtime.connections)
            self._serve_status(runtime)
            runtime.install_signals()
            self._started.set()
            if runtime.run_init() and not runtime.stopping:
                if main_mode:
                    runtime.run_main()
                else:
                    runtime.serve()
        except BaseException:
            if runtime is not None:
                runtime.state = "failed"
            raise
        finally:
            if runtime is not None:
                runtime.restore_signals()
                runtime.close()
            if self.status is not None:
                self.status.close()
                self.status = None

    def _serve_status(self, runtime: ServiceRuntime) -> None:
        if self.http_port is None and not self.settings.link_http:
            return
        port = self.settings.port if self.http_port is None else self.http_port
        metrics = self.metrics
        assert metrics is not None
        self.status = StatusServer(
            self.settings.host,
            port,
            self.settings.service_root_path,
            lambda: runtime.state,
            metrics.render,
        )
        self.status.start()
        get_logger().info("answering /~health, /~ready, /~metrics on port %d", self.status.port)

    def _background(self, main_mode: bool) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise LinkError("this link service is running already; stop_service() first")
        self.exception = None
        self._started.clear()
        failed_starting: list[BaseException] = []

        def run() -> None:
            try:
                self._run(main_mode)
            except BaseException as exc:
                self.exception = exc
                if not self._started.is_set():
                    failed_starting.append(exc)
                elif not isinstance(exc, LinkError):
                    get_logger().exception("the link service failed")
            finally:
                self._started.set()

        self._thread = threading.Thread(target=run, name="mvi-link-service", daemon=True)
        self._thread.start()
        self._started.wait()
        if failed_starting:
            raise failed_starting[0]

    def run_service(self) -> None:
        """Run the service loop in the background; returns once it is set up (raises
        :class:`mvi.links.LinkDefinitionError` listing every problem otherwise)."""
        self._background(main_mode=False)

    def run_service_as_main(self) -> None:
        """Run ``main`` (main mode) in the background; returns once it is set up."""
        self._background(main_mode=True)

    def run_service_blocking(self) -> None:
        """Run the service loop here until SIGTERM, SIGINT or :meth:`stop_service`."""
        self._run(main_mode=False)

    def run_service_as_main_blocking(self) -> None:
        """Run ``main(to_send, config)`` here until it returns (or a signal stops it)."""
        self._run(main_mode=True)

    def stop_service(self, timeout: float | None = None) -> None:
        """Stop the service and wait for it (``MVI_LINK_STOP_TIMEOUT`` seconds at most)."""
        with self._lock:
            runtime = self.runtime
        if runtime is not None:
            runtime.stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.settings.link_stop_timeout if timeout is None else timeout)
            if thread.is_alive():
                get_logger().warning(
                    "the link service did not stop in time (a handler or main still runs)"
                )

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background run to end; whether it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
