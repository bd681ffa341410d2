"""Routes of the author's choosing: paths, methods and seed 002's route list, all checked
when declared (no serving involved)."""

from __future__ import annotations

from typing import Any

import pytest

from mvi import EntrypointDefinitionError, InvalidRequest, Service
from mvi.sdk.routes import RouteTable, check_methods, check_path


@pytest.mark.parametrize("path", ["/", "/classify", "/v2/classify", "/a-b_c.d", "/x/y/z"])
def test_a_good_path_is_kept(path: str) -> None:
    assert check_path(path, "f") == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("classify", "must start with '/'"),
        ("", "must start with '/'"),
        ("/" + "a" * 300, "at most 200"),
        ("/a//b", "segment ''"),
        ("/a/", "segment ''"),
        ("/a/../b", "segment '..'"),
        ("/{item}", "segment '{item}'"),
        ("/a b", "segment 'a b'"),
        ("/a?b", "segment 'a\\?b'"),
        ("/~health", "service's own endpoints"),
        ("/~parameters/x", "service's own endpoints"),
        ("/docs", "service's own endpoints"),
        ("/openapi.json", "service's own endpoints"),
        (5, "must be a string"),
    ],
)
def test_a_bad_path_is_refused(path: Any, reason: str) -> None:
    with pytest.raises(EntrypointDefinitionError, match=reason):
        check_path(path, "f")


def test_methods_are_upper_cased_once() -> None:
    assert check_methods(["post", "GET", "POST"], "f", needs_body=False) == ("POST", "GET")


@pytest.mark.parametrize(
    ("methods", "needs_body", "reason"),
    [
        ([], False, "is empty"),
        (["FETCH"], False, "'FETCH' is not one of"),
        ("POST", False, "must be a list"),
        ([1], False, "1 is not one of"),
        (["GET"], True, "GET requests carry no JSON body"),
        (["POST", "DELETE"], True, "DELETE requests carry no JSON body"),
    ],
)
def test_bad_methods_are_refused(methods: Any, needs_body: bool, reason: str) -> None:
    with pytest.raises(EntrypointDefinitionError, match=reason):
        check_methods(methods, "f", needs_body)


def test_a_route_claimed_twice_for_one_method_is_refused() -> None:
    table = RouteTable()
    table.claim("a", "/x", ("POST",))
    table.claim("b", "/x", ("GET",))  # another method on the same path is another route
    with pytest.raises(
        EntrypointDefinitionError, match="POST /x is already answered by entrypoint 'a'"
    ):
        table.claim("c", "/x", ("PUT", "POST"))


def test_path_and_methods_are_the_entrypoints_own() -> None:
    service = Service()

    @service.entrypoint(path="/classify", methods=["POST"], summary="Classify")
    def classify(text: str) -> str:
        return text

    @service.entrypoint(path="/", methods=["GET"])
    def index() -> str:
        return "ok"

    entrypoint = service.entrypoints["classify"]
    assert (entrypoint.path, entrypoint.methods) == ("/classify", ("POST",))
    assert entrypoint.options == {"summary": "Classify"}  # path and methods are not FastAPI's
    assert service.entrypoints["index"].path == "/"
    assert service.entrypoints["index"].methods == ("GET",)
    assert classify("x") == "x"


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        ({"path": "/same"}, {"path": "/same"}, "POST /same is already answered by entrypoint 'a'"),
        ({}, {"path": "/a"}, "POST /a is already answered by entrypoint 'a'"),
        ({"path": "/b"}, {}, "POST /b is already answered by entrypoint 'a'"),
        ({}, {"path": "/~ready"}, "service's own endpoints"),
        ({}, {"path": "b"}, "must start with '/'"),
        ({}, {"methods": ["GET"]}, "needs a default"),
    ],
)
def test_a_conflicting_or_invalid_route_fails_at_decoration(
    first: dict[str, Any], second: dict[str, Any], reason: str
) -> None:
    service = Service()

    @service.entrypoint(**first)
    def a(text: str) -> str:
        return text

    def b(text: str) -> str:
        return text

    with pytest.raises(EntrypointDefinitionError, match=reason.replace("~", "\\~")):
        service.entrypoint(**second)(b)
    assert list(service.entrypoints) == ["a"]


class Handler:
    def __init__(self) -> None:
        self.model = {"en": 0.71}

    def __call__(self, text: str) -> dict[str, float]:
        if not text:
            raise InvalidRequest("Missing text")
        return self.model


def predict(title: str | None = None, body: str | None = None) -> str:
    return f"{title} {body}"


def test_add_routes_declares_each_callable_at_its_endpoint() -> None:
    service = Service()
    handler = Handler()
    service.add_routes(
        [
            {"endpoint": "/classify", "callable": handler, "methods": ["POST"]},
            {"endpoint": "/", "callable": predict, "methods": ["POST", "GET"]},
            {"endpoint": "/again", "callable": predict, "name": "predict_again"},
        ]
    )
    assert list(service.entrypoints) == ["Handler", "predict", "predict_again"]
    classify = service.entrypoints["Handler"]
    assert classify.path == "/classify" and classify.parameter_names == ("text",)
    assert classify.load() is handler  # an instance is served as it is
    assert service.entrypoints["predict"].methods == ("POST", "GET")
    assert service.entrypoints["predict_again"].methods == ("POST",)


@pytest.mark.parametrize(
    ("routes", "reason"),
    [
        ({"endpoint": "/x", "callable": predict}, "takes a list of route dicts"),
        (["/x"], "route 1 must be a dict"),
        ([{"callable": predict}], "route 1 needs 'endpoint'"),
        ([{"endpoint": "/x"}], "route 1 needs 'endpoint' \\(its path\\) and 'callable'"),
        ([{"endpoint": "/x", "callable": 3}], "'callable' is not callable"),
        (
            [{"endpoint": "/x", "callable": predict, "verbs": ["POST"]}],
            "unknown keys \\['verbs'\\]",
        ),
        ([{"endpoint": "x", "callable": predict}], "must start with '/'"),
        ([{"endpoint": "/x", "callable": predict, "methods": ["BREW"]}], "'BREW' is not one"),
        ([{"endpoint": "/x", "callable": predict, "schema": dict}], "protobuf message class"),
        (
            [{"endpoint": "/x", "callable": predict}, {"endpoint": "/y", "callable": predict}],
            "two routes are named 'predict'",
        ),
        (
            [
                {"endpoint": "/x", "callable": predict},
                {"endpoint": "/x", "callable": Handler()},
            ],
            "POST /x is already answered by entrypoint 'predict'",
        ),
        ([{"endpoint": "/taken", "callable": Handler()}], "already answered by entrypoint 'a'"),
    ],
)
def test_a_bad_route_list_adds_nothing(routes: Any, reason: str) -> None:
    service = Service()

    @service.entrypoint(path="/taken")
    def a(text: str) -> str:
        return text

    with pytest.raises(EntrypointDefinitionError, match=reason):
        service.add_routes([{"endpoint": "/fine", "callable": Handler(), "name": "fine"}, *routes]
                           if isinstance(routes, list) else routes)  # fmt: skip
    assert list(service.entrypoints) == ["a"]
