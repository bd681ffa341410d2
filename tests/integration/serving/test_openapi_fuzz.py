"""schemathesis against a real service's OpenAPI document (its entrypoints, parameters,
monitoring and system routes), NaN and Infinity included: no answer is a 5xx."""

from __future__ import annotations

from tests.conftest import ServiceFactory
from tests.openapi_fuzz import server_errors

SERVICE = """
from pydantic import BaseModel
from mvi import service

class Point(BaseModel):
    x: float
    y: float

service.add_parameter("greeting_phrase", "Hello")
service.add_parameter("threshold", 3)
service.add_parameter("ratio", 0.5)

@service.entrypoint
def hello(name: str) -> str:
    return f"{service.get_parameter('greeting_phrase')} {name}"

@service.entrypoint(monitor=True)
def move(point: Point, dx: float = 0.0, steps: int = 1) -> Point:
    service.store(dx=dx, steps=steps)
    return Point(x=point.x + dx * steps, y=point.y)

@service.entrypoint
def scale(values: list[float], factor: float = 1.0) -> list[float]:
    return [v * factor for v in values]

if __name__ == "__main__":
    service.run()
"""


def test_a_service_answers_no_generated_request_with_a_5xx(
    start_module_service: ServiceFactory,
) -> None:
    svc = start_module_service(SERVICE)
    errors = server_errors(f"{svc.url}/openapi.json", svc.url, max_examples=30)
    assert errors == []
