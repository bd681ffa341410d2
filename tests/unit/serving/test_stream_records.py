"""The records of a streamed answer: NDJSON lines and server-sent events."""

from __future__ import annotations

import pytest

from mvi.serving.streaming import NDJSON_TYPE, SSE_TYPE, encode_record


@pytest.mark.parametrize(
    ("media", "event", "expected"),
    [
        (NDJSON_TYPE, None, b'{"a":1}\n'),
        (SSE_TYPE, None, b'data: {"a":1}\n\n'),
        (SSE_TYPE, "error", b'event: error\ndata: {"a":1}\n\n'),
    ],
)
def test_records_are_ndjson_lines_or_sse_events(
    media: str, event: str | None, expected: bytes
) -> None:
    assert encode_record(media, b'{"a":1}', event) == expected
