"""The shape of the house: the import layers, and the size and naming rules of the code base.

docs/architecture.md describes the layers; pyproject.toml's ``[tool.importlinter]`` states
them as import-linter contracts, checked here on the real source and on a copy of it with
a cycle put in on purpose (so the guard rail is known to bite).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "mvi"
MAX_MODULE_LINES = 500
MAX_MODULES_PER_FOLDER = 12

_LINT = (
    "import sys; from importlinter.cli import lint_imports_command; "
    "sys.exit(lint_imports_command())"
)


def _lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _LINT, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=source_root,
        env={"PYTHONPATH": str(source_root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "new_import", "contract"),
    [
        ("serving/engine/batching.py", "import mvi.serving.service", "No cycles"),
        ("sdk/schedule.py", "import mvi.serving.app", "The SDK declares only"),
        ("monitoring/limit.py", "import mvi.manager.registry", "Layers"),
    ],
)
def test_an_import_against_the_layers_breaks_a_contract(
    tmp_path: Path, module: str, new_import: str, contract: str
) -> None:
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "mvi", ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "mvi" / module
    target.write_text(target.read_text() + f"\n{new_import}  # noqa\n")
    result = _lint_imports(copy)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_the_size_of_one_concept(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path} has {lines} lines: split it by concept"


def test_no_folder_holds_more_modules_than_a_newcomer_can_scan() -> None:
    crowded = {}
    for folder in {p.parent for p in _modules()}:
        count = sum(1 for p in folder.glob("*.py") if p.name != "__init__.py")
        if count > MAX_MODULES_PER_FOLDER:
            crowded[str(folder.relative_to(PACKAGE))] = count
    assert not crowded, f"make sub-packages of: {crowded}"


def test_every_class_name_is_defined_once() -> None:
    names: Counter[str] = Counter()
    where: dict[str, list[str]] = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                names[node.name] += 1
                where.setdefault(node.name, []).append(str(path.relative_to(PACKAGE)))
    twice = {name: where[name] for name, count in names.items() if count > 1}
    assert not twice, f"one name per class: {twice}"


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(path.relative_to(PACKAGE))
        for path in _modules()
        if ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert not missing, f"say what each module holds: {missing}"


def test_the_contributors_map_names_only_paths_that_exist() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:src|tests|benchmarks|docs|examples)/[^`\s]*)`", text))
    assert len(named) > 40
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"
