"""Defining entrypoints: decorator forms, request models, refusals and direct calls."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

import mvi
from mvi import EntrypointDefinitionError, Service


def request_schema(service: Service, name: str) -> dict[str, Any]:
    return service.entrypoints[name].request_model.model_json_schema()


# -- decorator forms ---------------------------------------------------------------------------


def test_bare_decorator_registers_function_under_its_name() -> None:
    service = Service()

    @service.entrypoint
    def hello(name: str) -> str:
        return f"Hello {name}"

    assert list(service.entrypoints) == ["hello"]
    assert service.entrypoints["hello"].monitor is False
    assert hello("Ada") == "Hello Ada"


def test_called_decorator_registers_function_with_options() -> None:
    service = Service()

    @service.entrypoint(monitor=True, tags=["greeting"])
    def hello(name: str) -> str:
        return f"Hello {name}"

    entrypoint = service.entrypoints["hello"]
    assert entrypoint.monitor is True
    assert entrypoint.options == {"tags": ["greeting"]}
    assert hello(name="Ada") == "Hello Ada"


def test_called_decorator_without_arguments_registers_function() -> None:
    service = Service()

    @service.entrypoint()
    def ping() -> str:
        return "pong"

    assert list(service.entrypoints) == ["ping"]
    assert ping() == "pong"


@pytest.mark.parametrize("not_callable", [5, "hello", [1, 2], object()])
def test_non_callable_is_refused_with_type_error(not_callable: Any) -> None:
    service = Service()
    with pytest.raises(TypeError, match="callable"):
        service.entrypoint(not_callable)
    assert service.entrypoints == {}


def test_called_form_decorator_refuses_non_callable() -> None:
    service = Service()
    with pytest.raises(TypeError, match="callable"):
        service.entrypoint(monitor=True)(42)


def test_decorated_function_keeps_name_and_docstring() -> None:
    service = Service()

    @service.entrypoint
    def documented(x: int) -> int:
        """Doubles x."""
        return 2 * x

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Doubles x."
    assert documented.__mvi_entrypoint__ is service.entrypoints["documented"]


# -- request models --------------------------------------------------------------------------


def test_required_and_default_parameters_in_request_schema() -> None:
    service = Service()

    @service.entrypoint
    def predict(features: list[float], threshold: float = 0.5, label: str = "x") -> bool:
        return True

    schema = request_schema(service, "predict")
    assert schema["title"] == "PredictRequest"
    assert schema["required"] == ["features"]
    props = schema["properties"]
    assert props["features"]["type"] == "array"
    assert props["features"]["items"] == {"type": "number"}
    assert props["threshold"] == {"default": 0.5, "title": "Threshold", "type": "number"}
    assert props["label"]["default"] == "x"


def test_snake_case_name_gives_camel_case_request_model() -> None:
    service = Service()

    @service.entrypoint
    def get_user_score(user_id: int) -> int:
        return user_id

    assert service.entrypoints["get_user_score"].request_model.__name__ == "GetUserScoreRequest"


def test_function_without_parameters_has_empty_request_model() -> None:
    service = Service()

    @service.entrypoint
    def noargs() -> str:
        return "ok"

    schema = request_schema(service, "noargs")
    assert schema["properties"] == {}
    assert "required" not in schema


def test_unannotated_parameter_accepts_any_json() -> None:
    service = Service()

    @service.entrypoint
    def anything(payload, n: int = 1):  # type: ignore[no-untyped-def]
        return {"payload": payload, "n": n}

    props = request_schema(service, "anything")["properties"]
    assert props["payload"] == {"title": "Payload"}  # no type constraint at all
    model = service.entrypoints["anything"].request_model
    for value in [None, 1, "s", [1, "a", None], {"nested": {"deep": [1.5]}}]:
        assert model.model_validate_json(json.dumps({"payload": value})).payload == value
        assert anything(value) == {"payload": value, "n": 1}


class Point(BaseModel):
    x: float
    y: float


class Score(BaseModel):
    value: float


def test_pydantic_model_parameter_is_nested_in_request_schema() -> None:
    service = Service()

    @service.entrypoint
    def norm(point: Point) -> float:
        return (point.x**2 + point.y**2) ** 0.5

    schema = request_schema(service, "norm")
    assert schema["required"] == ["point"]
    assert schema["properties"]["point"] == {"$ref": "#/$defs/Point"}
    assert norm({"x": 3, "y": 4}) == 5.0


class Plain:
    """A class pydantic has no JSON schema for."""


def test_parameter_type_without_json_schema_is_refused_naming_function_and_parameter() -> None:
    service = Service()

    def embed(text: str, tokenizer: Plain) -> list[float]:
        return []

    with pytest.raises(EntrypointDefinitionError) as info:
        service.entrypoint(embed)
    message = str(info.value)
    assert "'embed'" in message
    assert "'tokenizer'" in message
    assert "Plain" in message
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, mvi.ConfigurationError)
    assert service.entrypoints == {}


def test_return_type_without_json_schema_is_refused() -> None:
    service = Service()

    def build(text: str) -> Plain:
        return Plain()

    with pytest.raises(EntrypointDefinitionError, match=r"'build'.*return type"):
        service.entrypoint(build)


def test_unresolvable_forward_reference_is_refused() -> None:
    service = Service()

    def broken(x: NoSuchType) -> int:  # type: ignore[name-defined]  # noqa: F821
        return 1

    with pytest.raises(EntrypointDefinitionError, match="'broken'"):
        service.entrypoint(broken)


def test_var_positional_parameter_is_refused() -> None:
    service = Service()

    def spread(*values: int) -> int:
        return sum(values)

    with pytest.raises(EntrypointDefinitionError, match="values"):
        service.entrypoint(spread)


def test_var_keyword_parameter_is_refused() -> None:
    service = Service()

    def options(name: str, **extra: Any) -> str:
        return name

    with pytest.raises(EntrypointDefinitionError, match="extra"):
        service.entrypoint(options)


def test_positional_only_parameter_is_refused() -> None:
    service = Service()

    def positional(x: int, /) -> int:
        return x

    with pytest.raises(EntrypointDefinitionError, match="positional-only"):
        service.entrypoint(positional)


def test_lambda_is_refused_because_its_name_is_not_an_identifier() -> None:
    service = Service()
    with pytest.raises(EntrypointDefinitionError, match="identifier"):
        service.entrypoint(lambda x: x)


# -- direct calls ------------------------------------------------------------------------------


def test_decorated_function_validates_arguments() -> None:
    service = Service()

    @service.entrypoint
    def hello(name: str) -> str:
        return f"Hello {name}"

    with pytest.raises(ValidationError) as info:
        hello(5)
    assert info.value.errors()[0]["loc"] == ("name",)
    with pytest.raises(TypeError):  # a missing argument is a binding error, as in plain Python
        hello()


def test_decorated_function_coerces_arguments_to_type_hints() -> None:
    service = Service()

    @service.entrypoint
    def add(a: int, b: int) -> int:
        return a + b

    assert add("1", 2) == 3
    assert add(a="10", b="5") == 15
    with pytest.raises(ValidationError):
        add("one", 2)


def test_decorated_function_fills_defaults() -> None:
    service = Service()

    @service.entrypoint
    def scale(x: float, factor: float = 2.0) -> float:
        return x * factor

    assert scale(3) == 6.0
    assert scale(3, factor="0.5") == 1.5


def test_async_function_stays_awaitable() -> None:
    service = Service()

    @service.entrypoint
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    assert inspect.iscoroutinefunction(double)
    assert service.entrypoints["double"].is_async is True
    assert asyncio.run(asyncio.wait_for(double("21"), timeout=5)) == 42


def test_async_function_validates_arguments_when_called() -> None:
    service = Service()

    @service.entrypoint
    async def double(x: int) -> int:
        return 2 * x

    with pytest.raises(ValidationError):
        asyncio.run(asyncio.wait_for(double("not a number"), timeout=5))


# -- callable instances ---------------------------------------------------------------------


class Shouter:
    """A model-like callable: loads in ``__init__``, predicts in ``__call__``."""

    instances = 0

    def __init__(self) -> None:
        type(self).instances += 1
        self.suffix = "!"

    def __call__(self, text: str) -> str:
        return text.upper() + self.suffix


def test_callable_instance_is_an_entrypoint_named_after_its_class() -> None:
    service = Service()
    Shouter.instances = 0
    model = Shouter()
    shout = service.entrypoint(model)

    assert list(service.entrypoints) == ["Shouter"]
    entrypoint = service.entrypoints["Shouter"]
    assert entrypoint.func is model
    assert entrypoint.parameter_names == ("text",)  # ``self`` is not a request field
    assert request_schema(service, "Shouter")["required"] == ["text"]
    assert shout("hi") == "HI!"
    with pytest.raises(ValidationError):
        shout(5)
    assert Shouter.instances == 1  # loaded once, not per call


def test_callable_instance_answers_over_the_app() -> None:
    service = Service()
    service.entrypoint(Shouter())
    with TestClient(service.app) as client:
        response = client.post("/Shouter", json={"text": "hey"})
    assert response.status_code == 200
    assert response.json() == "HEY!"


def test_async_callable_instance_is_async() -> None:
    class AsyncModel:
        async def __call__(self, x: int) -> int:
            return x + 1

    service = Service()
    call = service.entrypoint(AsyncModel())
    assert service.entrypoints["AsyncModel"].is_async is True
    assert asyncio.run(asyncio.wait_for(call(1), timeout=5)) == 2


# -- names ------------------------------------------------------------------------------------


def test_duplicate_entrypoint_name_is_refused() -> None:
    service = Service()

    @service.entrypoint
    def predict(x: int) -> int:
        return x

    def other_predict(x: int) -> int:
        return -x

    other_predict.__name__ = "predict"
    with pytest.raises(ValueError, match="'predict' already exists"):
        service.entrypoint(other_predict)
    assert service.entrypoints["predict"].func is not other_predict


def test_same_name_in_two_services_is_allowed() -> None:
    first, second = Service(), Service()

    def predict(x: int) -> int:
        return x

    first.entrypoint(predict)
    second.entrypoint(predict)
    assert "predict" in first.entrypoints
    assert "predict" in second.entrypoints


# -- FastAPI options ---------------------------------------------------------------------------


def test_fastapi_kwargs_appear_in_openapi() -> None:
    service = Service()

    @service.entrypoint(status_code=201, response_model=Score, tags=["ml"], summary="Score it")
    def score(x: float):  # type: ignore[no-untyped-def]
        return {"value": x}

    openapi = service.app.openapi()
    operation = openapi["paths"]["/score"]["post"]
    assert operation["summary"] == "Score it"
    assert operation["tags"] == ["ml"]
    assert "201" in operation["responses"]
    assert "200" not in operation["responses"]
    content = operation["responses"]["201"]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/Score"}
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ScoreRequest"}
    assert openapi["components"]["schemas"]["ScoreRequest"]["required"] == ["x"]
    assert service.entrypoints["score"].status_code == 201


def test_entrypoint_added_after_app_is_built_appears_in_openapi() -> None:
    service = Service()
    assert "/late" not in service.app.openapi()["paths"]

    @service.entrypoint
    def late(x: int) -> int:
        return x

    assert "/late" in service.app.openapi()["paths"]


def test_return_annotation_is_the_default_response_model() -> None:
    service = Service()

    @service.entrypoint
    def count(text: str) -> int:
        return len(text)

    operation = service.app.openapi()["paths"]["/count"]["post"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["type"] == "integer"


# -- serving options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"batch_size": 0}, "batch_size", id="batch-size-zero"),
        pytest.param({"batch_size": 2.5}, "batch_size", id="batch-size-float"),
        pytest.param({"batch_size": True}, "batch_size", id="batch-size-bool"),
        pytest.param({"batch_size": 4, "batch_wait": -1}, "batch_wait", id="negative-wait"),
        pytest.param({"batch_wait": 0.01}, "give batch_size", id="wait-without-batching"),
        pytest.param({"workers": -1}, "workers", id="negative-workers"),
        pytest.param({"max_queue": 0}, "max_queue", id="empty-queue"),
        pytest.param({"timeout": 0}, "timeout", id="zero-timeout"),
        pytest.param({"timeout": float("inf")}, "timeout", id="infinite-timeout"),
        pytest.param({"timeout": "60"}, "timeout", id="timeout-as-text"),
        pytest.param({"cache": "yes"}, "cache", id="cache-not-bool"),
        pytest.param({"ttl": 0}, "ttl", id="zero-ttl"),
        pytest.param({"maxsize": 0}, "maxsize", id="zero-maxsize"),
        pytest.param({"cache": False, "ttl": 5}, "cache=False", id="ttl-without-cache"),
        pytest.param({"execution": "gpu"}, "execution", id="unknown-execution"),
        pytest.param({"workers": 2, "execution": "inline"}, "execution", id="execution-workers"),
    ],
)
def test_bad_serving_option_is_refused_at_decoration(options: dict[str, Any], message: str) -> None:
    service = Service()

    def predict(x: list[int]) -> list[int]:
        return x

    with pytest.raises(EntrypointDefinitionError, match=message):
        service.entrypoint(**options)(predict)
    assert service.entrypoints == {}


def test_serving_options_are_split_from_fastapi_options() -> None:
    service = Service()

    @service.entrypoint(timeout=5, max_queue=10, ttl=30, tags=["x"])
    def predict(x: int) -> int:
        return x

    entrypoint = service.entrypoints["predict"]
    assert entrypoint.options == {"tags": ["x"]}
    serving = entrypoint.serving
    assert (serving.timeout, serving.max_queue, serving.cached, serving.cache_size) == (
        5.0,
        10,
        True,
        1024,
    )


def test_batched_entrypoint_describes_one_callers_item() -> None:
    service = Service()

    @service.entrypoint(batch_size=8)
    def embed(texts: list[str], scale: list[float] = 1.0) -> list[list[float]]:  # type: ignore[assignment]
        return [[len(t) * s] for t, s in zip(texts, scale, strict=True)]

    entrypoint = service.entrypoints["embed"]
    assert entrypoint.serving.batched and entrypoint.serving.wait == 0.005
    schema = request_schema(service, "embed")
    assert schema["properties"]["texts"]["type"] == "string"
    assert schema["properties"]["scale"] == {"default": 1.0, "title": "Scale", "type": "number"}
    operation = service.app.openapi()["paths"]["/embed"]["post"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["type"] == "array" and answer["items"] == {"type": "number"}
    assert embed(["ab", "c"], [1.0, 2.0]) == [[2.0], [2.0]]  # direct calls take lists


def test_batched_parameter_must_be_a_list() -> None:
    service = Service()

    def embed(text: str) -> list[float]:
        return []

    with pytest.raises(EntrypointDefinitionError, match=r"list\[X\]"):
        service.entrypoint(batch_size=4)(embed)


class Classifier:
    """Loads in ``__init__`` (counted), classifies in ``__call__``."""

    loads = 0

    def __init__(self) -> None:
        type(self).loads += 1
        self.label = "positive"

    def __call__(self, text: str) -> str:
        return self.label if "good" in text else "negative"


def test_decorated_class_is_an_entrypoint_built_when_served_not_at_import() -> None:
    service = Service()
    Classifier.loads = 0
    decorated = service.entrypoint(Classifier)
    assert decorated is Classifier  # the class stays a class
    entrypoint = service.entrypoints["Classifier"]
    assert entrypoint.is_class and entrypoint.parameter_names == ("text",)
    assert Classifier.loads == 0
    with TestClient(service.app) as client:
        assert Classifier.loads == 1
        assert client.post("/Classifier", json={"text": "good"}).json() == "positive"
        assert client.post("/Classifier", json={"text": "bad"}).json() == "negative"
    assert Classifier.loads == 1


def test_class_needing_constructor_arguments_is_refused() -> None:
    class NeedsPath:
        def __init__(self, path: str) -> None:
            self.path = path

        def __call__(self, x: int) -> int:
            return x

    with pytest.raises(EntrypointDefinitionError, match="no arguments"):
        Service().entrypoint(NeedsPath)


def test_class_without_call_is_refused() -> None:
    class NotCallable:
        pass

    with pytest.raises(EntrypointDefinitionError, match="__call__"):
        Service().entrypoint(NotCallable)


def test_workers_need_an_importable_function_or_class() -> None:
    service = Service()

    def local(x: int) -> int:
        return x

    with pytest.raises(EntrypointDefinitionError, match="module level"):
        service.entrypoint(workers=2)(local)
    with pytest.raises(EntrypointDefinitionError, match="decorate the class"):
        service.entrypoint(workers=2)(Classifier())
    service.entrypoint(workers=2)(Classifier)
    assert service.entrypoints["Classifier"].locator == (__name__, "Classifier")


def test_app_serves_again_under_a_new_test_client_without_lifespan() -> None:
    service = Service()
    Classifier.loads = 0
    service.entrypoint(Classifier)

    @service.entrypoint(timeout=5)
    async def echo(x: int) -> int:
        return x

    for _ in range(3):  # each request of a client without `with` runs on a new event loop
        client = TestClient(service.app)
        assert client.post("/echo", json={"x": 2}).json() == 2
        assert client.post("/Classifier", json={"text": "good"}).json() == "positive"
