"""The subscriber of ``python -m benchmarks.links``: counts publications and prints their
rate once ``expected`` have arrived (a seed 004 file)."""

from __future__ import annotations

import json
import time
from typing import Any

SPEC: dict[str, Any] = {"item": str, "quantity": int, "price": float}
_seen = {"count": 0, "first": 0.0}


def on_tick(args: dict[str, Any], to_send: Any, config: dict[str, Any]) -> None:
    """Count publications; print the rate once ``expected`` have arrived."""
    _seen["count"] += 1
    if _seen["count"] == 1:
        _seen["first"] = time.perf_counter()
    elif _seen["count"] == config["expected"]:
        elapsed = time.perf_counter() - _seen["first"]
        print(json.dumps({"received": _seen["count"], "seconds": elapsed}), flush=True)


config_model = {"optional": {"expected": int}}

connection_models = {
    "in": {
        "listen": {
            "connection_type": "subscriber",
            "required_creation_arguments": {"connection_function": on_tick},
            "required_arguments": SPEC,
        },
    },
}
