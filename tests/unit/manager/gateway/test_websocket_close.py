"""``relayed_close``: the close code and reason the gateway sends on to the other side."""

from __future__ import annotations

import pytest

from mvi.manager.gateway.websocket import relayed_close


@pytest.mark.parametrize(
    ("code", "reason", "relayed"),
    [
        (1000, "bye", (1000, "bye")),
        (4001, "app code", (4001, "app code")),
        (1009, "", (1009, "")),
        (None, "", (1000, "")),
        (1005, "", (1000, "")),
        (1006, "", (1011, "")),
        (1015, "", (1011, "")),
        (999, "", (1011, "")),
        (1000, "é" * 100, (1000, "é" * 61)),
    ],
    ids=[
        "normal",
        "app-code",
        "too-big",
        "none",
        "no-status",
        "abnormal",
        "tls",
        "invalid",
        "long-reason",
    ],
)
def test_relayed_close(code: int | None, reason: str, relayed: tuple[int, str]) -> None:
    assert relayed_close(code, reason) == relayed
