"""How a batch of rows is split into multi-row INSERT statements."""

from __future__ import annotations

import pytest

from mvi.monitoring.database import CHUNK_ROWS, chunk_sizes


@pytest.mark.parametrize(
    ("rows", "sizes"),
    [
        (0, []),
        (1, [1]),
        (3, [2, 1]),
        (CHUNK_ROWS, [CHUNK_ROWS]),
        (CHUNK_ROWS + 5, [CHUNK_ROWS, 4, 1]),
        (3 * CHUNK_ROWS - 1, [CHUNK_ROWS, CHUNK_ROWS, 64, 32, 16, 8, 4, 2, 1]),
    ],
)
def test_a_batch_is_split_into_full_chunks_then_powers_of_two(rows: int, sizes: list[int]) -> None:
    assert list(chunk_sizes(rows)) == sizes


def test_any_batch_uses_only_a_few_distinct_statements() -> None:
    seen = {size for rows in range(5000) for size in chunk_sizes(rows)}
    assert seen <= {CHUNK_ROWS} | {1 << bit for bit in range(CHUNK_ROWS.bit_length())}
    assert sum(chunk_sizes(4321)) == 4321
