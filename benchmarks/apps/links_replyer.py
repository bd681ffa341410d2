"""The replyer of ``python -m benchmarks.links``: echoes each request (a seed 004 file)."""

from __future__ import annotations

from typing import Any

SPEC: dict[str, Any] = {"item": str, "quantity": int, "price": float}


def on_request(args: dict[str, Any], to_send: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Answer with the request itself."""
    return args


connection_models = {
    "in": {
        "reply": {
            "connection_type": "replyer",
            "required_creation_arguments": {"connection_function": on_request},
            "required_arguments": SPEC,
            "required_return_arguments": SPEC,
        },
    },
}
