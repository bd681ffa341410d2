"""Routes of the author's choosing over real HTTP: ``path=``, ``methods=`` and seed 002's
``add_routes`` list (function and ``__call__`` handlers, ``InvalidRequest``, protobuf)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.test_protobuf_schema import ARTICLE_BUILDER

SERVICE = (
    ARTICLE_BUILDER
    + """
from mvi import InvalidRequest, service

Article = build_article_class()


@service.entrypoint(path="/classify")
def classify(text: str) -> dict:
    return {"label": "long" if len(text) > 5 else "short"}


@service.entrypoint(path="/", methods=["GET"])
def index() -> dict:
    return {"service": "routes"}


@service.entrypoint(path="/v2/echo", methods=["post", "PUT"])
def echo(value: int, times: int = 1) -> list:
    return [value] * times


@service.entrypoint(path="/status", methods=["GET", "POST"])
def status(verbose: bool = False) -> dict:
    return {"ok": True, "verbose": verbose}


class Classifier:
    def predict(self, text):
        return {"language": "en" if " the " in f" {text} " else "xx", "confidence": 0.71}


class ClassifyHandler:
    def __init__(self):
        self.classifier = Classifier()

    def __call__(self, text):
        if not text:
            raise InvalidRequest("Missing text")
        return self.classifier.predict(text)


def predict(title=None, count=None):
    if title is None:
        raise InvalidRequest("Missing text")
    return {"title": title, "count": count, "version": "0.0.1"}


service.add_routes(
    [
        {"endpoint": "/seed/classify", "callable": ClassifyHandler(), "methods": ["POST"]},
        {"endpoint": "/seed/predict", "callable": predict, "methods": ["POST"], "schema": Article},
    ]
)

if __name__ == "__main__":
    service.run()
"""
)

ROOT = "/services/routes_1.0.0"


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    return start_module_service(SERVICE, root=ROOT)


def test_an_entrypoint_with_a_path_answers_there(svc: Any) -> None:
    assert svc.post("/classify", json={"text": "a long text"}).json() == {"label": "long"}
    assert svc.post("/classify", json={}).status_code == 422
    assert svc.post("/classify", json={"text": "hi"}).json() == {"label": "short"}


def test_the_root_path_answers_get(svc: Any) -> None:
    assert svc.get("/").json() == {"service": "routes"}
    assert svc.client.get(f"http://127.0.0.1:{svc.port}{ROOT}").json() == {"service": "routes"}
    assert svc.post("/", json={}).status_code == 405


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_every_method_given_answers(svc: Any, method: str) -> None:
    response = svc.client.request(method, "/v2/echo", json={"value": 3, "times": 2})
    assert response.status_code == 200 and response.json() == [3, 3]


def test_a_method_not_given_is_405(svc: Any) -> None:
    assert svc.get("/v2/echo").status_code == 405
    assert svc.get("/classify").status_code == 405


def test_get_and_post_on_one_entrypoint(svc: Any) -> None:
    assert svc.get("/status").json() == {"ok": True, "verbose": False}
    assert svc.post("/status", json={"verbose": True}).json() == {"ok": True, "verbose": True}


def test_a_callable_instance_from_add_routes_gets_the_fields(svc: Any) -> None:
    response = svc.post("/seed/classify", json={"text": "the cat"})
    assert response.status_code == 200, response.text
    assert response.json() == {"language": "en", "confidence": 0.71}


def test_invalid_request_from_a_route_handler_is_400(svc: Any) -> None:
    response = svc.post("/seed/classify", json={"text": ""})
    assert response.status_code == 400 and response.json()["detail"] == "Missing text"
    response = svc.post("/seed/predict", json={"count": 2})
    assert response.status_code == 400 and response.json()["detail"] == "Missing text"


def test_a_route_schema_validates_the_request(svc: Any) -> None:
    ok = svc.post("/seed/predict", json={"title": "news", "count": 2})
    assert ok.status_code == 200 and ok.json() == {"title": "news", "count": 2, "version": "0.0.1"}
    unknown = svc.post("/seed/predict", json={"title": "news", "extra": 1})
    assert unknown.status_code == 400 and "mvitests.Article" in unknown.json()["detail"]
    wrong = svc.post("/seed/predict", json={"title": "news", "count": "many"})
    assert wrong.status_code == 400 and "count" in wrong.json()["detail"]


def test_the_docs_list_the_chosen_routes(svc: Any) -> None:
    paths = svc.get("/openapi.json").json()["paths"]
    assert set(paths["/"]) == {"get"}
    assert set(paths["/v2/echo"]) == {"post", "put"}
    assert set(paths["/status"]) == {"get", "post"}
    assert {"/classify", "/seed/classify", "/seed/predict"} <= set(paths)
    assert "/index" not in paths and "/ClassifyHandler" not in paths


def test_the_metrics_name_each_route_by_its_entrypoint(svc: Any) -> None:
    svc.post("/seed/classify", json={"text": "x"})
    metrics = svc.get("/~metrics").text
    assert 'entrypoint="ClassifyHandler"' in metrics and 'entrypoint="classify"' in metrics
