"""schemathesis against the real manager's OpenAPI document, authenticated as the admin,
NaN and Infinity included: no answer is a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.e2e.manager.conftest import Manager, new_manager
from tests.openapi_fuzz import server_errors


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    handle = new_manager(tmp_path_factory.mktemp("fuzz"))
    handle.start()
    try:
        yield handle
    finally:
        handle.cleanup()


def test_the_manager_answers_no_generated_request_with_a_5xx(fuzzed: Manager) -> None:
    assert fuzzed.token is not None
    errors = server_errors(
        f"{fuzzed.url}/openapi.json",
        fuzzed.url,
        headers={"authorization": f"Bearer {fuzzed.token}"},
        max_examples=8,
        fixed_query={"follow": "false"},  # a followed log streams until the client leaves
        skip=[
            "POST /api/logout",  # it would revoke the fuzzer's own token
            "POST /api/services/{name}/{version}",  # a gzip tar body: see test_deploy.py
        ],
    )
    assert errors == []
