"""Durable monitoring through a real service: SIGKILL under load loses no record of a call
that was answered 200 (MVI_MONITOR_DURABLE, the default), and with the opt-out calls answer
before their records are written, so a SIGKILL loses what was queued, as documented."""

from __future__ import annotations

import signal
import sqlite3
import threading
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import wait_for

SERVICE = """
from mvi import service

@service.entrypoint(monitor=True)
async def hello(name: str) -> str:
    return "Hello " + name

if __name__ == "__main__":
    service.run()
"""

CLIENTS = 8
MAX_CALLS = 600  # in all: bounded load
KILL_AFTER = 60  # calls answered when the process is killed (mid-load)
INTERVAL = "5"  # MVI_MONITOR_FLUSH_INTERVAL: far longer than the load takes


class Load:
    """Several clients calling ``hello`` until MAX_CALLS are made or the service is gone;
    ``answered`` holds the names whose calls were answered 200."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answered: set[str] = set()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]
        for thread in self._threads:
            thread.start()

    def _client(self, number: int) -> None:
        with httpx.Client(timeout=30) as http:
            for i in range(MAX_CALLS // CLIENTS):
                name = f"c{number}-{i}"
                try:
                    answer = http.post(f"{self.url}/hello", json={"name": name})
                except httpx.TransportError:
                    return
                if answer.status_code == 200:
                    with self._lock:
                        self.answered.add(name)

    def join(self) -> set[str]:
        for thread in self._threads:
            thread.join(60)
        return self.answered


def _stored_names(svc: Any) -> set[str]:
    with sqlite3.connect(svc.workdir / ".mvi" / "monitoring.db") as db:
        rows = db.execute(
            "SELECT value FROM mvi_monitoring_values AS r "
            "JOIN mvi_monitoring_variables AS v ON v.id = r.variable_id "
            "WHERE v.name = 'hello_request'"
        ).fetchall()
    return {orjson.loads(value)["name"] for (value,) in rows}


def _killed_under_load(start_service: Any, durable: str) -> tuple[set[str], set[str]]:
    svc = start_service(
        SERVICE, env={"MVI_MONITOR_DURABLE": durable, "MVI_MONITOR_FLUSH_INTERVAL": INTERVAL}
    )
    assert svc.post("/hello", json={"name": "warm"}).status_code == 200
    load = Load(svc.url)
    # group commit: no call waits for the 5 s interval, so these come quickly
    wait_for(lambda: len(load.answered) >= KILL_AFTER, timeout=float(INTERVAL) - 1)
    svc.proc.send_signal(signal.SIGKILL)  # mid-load
    svc.proc.wait(10)
    answered = load.join()
    assert len(answered) < MAX_CALLS  # the kill came before the load ended
    return answered, _stored_names(svc)


@pytest.mark.parametrize("run", range(2))
def test_sigkill_under_load_loses_no_record_of_an_answered_call(
    start_service: Any, run: int
) -> None:
    answered, stored = _killed_under_load(start_service, "true")
    assert answered - stored == set()


def test_without_durable_answers_come_first_and_a_sigkill_loses_the_queued_records(
    start_service: Any,
) -> None:
    answered, stored = _killed_under_load(start_service, "false")
    assert answered - stored  # still queued when the process was killed: lost
