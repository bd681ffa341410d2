"""The transport's limits come from the MVI_* settings, and keyword arguments win."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mvi.settings import reload_settings
from mvi.transport.framing import frame_limit
from mvi.transport.rpc import SocketApplication, SocketClient, make_server


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    reload_settings()


def test_the_frame_limit_defaults_to_the_body_limit(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("MVI_MAX_BODY_BYTES", "5000")
    reload_settings()
    assert frame_limit() == 5000
    environ.setenv("MVI_RPC_MAX_FRAME_BYTES", "7000")
    reload_settings()
    assert frame_limit() == 7000


def test_the_server_reads_its_defaults_from_the_settings(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("MVI_RPC_MAX_FRAME_BYTES", "9000")
    environ.setenv("MVI_RPC_BACKLOG", "17")
    environ.setenv("MVI_RPC_WRITE_BUFFER_BYTES", "65536")
    environ.setenv("MVI_GRACEFUL_TIMEOUT", "3")
    reload_settings()
    server = make_server(SocketApplication(), port=1)
    assert (server.max_frame_bytes, server.backlog) == (9000, 17)
    assert (server.write_buffer_bytes, server.graceful_timeout) == (65536, 3)
    assert b"max_frame_bytes" in server.hello  # what the HELLO frame tells clients
    given = make_server(SocketApplication(), port=1, backlog=3, max_frame_bytes=100)
    assert (given.backlog, given.max_frame_bytes) == (3, 100)
    assert SocketClient(port=1).pool.limit == 9000


def test_a_bad_setting_is_refused(environ: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    environ.setenv("MVI_RPC_BACKLOG", "0")
    with pytest.raises(ValidationError, match="rpc_backlog"):
        reload_settings()
