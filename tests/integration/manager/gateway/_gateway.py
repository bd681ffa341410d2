"""A real gateway in a uvicorn server on a loopback port, for the gateway's integration tests."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn
from tests.conftest import free_port

from mvi.manager.gateway.proxy import Gateway
from mvi.manager.gateway.routing import RoutingTable


class GatewayServer:
    """``Gateway(routes, **options)`` served by uvicorn in a thread."""

    def __init__(self, routes: RoutingTable, timeout: float, **options: Any) -> None:
        options.setdefault("max_connections", 20)
        self.gateway = Gateway(routes, timeout=timeout, **options)
        self.port = free_port()
        config = uvicorn.Config(
            self.gateway,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            proxy_headers=False,  # as `mvi manager start` runs it
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> GatewayServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
