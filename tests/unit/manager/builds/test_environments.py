"""What decides an environment's cache key, and how the SDK gets into it."""

from __future__ import annotations

import pytest

from mvi.manager.builds.environments import (
    SdkSource,
    environment_key,
    error_lines,
    pins_sdk,
    uses_local_paths,
)

SDK = SdkSource(("mvi==1.0.0",), "index:mvi==1.0.0")


@pytest.mark.parametrize(
    ("requirements", "pinned"),
    [
        ("", False),
        ("numpy==1.26.4\n", False),
        ("mvi==0.0.9\n", True),
        ("MVI>=0.1\n", True),
        ("mvi[postgres] @ https://example.invalid/mvi.whl\n", True),
        ("# mvi==1\nnumpy\n", False),
        ("mvi-extras==1\n", False),
        ("-r other.txt\n", False),
    ],
)
def test_an_sdk_pin_in_the_requirements_is_respected(requirements: str, pinned: bool) -> None:
    assert pins_sdk(requirements) is pinned


@pytest.mark.parametrize(
    ("requirements", "local"),
    [
        ("numpy\n", False),
        ("./vendor/pkg\n", True),
        ("-e ./pkg\n", True),
        ("pkg @ file:///tmp/pkg\n", True),
        ("-r more.txt\n", True),
    ],
)
def test_local_path_requirements_are_detected(requirements: str, local: bool) -> None:
    assert uses_local_paths(requirements) is local


def test_equal_requirements_share_a_key_and_others_do_not() -> None:
    base = environment_key("numpy==1.26.4\n", SDK, "py311")
    assert environment_key("numpy==1.26.4", SDK, "py311") == base
    assert environment_key("# comment\n\nnumpy==1.26.4  # pinned\n", SDK, "py311") == base
    assert environment_key("numpy==1.26.3\n", SDK, "py311") != base
    assert environment_key("numpy==1.26.4\n", SDK, "py312") != base
    other_sdk = SdkSource(("mvi==1.0.1",), "index:mvi==1.0.1")
    assert environment_key("numpy==1.26.4\n", other_sdk, "py311") != base
    assert environment_key("numpy==1.26.4\n", SDK, "py311", extra="archive") != base


def test_error_lines_are_plain_and_bounded() -> None:
    output = "\x1b[31merror\x1b[0m: no solution\n\n" + "\n".join(f"l{i}" for i in range(100))
    lines = error_lines(output)
    assert len(lines) == 60 and lines[-1] == "l99"
    assert error_lines("\x1b[1merror\x1b[0m: boom\n") == ["error: boom"]


def test_the_manager_installs_its_own_sdk() -> None:
    from mvi._version import __version__

    sdk = SdkSource.detect()
    assert __version__ in sdk.identity
    assert sdk.args[-1].startswith(("/", "mvi=="))
