"""mvi.testing: a service's tests call it in-process (ServiceClient) and patch its calls out."""

from __future__ import annotations

import importlib
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from mvi import Service
from mvi._exceptions import ServingError
from mvi.communication import Severity
from mvi.settings import Settings
from mvi.testing import ServiceClient, patch

# The service's 10 ms tick overruns on a loaded machine, and says so: not what this file tests.
pytestmark = pytest.mark.filterwarnings("ignore:Periodic job tick runs longer:UserWarning")

SERVICE = """
from mvi import Service
from mvi.communication import Severity, call_service, notify
from mvi.exceptions import HTTPException

service = Service()
service.add_parameter("greeting", "Hello")
loaded = []
ticks = []


class Model:
    def __init__(self) -> None:
        loaded.append("model")

    def __call__(self, x: float) -> float:
        return 2 * x


service.entrypoint(Model)


@service.entrypoint
def hello(name: str) -> str:
    if name == "World":
        notify(msg="Greeting the World takes too long", severity=Severity.WARNING)
        return "Greeting failed"
    return f"{service.get_parameter('greeting')} {name}"


@service.entrypoint
def translate(text: str) -> str:
    return call_service("translator", "translate", {"text": text})["text"]


@service.entrypoint
def reserve(seat: str) -> str:
    raise HTTPException(status_code=409, detail=f"seat {seat} is taken")


@service.call_every(seconds=0.01)
def tick() -> None:
    ticks.append(1)


@service.app.get("/broken")
def broken() -> None:
    raise RuntimeError("a bug in a route of the service's own")
"""


@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The service above, imported from its own file as a service's tests import it."""
    folder = tmp_path_factory.mktemp("project")
    name = f"service_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(textwrap.dedent(SERVICE))
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def client(module: ModuleType) -> Iterator[ServiceClient]:
    with ServiceClient(module.service) as http:
        yield http


def test_entrypoints_answer_over_http_without_a_port(client: ServiceClient) -> None:
    assert client.post("/hello", json={"name": "Bob"}).json() == "Hello Bob"
    assert client.post("/Model", json={"x": 1.5}).json() == 3.0
    refused = client.post("/hello", json={"name": 5})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "name"]


def test_the_service_routes_answer_too(client: ServiceClient) -> None:
    assert client.get("/~ready").status_code == 200
    assert client.post("/~parameters/greeting", json={"value": "Hi"}).status_code == 200
    try:
        assert client.post("/hello", json={"name": "Bob"}).json() == "Hi Bob"
    finally:
        client.post("/~parameters/greeting", json={"value": "Hello"})
    assert "/hello" in client.get("/openapi.json").json()["paths"]


def test_startup_ran_before_the_first_request(module: ModuleType, client: ServiceClient) -> None:
    assert module.loaded == ["model"]  # the class entrypoint was built once, at startup
    assert module.service.state == "ready"
    deadline = time.monotonic() + 5
    while not module.ticks and time.monotonic() < deadline:  # the periodic job runs
        time.sleep(0.01)
    assert module.ticks


def test_http_exception_keeps_its_status_and_detail(client: ServiceClient) -> None:
    response = client.post("/reserve", json={"seat": "12A"})
    assert response.status_code == 409
    assert response.json() == {"detail": "seat 12A is taken"}


def test_patched_notify_is_called_instead(module: ModuleType, client: ServiceClient) -> None:
    with patch(f"{module.__name__}.notify") as notify:
        assert client.post("/hello", json={"name": "World"}).json() == "Greeting failed"
        assert module.hello("World") == "Greeting failed"  # a direct call, patched too
    assert notify.call_count == 2
    assert notify.call_args.kwargs["severity"] is Severity.WARNING


def test_patched_call_service_answers_for_the_other_service(
    module: ModuleType, client: ServiceClient
) -> None:
    with patch(f"{module.__name__}.call_service", return_value={"text": "hallo"}) as call:
        assert client.post("/translate", json={"text": "hello"}).json() == "hallo"
    call.assert_called_once_with("translator", "translate", {"text": "hello"})


def test_an_error_in_a_route_of_ones_own_is_raised_in_the_test(client: ServiceClient) -> None:
    with pytest.raises(RuntimeError, match="a bug in a route"):
        client.get("/broken")


def test_without_raise_app_exceptions_the_error_is_a_500(module: ModuleType) -> None:
    with ServiceClient(module.service, raise_app_exceptions=False) as other:
        assert other.get("/broken").status_code == 500
        assert other.post("/hello", json={"name": "Ann"}).json() == "Hello Ann"


def test_the_root_path_is_part_of_every_address() -> None:
    service = Service(settings=Settings(service_root_path="/services/echo_1.0.0"))

    @service.entrypoint
    def echo(text: str) -> str:
        return text

    with ServiceClient(service) as client:
        assert str(client.base_url) == "http://testserver/services/echo_1.0.0/"
        assert client.post("/echo", json={"text": "x"}).json() == "x"
        assert client.get("/~ready").status_code == 200
        docs = client.get("/openapi.json").json()
        assert docs["servers"] == [{"url": "/services/echo_1.0.0"}]  # FastAPI saw root_path


def test_leaving_the_block_shuts_the_service_down_and_it_can_start_again() -> None:
    service = Service()

    @service.entrypoint
    def ping() -> str:
        return "pong"

    for _ in range(2):
        with ServiceClient(service) as client:
            assert client.post("/ping").json() == "pong"
        assert service.state == "stopped"


def test_requests_outside_the_block_say_how_to_use_the_client() -> None:
    client = ServiceClient(Service())
    with pytest.raises(RuntimeError, match="with ServiceClient"):
        client.get("/~ready")


def test_a_failed_startup_is_raised_with_its_cause(tmp_path: Path) -> None:
    service = Service()

    class Broken:
        def __init__(self) -> None:
            raise ValueError("the model file is missing")

        def __call__(self, x: int) -> int:
            return x

    service.entrypoint(Broken)
    with pytest.raises(ServingError, match="startup failed: ValueError: the model") as info:
        ServiceClient(service).__enter__()
    assert isinstance(info.value.__cause__, ValueError)


def test_the_default_service_is_mvi_service() -> None:
    import mvi

    assert ServiceClient().service is mvi.service
