"""The auth decisions without I/O: what a path needs, where a token is read from, which
tokens are refused (expired, revoked, unknown, forged, unsigned) and what each may do."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from mvi._exceptions import NotAuthenticated, PermissionDenied
from mvi.manager.auth.access import (
    ANONYMOUS,
    Access,
    Principal,
    TokenKind,
    authorize,
    is_dashboard_page,
    required_access,
)
from mvi.manager.auth.login_limiter import LoginLimiter
from mvi.manager.auth.tokens import (
    Authenticator,
    TokenCodec,
    TokenRecord,
    token_from_headers,
    without_credentials,
)

SECRET = b"s" * 32
NOW = 1_800_000_000.0


def record_of(token: str, codec: TokenCodec, *, revoked: bool = False) -> TokenRecord:
    claims = codec.decode(token, NOW)
    return TokenRecord(claims.jti, claims.kind, claims.subject, claims.expires_at, revoked)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("method", "path", "access"),
    [
        ("GET", "/api/health", Access.OPEN),
        ("POST", "/api/login", Access.OPEN),
        ("GET", "/docs/assets/swagger-ui-bundle.js", Access.OPEN),
        ("GET", "/dashboard/static/vendor/htmx.min.js", Access.OPEN),
        ("GET", "/dashboard/login", Access.OPEN),
        ("POST", "/dashboard/login", Access.OPEN),
        ("GET", "/dashboard/services/a/1.0.0", Access.ADMIN),
        ("GET", "/", Access.ADMIN),
        ("GET", "/docs", Access.OPEN),
        ("GET", "/openapi.json", Access.OPEN),
        ("POST", "/services/hello/hello", Access.GATEWAY),
        ("GET", "/services/hello_1.0.0/docs", Access.GATEWAY),
        ("POST", "/api/notifications", Access.NOTIFY),
        ("POST", "/api/notifications/", Access.NOTIFY),
        ("GET", "/api/notifications", Access.ADMIN),
        ("DELETE", "/api/notifications", Access.ADMIN),
        ("GET", "/api/services", Access.ADMIN),
        ("POST", "/api/tokens", Access.ADMIN),
        ("GET", "/api/health/", Access.ADMIN),
        ("GET", "/nothing-here", Access.ADMIN),
        ("GET", "/services", Access.ADMIN),
    ],
)
def test_each_path_needs_its_access(method: str, path: str, access: Access) -> None:
    assert required_access(method, path) == access


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ([(b"authorization", b"Bearer abc")], "abc"),
        ([(b"Authorization", b"bearer  abc ")], "abc"),
        ([(b"cookie", b"a=1; mvi_token=xyz; b=2")], "xyz"),
        ([(b"cookie", b"mvi_token=xyz"), (b"authorization", b"Bearer abc")], "abc"),
        ([(b"authorization", b"Basic dXNlcjpwdw==")], None),
        ([(b"authorization", b"Bearer ")], None),
        ([(b"cookie", b"other=1")], None),
        ([], None),
    ],
)
def test_the_token_is_read_from_the_header_then_the_cookie(
    headers: list[tuple[bytes, bytes]], token: str | None
) -> None:
    assert token_from_headers(headers) == token


def test_forwarded_requests_lose_the_callers_token_but_keep_other_headers() -> None:
    headers = [
        (b"host", b"x"),
        (b"authorization", b"Bearer abc"),
        (b"cookie", b"a=1; mvi_token=xyz; b=2"),
        (b"cookie", b"mvi_token=only"),
        (b"x-custom", b"1"),
    ]
    assert without_credentials(headers) == [
        (b"host", b"x"),
        (b"cookie", b"a=1; b=2"),
        (b"x-custom", b"1"),
    ]


def test_a_token_round_trips_and_carries_its_service() -> None:
    codec = TokenCodec(SECRET)
    token, claims = codec.issue(
        TokenKind.SERVICE, "hello_1.0.0", now=NOW, ttl=None, service="hello", version="1.0.0"
    )
    decoded = codec.decode(token, NOW + 10 * 365 * 86400)
    assert decoded == claims
    assert (decoded.service, decoded.version, decoded.expires_at) == ("hello", "1.0.0", None)
    assert "hello" not in repr(codec) and SECRET.decode() not in repr(codec)


def test_an_expired_token_is_refused_at_its_expiry() -> None:
    codec = TokenCodec(SECRET)
    token, _ = codec.issue(TokenKind.API, "admin", now=NOW, ttl=60)
    assert codec.decode(token, NOW + 59.9).subject == "admin"
    with pytest.raises(NotAuthenticated, match="expired"):
        codec.decode(token, NOW + 60)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token, _ = TokenCodec(b"x" * 32).issue(TokenKind.LOGIN, "admin", now=NOW, ttl=60)
    with pytest.raises(NotAuthenticated, match="signature") as caught:
        TokenCodec(SECRET).decode(token, NOW)
    assert token not in caught.value.message


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_an_unsigned_token_is_refused(alg: str) -> None:
    claims = {"jti": "j", "typ": "api", "sub": "admin", "iat": int(NOW), "exp": int(NOW) + 60}
    for signature in ("", "x"):
        token = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}.{signature}"
        with pytest.raises(NotAuthenticated):
            TokenCodec(SECRET).decode(token, NOW)


def test_a_token_with_another_algorithm_is_refused_even_with_the_right_secret() -> None:
    claims = {"jti": "j", "typ": "api", "sub": "admin", "iat": int(NOW), "exp": int(NOW) + 60}
    secret = b"k" * 64
    token = jwt.encode(claims, secret, algorithm="HS512")
    with pytest.raises(NotAuthenticated, match="HS256"):
        TokenCodec(secret).decode(token, NOW)


@pytest.mark.parametrize(
    "claims",
    [
        {"typ": "api", "sub": "admin", "iat": 1, "exp": 2**40},  # no jti
        {"jti": "j", "sub": "admin", "iat": 1, "exp": 2**40},  # no kind
        {"jti": "j", "typ": "root", "sub": "admin", "iat": 1, "exp": 2**40},  # unknown kind
        {"jti": "j", "typ": "api", "sub": "admin", "iat": 1},  # a user token without expiry
    ],
)
def test_a_token_missing_what_it_needs_is_refused(claims: dict[str, object]) -> None:
    with pytest.raises(NotAuthenticated):
        TokenCodec(SECRET).decode(jwt.encode(claims, SECRET, algorithm="HS256"), NOW)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "é.é.é"])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(NotAuthenticated):
        Authenticator(TokenCodec(SECRET), {}).authenticate(token, NOW)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenCodec(b"short")


def test_no_token_is_refused_with_what_to_do() -> None:
    with pytest.raises(NotAuthenticated, match="mvi login"):
        Authenticator(TokenCodec(SECRET), {}).authenticate(None, NOW)


def test_only_known_unrevoked_tokens_are_accepted() -> None:
    codec = TokenCodec(SECRET)
    token, claims = codec.issue(TokenKind.LOGIN, "admin", now=NOW, ttl=3600)
    records: dict[str, TokenRecord] = {}
    authenticator = Authenticator(codec, records)
    with pytest.raises(NotAuthenticated, match="not known"):
        authenticator.authenticate(token, NOW)
    records[claims.jti] = record_of(token, codec)
    assert authenticator.authenticate(token, NOW) == Principal(TokenKind.LOGIN, "admin", claims.jti)
    records[claims.jti] = record_of(token, codec, revoked=True)
    with pytest.raises(NotAuthenticated, match="revoked"):
        authenticator.authenticate(token, NOW)


def test_a_record_that_disagrees_with_the_token_is_refused() -> None:
    codec = TokenCodec(SECRET)
    token, claims = codec.issue(TokenKind.SERVICE, "a_1.0.0", now=NOW, ttl=None, service="a",
                                version="1.0.0")  # fmt: skip
    records = {claims.jti: TokenRecord(claims.jti, TokenKind.API, "a_1.0.0", None)}
    with pytest.raises(NotAuthenticated):
        Authenticator(codec, records).authenticate(token, NOW)


def test_a_service_token_names_its_service() -> None:
    codec = TokenCodec(SECRET)
    token, claims = codec.issue(
        TokenKind.SERVICE, "hello_1.2.3", now=NOW, ttl=None, service="hello", version="1.2.3"
    )
    principal = Authenticator(codec, {claims.jti: record_of(token, codec)}).authenticate(token, NOW)
    assert principal.is_service
    assert (principal.service, principal.version, principal.token_id) == (
        "hello",
        "1.2.3",
        claims.jti,
    )


@pytest.mark.parametrize("kind", [TokenKind.LOGIN, TokenKind.API])
@pytest.mark.parametrize("access", list(Access))
def test_a_users_token_may_do_everything(kind: TokenKind, access: Access) -> None:
    authorize(Principal(kind, "admin", "j"), access)


@pytest.mark.parametrize(
    ("access", "allowed"),
    [(Access.OPEN, True), (Access.GATEWAY, True), (Access.NOTIFY, True), (Access.ADMIN, False)],
)
def test_a_service_token_may_only_call_the_gateway_and_notify(
    access: Access, allowed: bool
) -> None:
    service = Principal(TokenKind.SERVICE, "hello_1.0.0", "j", "hello", "1.0.0")
    assert service.may(access) is allowed
    if allowed:
        authorize(service, access)
    else:
        with pytest.raises(PermissionDenied, match="gateway"):
            authorize(service, access)


def test_anonymous_is_an_admin_for_no_auth_mode() -> None:
    assert all(ANONYMOUS.may(access) for access in Access)


def test_the_limiter_blocks_an_address_after_too_many_failures() -> None:
    limiter = LoginLimiter(max_failures=3, window=60.0)
    for i in range(3):
        assert limiter.retry_after("1.2.3.4", 100.0 + i) is None
        limiter.failed("1.2.3.4", 100.0 + i)
    assert limiter.retry_after("1.2.3.4", 103.0) == pytest.approx(57.0)
    assert limiter.retry_after("5.6.7.8", 103.0) is None  # others are not affected
    assert limiter.retry_after("1.2.3.4", 160.0) is None  # the oldest failure aged out
    limiter.failed("1.2.3.4", 160.0)
    assert limiter.retry_after("1.2.3.4", 160.5) == pytest.approx(0.5)


def test_a_successful_login_clears_the_failures() -> None:
    limiter = LoginLimiter(max_failures=2, window=60.0)
    limiter.failed("a", 1.0)
    limiter.succeeded("a")
    limiter.failed("a", 2.0)
    assert limiter.retry_after("a", 2.0) is None


def test_an_attempt_is_counted_before_its_password_is_checked() -> None:
    limiter = LoginLimiter(max_failures=3, window=60.0)
    waits = [limiter.attempt("1.2.3.4", 100.0) for _ in range(10)]  # all in flight at once
    assert waits[:3] == [None, None, None]
    assert waits[3:] == [pytest.approx(60.0)] * 7
    limiter.succeeded("1.2.3.4")
    assert limiter.attempt("1.2.3.4", 100.5) is None


def test_the_limiter_remembers_a_bounded_number_of_addresses() -> None:
    limiter = LoginLimiter(max_failures=2, window=60.0, max_clients=10)
    for i in range(100):
        limiter.failed(f"10.0.0.{i}", float(i) / 100)
    assert len(limiter._failures) <= 10


def test_a_remembered_token_is_still_refused_once_expired() -> None:
    codec = TokenCodec(SECRET)
    token, claims = codec.issue(TokenKind.API, "admin", now=NOW, ttl=60)
    authenticator = Authenticator(codec, {claims.jti: record_of(token, codec)})
    assert authenticator.authenticate(token, NOW).subject == "admin"  # now remembered
    assert authenticator.authenticate(token, NOW + 30).subject == "admin"
    with pytest.raises(NotAuthenticated, match="expired"):
        authenticator.authenticate(token, NOW + 60)


def test_the_memory_of_checked_tokens_is_bounded() -> None:
    codec = TokenCodec(SECRET)
    records: dict[str, TokenRecord] = {}
    authenticator = Authenticator(codec, records, cache_size=5)
    for _ in range(20):
        token, claims = codec.issue(TokenKind.API, "admin", now=NOW, ttl=60)
        records[claims.jti] = record_of(token, codec)
        authenticator.authenticate(token, NOW)
    assert len(authenticator._verified) == 5


@pytest.mark.parametrize(
    ("method", "path", "page"),
    [
        ("GET", "/", True),
        ("GET", "/dashboard", True),
        ("GET", "/dashboard/notifications", True),
        ("POST", "/dashboard/notifications/clear", False),
        ("GET", "/dashboard/static/dashboard.js", False),
        ("GET", "/api/services", False),
        ("GET", "/dashboardx", False),
    ],
)
def test_only_dashboard_pages_send_a_browser_to_the_login_form(method, path, page) -> None:
    assert is_dashboard_page(method, path) is page
