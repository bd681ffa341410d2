"""``@service.entrypoint(schema=Message)``: protobuf-checked request bodies over real HTTP.

The message class is built at run time from a ``FileDescriptorProto`` (no ``protoc``); the
service runs in its own process, so its source builds the same class with the same code.
"""

from __future__ import annotations

from typing import Any

import pytest

import mvi
from mvi import EntrypointDefinitionError, Service

ARTICLE_BUILDER = """
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def build_article_class():
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="mvi_tests/article.proto", package="mvitests", syntax="proto3"
    )
    message = file_proto.message_type.add(name="Article")
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    message.field.add(
        name="title", number=1, label=optional, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    )
    message.field.add(
        name="count", number=2, label=optional, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("mvitests.Article"))
"""

SERVICE = (
    ARTICLE_BUILDER
    + """
from mvi import service

Article = build_article_class()


@service.entrypoint(schema=Article)
def publish(title: str, count: int = 0) -> dict:
    return {"title": title.upper(), "count": count}


@service.entrypoint
def unchecked(title: str, count: int = 0) -> dict:
    return {"title": title, "count": count}


if __name__ == "__main__":
    service.run()
"""
)


def build_article_class() -> Any:
    namespace: dict[str, Any] = {}
    exec(ARTICLE_BUILDER, namespace)
    return namespace["build_article_class"]()


@pytest.fixture
def svc(start_service: Any) -> Any:
    return start_service(SERVICE)


# -- at decoration time ----------------------------------------------------------------------


def test_builder_makes_a_protobuf_message_class() -> None:
    from google.protobuf.message import Message

    article_class = build_article_class()
    assert issubclass(article_class, Message)
    assert article_class.DESCRIPTOR.full_name == "mvitests.Article"
    assert article_class(title="t", count=2).count == 2


def test_protobuf_schema_is_accepted_at_decoration_time() -> None:
    service = Service()
    article_class = build_article_class()

    @service.entrypoint(schema=article_class)
    def publish(title: str, count: int = 0) -> str:
        return title

    entrypoint = service.entrypoints["publish"]
    assert entrypoint.serving.schema is article_class
    assert entrypoint.check_schema is not None
    assert "schema" not in entrypoint.options  # not passed on to FastAPI
    assert publish("x") == "x"


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param(object(), id="object"),
        pytest.param(dict, id="plain-class"),
        pytest.param("mvitests.Article", id="type-name"),
        pytest.param({"title": "string"}, id="json-schema-dict"),
    ],
)
def test_non_protobuf_schema_is_refused_at_decoration_time(schema: Any) -> None:
    service = Service()

    def publish(title: str) -> str:
        return title

    with pytest.raises(EntrypointDefinitionError, match="protobuf message class"):
        service.entrypoint(schema=schema)(publish)
    assert service.entrypoints == {}


def test_protobuf_message_instance_is_refused_as_schema() -> None:
    service = Service()
    instance = build_article_class()(title="x")

    def publish(title: str) -> str:
        return title

    with pytest.raises(mvi.EntrypointDefinitionError) as info:
        service.entrypoint(schema=instance)(publish)
    assert isinstance(info.value, TypeError)


# -- over HTTP -------------------------------------------------------------------------------


def test_body_matching_schema_is_answered(svc: Any) -> None:
    response = svc.post("/publish", json={"title": "news", "count": 3})
    assert response.status_code == 200, response.text
    assert response.json() == {"title": "NEWS", "count": 3}

    defaulted = svc.post("/publish", json={"title": "only title"})
    assert defaulted.status_code == 200, defaulted.text
    assert defaulted.json() == {"title": "ONLY TITLE", "count": 0}


def test_unknown_field_is_400_naming_the_field(svc: Any) -> None:
    response = svc.post("/publish", json={"title": "news", "author": "ada"})
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert "author" in detail
    assert "mvitests.Article" in detail


def test_unknown_field_is_accepted_without_schema(svc: Any) -> None:
    response = svc.post("/unchecked", json={"title": "news", "author": "ada"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"title": "news", "count": "abc"}, "count", id="count-word"),
        pytest.param({"title": "news", "count": 2.5}, "count", id="count-fraction"),
        pytest.param({"title": "news", "count": 2**40}, "count", id="count-over-int32"),
        pytest.param({"title": 5}, "title", id="title-number"),
    ],
)
def test_wrong_type_is_400_naming_the_field(svc: Any, body: dict[str, Any], field: str) -> None:
    response = svc.post("/publish", json=body)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert field in detail
    assert "mvitests.Article" in detail


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"title": "news",', id="truncated"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"title": "news"} trailing', id="trailing-garbage"),
    ],
)
def test_malformed_json_is_422(svc: Any, raw: bytes) -> None:
    response = svc.post("/publish", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid"


def test_body_fitting_schema_but_missing_required_parameter_is_422(svc: Any) -> None:
    response = svc.post("/publish", json={"count": 1})  # protobuf fields are all optional
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "title"]
    assert error["type"] == "missing"


@pytest.mark.parametrize("raw", [b"5", b"null", b'"text"', b"[]", b"[1]"])
def test_json_that_is_not_an_object_is_a_client_error(svc: Any, raw: bytes) -> None:
    response = svc.post("/publish", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert "Internal" not in response.text
