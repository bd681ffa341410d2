"""The git source a deploy records: checked without I/O, never with a password."""

from __future__ import annotations

import pytest

from mvi._exceptions import InvalidArgument
from mvi.manager.sources import GitSource, public_url

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:s3cret@example.com/r.git", "https://user@example.com/r.git"),
        ("https://:tok@example.com/r.git", "https://example.com/r.git"),
        ("https://user@example.com/r.git", "https://user@example.com/r.git"),
        ("ssh://git@example.com:22/r.git", "ssh://git@example.com:22/r.git"),
        ("git@example.com:owner/r.git", "git@example.com:owner/r.git"),
        ("/srv/repos/r", "/srv/repos/r"),
        ("file:///srv/repos/r", "file:///srv/repos/r"),
    ],
)
def test_public_url_drops_only_the_password(url: str, shown: str) -> None:
    assert public_url(url) == shown


def test_a_full_source_is_recorded_as_columns() -> None:
    source = GitSource.of_query("/srv/r", "v1", COMMIT)
    assert source is not None
    assert source.columns() == {"git_url": "/srv/r", "git_ref": "v1", "git_commit": COMMIT}
    assert GitSource.of_query("/srv/r", None, COMMIT + "0" * 24) is not None  # SHA-256
    assert GitSource.of_query(None, None, None) is None


@pytest.mark.parametrize(
    ("url", "ref", "commit", "message"),
    [
        ("/srv/r", None, None, "gives git_url and git_commit"),
        (None, "v1", COMMIT, "gives git_url and git_commit"),
        ("/srv/r", None, COMMIT[:10], "full commit id"),
        ("/srv/r", None, COMMIT.upper(), "full commit id"),
        ("/srv/r", None, "z" * 40, "full commit id"),
        ("", None, COMMIT, "git_url must be"),
        ("a\nb", None, COMMIT, "git_url must be"),
        ("x" * 3000, None, COMMIT, "git_url must be"),
        ("https://u:p@h/r", None, COMMIT, "holds a password"),
        ("/srv/r", "", COMMIT, "git_ref must be"),
        ("/srv/r", "a\tb", COMMIT, "git_ref must be"),
    ],
)
def test_a_malformed_source_is_422(
    url: str | None, ref: str | None, commit: str | None, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message) as raised:
        GitSource.of_query(url, ref, commit)
    assert raised.value.status_code == 422
