"""The CSRF checks without I/O: tokens bound to a session, where a token is read from, and
which origins a cookie-authenticated change may come from."""

from __future__ import annotations

import pytest

from mvi.manager.auth.csrf import (
    CsrfTokens,
    form_token,
    header_token,
    origin_refusal,
    token_refusal,
)

OWN = frozenset({"http://127.0.0.1:8000"})


def test_a_token_belongs_to_one_session_and_one_secret() -> None:
    tokens = CsrfTokens(b"k" * 32)
    token = tokens.issue("jti-1")
    assert tokens.valid("jti-1", token) and tokens.valid("jti-1", f" {token} ")
    assert not tokens.valid("jti-2", token)
    assert not CsrfTokens(b"o" * 32).valid("jti-1", token)
    assert not tokens.valid("jti-1", None) and not tokens.valid("jti-1", "")
    assert repr(tokens) == "<CsrfTokens>"  # never the key


def test_the_token_is_read_from_the_header_or_a_form_field() -> None:
    assert header_token([(b"x-csrf-token", b"abc")]) == "abc"
    assert header_token([(b"cookie", b"mvi_csrf=abc")]) is None
    assert form_token(b"a=1&csrf_token=xyz") == "xyz"
    assert form_token(b"a=1") is None


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ([(b"origin", b"http://127.0.0.1:8000")], False),
        ([(b"origin", b"HTTP://127.0.0.1:8000")], False),
        ([(b"referer", b"http://127.0.0.1:8000/dashboard/x")], False),
        ([(b"origin", b"http://evil.example")], True),
        ([(b"origin", b"null")], True),  # a sandboxed page: a service's, or another site's
        ([(b"origin", b"http://127.0.0.1:8001")], True),  # another port is another origin
        ([(b"origin", b"http://evil.example"), (b"referer", b"http://127.0.0.1:8000/")], True),
        ([(b"referer", b"http://evil.example/")], True),
        ([], True),
    ],
)
def test_a_cookie_change_must_come_from_the_managers_own_origin(
    headers: list[tuple[bytes, bytes]], refused: bool
) -> None:
    refusal = origin_refusal(headers, OWN)
    assert (refusal is not None) is refused
    if refusal is not None:
        assert "Bearer" in refusal or "http://127.0.0.1:8000" in refusal


def test_a_missing_or_wrong_token_is_explained() -> None:
    assert token_refusal("t", True) is None
    missing = token_refusal(None, False)
    assert missing is not None and "X-CSRF-Token" in missing and "mvi_csrf" in missing
    wrong = token_refusal("t", False)
    assert wrong is not None and "does not belong" in wrong
