"""``mvi deploy --git``: the CLI clones a real repository, the manager records the commit."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from tests.conftest import git, git_repo
from tests.e2e.manager.conftest import Manager
from tests.e2e.manager.test_deploy import assert_nothing_left

pytestmark = pytest.mark.timeout(300)  # the first deploy of a session builds an environment

SERVICE = textwrap.dedent(
    """\
    from mvi import service


    @service.entrypoint
    def which() -> str:
        return {answer!r}


    if __name__ == "__main__":
        service.run()
    """
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A repository whose two commits answer "first" and "second"."""
    path = tmp_path_factory.mktemp("git") / "svc"
    ids = git_repo(
        path,
        [
            {"service.py": SERVICE.format(answer="first"), "requirements.txt": ""},
            {"service.py": SERVICE.format(answer="second")},
        ],
    )
    git(path, "tag", "v1", ids[0])
    return path, ids


def test_deploy_by_ref_records_the_commit(manager: Manager, repo: tuple[Path, list[str]]) -> None:
    path, ids = repo
    result = manager.ok("deploy", "from_git", "1.0.0", "--git", str(path), "--ref", "v1")
    assert "Service deployed successfully" in result.stdout
    assert f"at {ids[0]}" in result.stderr
    assert manager.call("from_git_1.0.0/which").json() == "first"
    record = manager.record("from_git", "1.0.0")
    assert record["git"] == {"url": str(path.resolve()), "ref": "v1", "commit": ids[0]}
    shipped = manager.data_dir / "services" / "from_git" / "1.0.0"
    assert (shipped / "service.py").exists() and not (shipped / ".git").exists()


def test_deploy_of_the_default_branch_by_file_url(
    manager: Manager, repo: tuple[Path, list[str]]
) -> None:
    path, ids = repo
    manager.ok("deploy", "from_git", "2.0.0", "--git", path.resolve().as_uri())
    assert manager.call("from_git_2.0.0/which").json() == "second"
    listed = json.loads(manager.ok("ls", "from_git", "--json").stdout)
    assert [(r["version"], r["git"]["commit"], r["git"]["ref"]) for r in listed] == [
        ("1.0.0", ids[0], "v1"),
        ("2.0.0", ids[1], None),
    ]
    assert {r["git"]["commit"] for r in manager.versions("from_git")} == set(ids)


def test_a_folder_deploy_replacing_a_git_one_claims_no_commit(
    manager: Manager, repo: tuple[Path, list[str]]
) -> None:
    shipped = manager.data_dir / "services" / "from_git" / "1.0.0"
    manager.ok("deploy", "from_git", "2.0.0", str(shipped), "--replace")
    assert manager.record("from_git", "2.0.0")["git"] is None
    assert manager.record("from_git", "1.0.0")["git"]["commit"] == repo[1][0]
    manager.ok("kill", "from_git", "--all", "--yes")


@pytest.mark.parametrize(
    ("where", "ref", "message"),
    [
        ("missing", None, "git could not clone"),
        ("repo", "no-such-ref", "has no branch, tag or commit 'no-such-ref'"),
    ],
)
def test_a_bad_url_or_ref_deploys_nothing(
    manager: Manager,
    repo: tuple[Path, list[str]],
    tmp_path: Path,
    where: str,
    ref: str | None,
    message: str,
) -> None:
    url = str(repo[0]) if where == "repo" else str(tmp_path / "missing")
    args = ["deploy", "bad_git", "1.0.0", "--git", url] + (["--ref", ref] if ref else [])
    result = manager.cli(*args)
    assert result.returncode == 1 and message in result.stderr
    assert_nothing_left(manager, "bad_git", "1.0.0")


def test_source_and_git_together_or_ref_alone_are_refused(
    manager: Manager, repo: tuple[Path, list[str]]
) -> None:
    both = manager.cli("deploy", "bad_git", "1.0.0", str(repo[0]), "--git", str(repo[0]))
    assert both.returncode == 1 and "not both" in both.stderr
    neither = manager.cli("deploy", "bad_git", "1.0.0")
    assert neither.returncode == 1 and "or --git URL" in neither.stderr
    alone = manager.cli("deploy", "bad_git", "1.0.0", str(repo[0]), "--ref", "v1")
    assert alone.returncode == 1 and "give --git URL too" in alone.stderr
    assert_nothing_left(manager, "bad_git", "1.0.0")


def test_the_api_refuses_a_malformed_commit_before_reading_the_body(manager: Manager) -> None:
    response = manager.http.post(
        "/api/services/bad_git/1.0.0",
        params={"git_url": "/srv/r", "git_commit": "abc"},
        content=b"not read",
    )
    assert response.status_code == 422 and "full commit id" in response.json()["detail"]
    assert_nothing_left(manager, "bad_git", "1.0.0")
