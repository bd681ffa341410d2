"""A real Streamlit app and a real Dash app, deployed to the manager and used through its gateway.

The Streamlit app starts from an ``APP_SCRIPT`` (``streamlit run``); the test loads its page
and runs its script over ``/_stcore/stream``, the WebSocket its browser client uses, with
Streamlit's own protobuf messages. The Dash app is its Flask ``server`` (``APP_MODULE``, a
WSGI app); the test loads its page and layout and calls its callback as the browser does.
Both install their frameworks from the package index into one environment (the same
requirements, so the second deploy reuses the first's); that build is the slow part, so the
module's tests may take up to ``BUILD_TIMEOUT`` seconds.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.manager.conftest import Manager, make_project
from websockets.sync.client import connect

BUILD_TIMEOUT = 600
REQUIREMENTS = "streamlit\ndash\n"
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT)

pytest.importorskip("streamlit", reason="the test extra installs streamlit")
pytest.importorskip("dash", reason="the test extra installs dash")

STREAMLIT_APP = """\
import streamlit as st

st.markdown("Hello from Streamlit behind the gateway")
"""

STREAMLIT_SCRIPT = """\
exec streamlit run app.py --server.port "$PORT" --server.address 127.0.0.1 \\
    --server.headless true --browser.gatherUsageStats false
"""

DASH_APP = """\
import os

from dash import Dash, Input, Output, dcc, html

prefix = f"/services/{os.environ['MVI_SERVICE_NAME']}/"
app = Dash(__name__, requests_pathname_prefix=prefix, routes_pathname_prefix="/")
app.layout = html.Div([dcc.Input(id="inp", value="a"), html.Div(id="out")])


@app.callback(Output("out", "children"), Input("inp", "value"))
def shout(value):
    return f"You typed {value}"


server = app.server
"""


def deployed(
    manager: Manager, base: Path, name: str, environment: str, files: dict[str, str]
) -> Iterator[str]:
    """Deploy a project of ``files`` (and the shared requirements) as ``name`` 1.0.0."""
    root = make_project(
        base / "project", "", requirements=REQUIREMENTS, environment=environment, files=files
    )
    (root / "service.py").unlink()
    manager.ok("deploy", name, "1.0.0", str(root), timeout=BUILD_TIMEOUT)
    yield name
    manager.cli("kill", name, "--all", "--yes")


@pytest.fixture(scope="module")
def streamlit_app(manager: Manager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    files = {"app.py": STREAMLIT_APP, "run.sh": STREAMLIT_SCRIPT}
    base = tmp_path_factory.mktemp("streamlit")
    yield from deployed(manager, base, "web_streamlit", "APP_SCRIPT=run.sh\n", files)


@pytest.fixture(scope="module")
def dash_app(manager: Manager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    environment = "APP_MODULE=dash_app:server\n"
    base = tmp_path_factory.mktemp("dash")
    yield from deployed(manager, base, "web_dash", environment, {"dash_app.py": DASH_APP})


def test_streamlit_page_loads_through_the_gateway(manager: Manager, streamlit_app: str) -> None:
    page = manager.http.get(f"/services/{streamlit_app}/")
    assert page.status_code == 200
    assert "<title>Streamlit</title>" in page.text
    health = manager.http.get(f"/services/{streamlit_app}/_stcore/health")
    assert (health.status_code, health.text) == (200, "ok")


def test_streamlit_runs_its_script_over_the_stream_websocket(
    manager: Manager, streamlit_app: str
) -> None:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    rerun = BackMsg()
    rerun.rerun_script.query_string = ""
    texts: list[str] = []
    kinds: list[str | None] = []
    with connect(
        f"ws://127.0.0.1:{manager.port}/services/{streamlit_app}/_stcore/stream",
        additional_headers={"authorization": f"Bearer {manager.token}"},
        proxy=None,
        max_size=None,
    ) as ws:
        ws.send(rerun.SerializeToString())
        deadline = time.monotonic() + 60
        while "script_finished" not in kinds:
            assert time.monotonic() < deadline, f"no script_finished; got {kinds}"
            message = ForwardMsg()
            message.ParseFromString(ws.recv(timeout=60))
            kinds.append(message.WhichOneof("type"))
            if kinds[-1] == "delta":
                texts.append(message.delta.new_element.markdown.body)
    assert "new_session" in kinds
    assert "Hello from Streamlit behind the gateway" in texts


def test_dash_page_and_layout_load_through_the_gateway(manager: Manager, dash_app: str) -> None:
    page = manager.http.get(f"/services/{dash_app}/")
    assert page.status_code == 200
    config = re.search(
        r'<script id="_dash-config" type="application/json">(.*?)</script>', page.text, re.S
    )
    assert config is not None, page.text
    assert json.loads(config[1])["requests_pathname_prefix"] == "/services/web_dash/"
    layout = manager.http.get(f"/services/{dash_app}/_dash-layout")
    assert layout.status_code == 200
    assert layout.json()["props"]["children"][0]["props"]["id"] == "inp"


def test_dash_callback_answers_through_the_gateway(manager: Manager, dash_app: str) -> None:
    response = manager.http.post(
        f"/services/{dash_app}/_dash-update-component",
        json={
            "output": "out.children",
            "outputs": {"id": "out", "property": "children"},
            "inputs": [{"id": "inp", "property": "value", "value": "through the gateway"}],
            "changedPropIds": ["inp.value"],
            "state": [],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["response"] == {"out": {"children": "You typed through the gateway"}}
