"""schemathesis against a real server's OpenAPI document: bounded, deterministic examples
of every operation, and each JSON body sent again with NaN and Infinity in every field
(which JSON cannot hold but Python's parser reads); the answers that were 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

NON_FINITE = (float("nan"), float("inf"), float("-inf"))


def _non_finite_bodies(body: Any) -> Iterable[bytes]:
    if not isinstance(body, dict) or not body:
        return
    for value in NON_FINITE:
        yield json.dumps(dict.fromkeys(body, value)).encode()


def server_errors(
    openapi_url: str,
    base_url: str,
    *,
    headers: dict[str, str] | None = None,
    max_examples: int = 25,
    skip: Iterable[str] = (),
    fixed_query: dict[str, str] | None = None,
) -> list[str]:
    """Every 5xx that the examples got (``METHOD path -> status body``); ``skip`` names
    operations (``"POST /api/logout"``) left out, ``fixed_query`` is set on every case
    (e.g. ``follow=false``, so a log stream ends)."""
    headers = headers or {}
    schema = schemathesis.openapi.from_url(openapi_url, headers=headers)
    left_out = set(skip)
    found: list[str] = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=30, trust_env=False) as raw:
        for result in schema.get_all_operations():
            operation = result.ok()
            label = f"{operation.method.upper()} {operation.path}"
            if label not in left_out:
                _fuzz(operation, label, base_url, headers, raw, max_examples, found, fixed_query)
    return found


def _fuzz(
    operation: Any,
    label: str,
    base_url: str,
    headers: dict[str, str],
    raw: httpx.Client,
    max_examples: int,
    found: list[str],
    fixed_query: dict[str, str] | None = None,
) -> None:
    """Run ``max_examples`` examples of one operation, adding each 5xx to ``found``."""

    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        if fixed_query:
            case.query = {**(case.query or {}), **fixed_query}
        response = case.call(base_url=base_url, headers=headers)
        if response.status_code >= 500:
            found.append(f"{label} -> {response.status_code} {response.text[:200]}")
        for body in _non_finite_bodies(case.body):
            path = case.formatted_path
            sent = raw.request(
                case.method,
                path,
                content=body,
                headers={"content-type": "application/json"},
            )
            if sent.status_code >= 500:
                found.append(f"{label} {body!r} -> {sent.status_code} {sent.text[:200]}")

    run()
