"""The client of ``python -m benchmarks.links`` (main mode): requests or publishes as fast
as it can (a seed 004 service file)."""

from __future__ import annotations

import time
from typing import Any

MESSAGE = {"item": "apple", "quantity": 3, "price": 1.25}
SPEC: dict[str, Any] = {"item": str, "quantity": int, "price": float}
RESULT: dict[str, float] = {}


def main(to_send: Any, config: dict[str, Any]) -> None:
    """Request for ``seconds`` (mode ``request``), or publish ``count`` messages."""
    if config["mode"] == "request":
        started = time.perf_counter()
        deadline = started + config["seconds"]
        count = 0
        while time.perf_counter() < deadline:
            for _ in range(100):
                to_send("echo", MESSAGE)
            count += 100
        RESULT["rate"] = count / (time.perf_counter() - started)
    else:
        time.sleep(config.get("wait", 0.0))  # the subscribers join (slow joiners)
        for _ in range(config["count"]):
            to_send("ticks", MESSAGE)


config_model = {
    "required": {"mode": str},
    "optional": {"seconds": float, "count": int, "wait": float},
}

connection_models = {
    "out": {
        "echo": {
            "connection_type": "requester",
            "required_arguments": SPEC,
            "required_return_arguments": SPEC,
        },
        "ticks": {
            "connection_type": "publisher",
            "required_arguments": SPEC,
        },
    },
}
