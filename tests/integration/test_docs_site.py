"""The documentation site builds with ``mkdocs build --strict`` and has every page."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mvi.settings import CLISettings, ManagerSettings, ServiceSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for this module with warnings as errors."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _text(site: Path, page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", (site / page / "index.html").read_text()))


@pytest.mark.parametrize(
    "page",
    [
        "getting-started", "sdk", "typing", "serving", "http-processes", "monitoring", "manager",
        "rollout", "web-apps", "transports", "links", "dashboard", "cluster", "security",
        "configuration", "benchmarks", "examples",
    ],
)  # fmt: skip
def test_every_page_of_the_nav_is_built(site: Path, page: str) -> None:
    assert (site / page / "index.html").is_file()


def test_the_configuration_page_lists_every_variable(site: Path) -> None:
    text = _text(site, "configuration")
    for group in (ServiceSettings, ManagerSettings, CLISettings):
        for name in group.model_fields:
            assert f"MVI_{name.upper()}" in text


@pytest.mark.parametrize(
    ("page", "names"),
    [
        ("api/mvi", ["InvalidRequest", "ServiceCallError", "add_parameter", "call_every"]),
        ("api/communication", ["notify", "call_service", "Severity"]),
        ("api/utilities", ["get_service_name", "get_headers"]),
        ("api/data_types", ["NDArray", "DataFrameInput", "ArrayOutput"]),
        ("api/transport", ["SocketClient", "AsyncSocketClient", "SocketApplication"]),
        ("api/links", ["LinkService", "InlineServices"]),
    ],
)
def test_the_api_reference_is_generated_from_docstrings(
    site: Path, page: str, names: list[str]
) -> None:
    text = _text(site, page)
    for name in names:
        assert name in text, f"{name} is missing from {page}"
    assert "Raise a notification" in _text(site, "api/communication")


@pytest.mark.parametrize("chart", ["run", "transport", "links", "gateway", "monitoring"])
def test_the_benchmarks_page_shows_each_runners_chart(site: Path, chart: str) -> None:
    page = (site / "benchmarks" / "index.html").read_text()
    assert f'src="{chart}.svg"' in page
    svg = (site / "benchmarks" / f"{chart}.svg").read_text()
    assert f"benchmarks.{chart}" in svg and "cores; load average" in svg


def test_the_docstrings_sphinx_roles_are_not_shown(site: Path) -> None:
    for page in ("api/communication", "api/mvi", "api/transport"):
        text = _text(site, page)
        assert ":class:" not in text and ":func:" not in text, page
    assert "ServiceCallError" in _text(site, "api/communication")
