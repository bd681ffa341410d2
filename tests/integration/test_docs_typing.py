"""Every example of docs/typing.md, run against a real service made of its code blocks.

The page's ```` ```python service ```` blocks, in order, are the service; each
```` ```json POST /name ```` block is posted and the ```` ```json answer [status] ````
block after it must be the answer, exactly; each ```` ```python client ```` block runs
with ``url`` set to the service's address.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "typing.md"
_BLOCK = re.compile(r"^```(\w+)[ \t]*([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Call:
    path: str
    body: Any
    status: int
    answer: Any


def blocks() -> list[tuple[str, str, str]]:
    return [(m[1], m[2].strip(), m[3]) for m in _BLOCK.finditer(DOC.read_text())]


def service_source() -> str:
    code = [body for lang, info, body in blocks() if (lang, info) == ("python", "service")]
    main = 'if __name__ == "__main__":\n    service.run()\n'
    return "\n\n".join(["from mvi import service\n", *code, main])


def calls() -> list[Call]:
    found: list[Call] = []
    pending: tuple[str, Any] | None = None
    for lang, info, body in blocks():
        if lang != "json":
            continue
        words = info.split()
        if words[:1] == ["POST"]:
            assert pending is None, f"{pending} has no answer block in {DOC}"
            pending = (words[1], json.loads(body))
        else:
            assert words[:1] == ["answer"] and pending is not None, f"stray block {info!r}"
            status = int(words[1]) if len(words) > 1 else 200
            found.append(Call(pending[0], pending[1], status, json.loads(body)))
            pending = None
    assert pending is None, f"{pending} has no answer block in {DOC}"
    return found


def clients() -> list[str]:
    return [body for lang, info, body in blocks() if (lang, info) == ("python", "client")]


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    return start_module_service(service_source())


def test_the_page_has_examples_of_every_type() -> None:
    source = service_source()
    for name in ("NDArray", "DataFrame", "ArrayInput", "ArrayOutput", "DataFrameInput"):
        assert f"{name}" in source
    assert "DataFrameOutput" in source and "BaseModel" in source
    assert len(calls()) >= 10 and len(clients()) >= 2


@pytest.mark.parametrize(
    "call", calls(), ids=lambda c: f"{c.path}-{json.dumps(c.body, sort_keys=True)[:40]}"
)
def test_each_example_call_answers_what_the_page_says(svc: Any, call: Call) -> None:
    response = svc.post(call.path, json=call.body)
    assert (response.status_code, response.json()) == (call.status, call.answer)


@pytest.mark.parametrize("code", clients(), ids=lambda code: f"client-{len(code)}")
def test_each_client_example_runs(svc: Any, code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {"url": svc.url})


def test_the_openapi_table_of_the_page_holds(svc: Any) -> None:
    openapi = svc.get("/openapi.json").json()
    schemas = openapi["components"]["schemas"]

    def answer(path: str) -> dict[str, Any]:
        post = openapi["paths"][path]["post"]["responses"]["200"]
        schema: dict[str, Any] = post["content"]["application/json"]["schema"]
        return schema

    arrays = [{"type": "number"}, {"type": "array", "items": {}}]
    for path, request, title in [
        ("/double", "DoubleRequest", "NDArray"),
        ("/scale", "ScaleRequest", "ArrayInput"),
    ]:
        parameter = schemas[request]["properties"]["features"]
        assert (parameter["title"], parameter["anyOf"]) == (title, arrays)
        assert answer(path)["anyOf"] == arrays
    frames = [
        {"type": "array", "items": {"type": "object"}},
        {"type": "object", "additionalProperties": {"type": "array"}},
        {"type": "object", "additionalProperties": {"type": "object"}},
    ]
    for path, request, title, answered in [
        ("/add_total", "AddTotalRequest", "DataFrame", frames[0]),
        ("/with_total", "WithTotalRequest", "DataFrameInput", frames[2]),
    ]:
        parameter = schemas[request]["properties"]["table"]
        assert (parameter["title"], parameter["anyOf"]) == (title, frames)
        assert {k: v for k, v in answer(path).items() if k in answered} == answered
    assert answer("/with_total")["description"] == (
        "DataFrame.to_dict()'s shape: {column: {index: value}}"
    )
