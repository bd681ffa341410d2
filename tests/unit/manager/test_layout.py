"""Which data directories the manager warns about (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvi.manager.layout import exposure_warning


@pytest.mark.parametrize("mode", [0o700, 0o711, 0o701, 0o710])
def test_a_directory_others_cannot_read_needs_no_warning(mode: int) -> None:
    assert exposure_warning(Path("/d"), mode) is None


@pytest.mark.parametrize("mode", [0o755, 0o744, 0o740, 0o704, 0o777])
def test_a_directory_others_can_read_is_named_with_its_mode_and_the_fix(mode: int) -> None:
    warning = exposure_warning(Path("/srv/mvi"), mode)
    assert warning is not None
    assert "/srv/mvi" in warning and f"{mode:04o}" in warning and "chmod 700 /srv/mvi" in warning
