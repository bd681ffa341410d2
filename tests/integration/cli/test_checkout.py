"""``mvi deploy --git``'s checkout: real git clones of a real repository made in tmp."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import git, git_repo

from mvi._exceptions import GitSourceError
from mvi.cli.checkout import checkout


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("git") / "repo"
    ids = git_repo(path, [{"service.py": "one\n"}, {"service.py": "two\n", "more.txt": "x"}])
    git(path, "tag", "v1", ids[0])
    git(path, "tag", "-a", "-m", "annotated", "v1-annotated", ids[0])
    git(path, "branch", "old", ids[0])
    return path, ids


@pytest.mark.parametrize(
    ("ref", "which", "content"),
    [
        (None, 1, "two\n"),  # the default branch
        ("main", 1, "two\n"),
        ("old", 0, "one\n"),  # a branch that exists only on the remote
        ("v1", 0, "one\n"),
        ("v1-annotated", 0, "one\n"),  # an annotated tag names its commit
        ("FULL", 0, "one\n"),
        ("SHORT", 0, "one\n"),
    ],
)
def test_checkout_gives_the_commit_of_the_ref(
    repo: tuple[Path, list[str]], tmp_path: Path, ref: str | None, which: int, content: str
) -> None:
    path, ids = repo
    asked = {"FULL": ids[0], "SHORT": ids[0][:10]}.get(ref or "", ref)
    done = checkout(str(path), asked, tmp_path / "out", timeout=60)
    assert done.source.commit == ids[which]
    assert done.source.ref == asked and done.source.url == str(path.resolve())
    assert (done.path / "service.py").read_text() == content
    assert (done.path / "more.txt").exists() is (which == 1)
    assert not (done.path / ".git").exists()


def test_a_file_url_is_cloned_and_recorded_as_given(
    repo: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path, ids = repo
    done = checkout(path.resolve().as_uri(), None, tmp_path / "out", timeout=60)
    assert done.source.url == path.resolve().as_uri() and done.source.commit == ids[1]


@pytest.mark.parametrize(
    ("url", "ref", "message"),
    [
        ("MISSING", None, "git could not clone"),
        ("REPO", "no-such-branch", "has no branch, tag or commit 'no-such-branch'"),
        ("REPO", "0" * 40, "has no branch, tag or commit"),
        ("REPO", "--upload-pack=touch /tmp/x", "is not a git ref"),
        ("--upload-pack=touch /tmp/x", None, "is not a git URL"),
        ("http://127.0.0.1:9/nothing.git", None, "git could not clone http://127.0.0.1:9"),
    ],
)
def test_a_bad_url_or_ref_is_a_clear_error_and_leaves_nothing(
    repo: tuple[Path, list[str]], tmp_path: Path, url: str, ref: str | None, message: str
) -> None:
    target = {"MISSING": str(tmp_path / "missing"), "REPO": str(repo[0])}.get(url, url)
    with pytest.raises(GitSourceError, match=message.replace("(", r"\(")):
        checkout(target, ref, tmp_path / "out", timeout=60)
    assert not (tmp_path / "out").exists()


def test_a_password_in_the_url_is_not_recorded(
    repo: tuple[Path, list[str]], tmp_path: Path
) -> None:
    url = "http://user:s3cret@127.0.0.1:9/nothing.git"
    with pytest.raises(GitSourceError) as raised:
        checkout(url, None, tmp_path / "out", timeout=60)
    assert "s3cret" not in str(raised.value)
