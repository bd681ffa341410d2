"""Each example's own tests pass, run the way its README says: ``mvi test examples/NAME``
(examples/hello, what ``mvi init`` makes, has its own tests in tests/e2e/cli/)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.e2e.cli.cli_support import clean_env
from tests.e2e.examples.conftest import EXAMPLES

pytestmark = pytest.mark.timeout(600)

EXAMPLE_FOLDERS = sorted(
    str(path.parent.parent.relative_to(EXAMPLES))
    for path in EXAMPLES.glob("**/tests/conftest.py")
    if (path.parent.parent / "service.py").is_file() and path.parent.parent.name != "hello"
)


def test_every_service_example_has_a_readme_requirements_and_tests() -> None:
    assert len(EXAMPLE_FOLDERS) >= 7, EXAMPLE_FOLDERS
    for folder in EXAMPLE_FOLDERS:
        project = EXAMPLES / folder
        assert (project / "requirements.txt").is_file(), folder
        assert (project / ".s2i" / "environment").is_file(), folder
        assert list((project / "tests").glob("test_*.py")), folder
        readme = project / "README.md" if (project / "README.md").is_file() else None
        readme = readme or project.parent / "README.md"
        assert readme.is_file(), folder


@pytest.mark.parametrize("folder", EXAMPLE_FOLDERS)
def test_the_examples_own_tests_pass(folder: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mvi.cli", "test", str(EXAMPLES / folder), "--", "-q", "-p",
         "no:cacheprovider"],
        env=clean_env(), capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, summary
