"""Subscribers count the publications they missed, per publisher."""

from __future__ import annotations

import pytest

from mvi.links.connections import SequenceTracker


@pytest.mark.parametrize(
    ("sequences", "gaps"),
    [
        ([1, 2, 3], 0),
        ([1, 2, 5], 2),
        ([4, 5], 3),  # a late joiner missed 1-3
        ([1, 3, 2, 4], 1),  # out of order: counted once, nothing for the late one
        ([1, 1, 2], 0),  # a repeat
        ([1, 1000], 998),
    ],
)
def test_gaps_are_what_the_sequence_skipped(sequences: list[int], gaps: int) -> None:
    tracker = SequenceTracker()
    for sequence in sequences:
        tracker.see(b"p" * 8, sequence)
    assert tracker.gaps == gaps


def test_each_publisher_has_its_own_sequence() -> None:
    tracker = SequenceTracker()
    assert [tracker.see(b"a" * 8, 1), tracker.see(b"b" * 8, 1), tracker.see(b"a" * 8, 3)] == [
        0,
        0,
        1,
    ]


def test_a_restarted_publisher_is_a_new_one_and_old_ones_are_forgotten() -> None:
    tracker = SequenceTracker(publishers=2)
    tracker.see(b"a" * 8, 10)  # 9 missed before joining
    tracker.see(b"b" * 8, 1)
    tracker.see(b"c" * 8, 1)  # forgets a
    assert list(tracker.last) == [b"b" * 8, b"c" * 8]
    assert tracker.gaps == 9
