"""linear: one small numpy model served twice, over HTTP as an mvi service and over socket
RPC (msgpack frames with raw array buffers, never pickle) on RPC_PORT, for callers on the
same machine or network that do not need HTTP."""

import asyncio
import logging
import os
import threading

import numpy as np

from mvi import InvalidRequest, service
from mvi.data_types import NDArray
from mvi.transport.rpc import SocketApplication, make_server

logger = logging.getLogger(__name__)

WEIGHTS = np.arange(12, dtype=np.float32).reshape(4, 3) / 10


def predict_array(x: np.ndarray) -> np.ndarray:
    """The model: rows of 4 features in, rows of 3 scores out."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != 4:
        raise InvalidRequest(f"expected rows of 4 features, got shape {x.shape}")
    return x @ WEIGHTS


@service.entrypoint
def predict(x: NDArray) -> NDArray:
    """Over HTTP: JSON lists, .npy or msgpack bodies (see the typing page)."""
    return predict_array(x)


def rpc_application() -> SocketApplication:
    """The socket RPC routes: "/" predicts, "/info" describes the model."""
    app = SocketApplication()
    app.add_route("/", predict_array)
    app.add_route("/info", lambda: {"inputs": 4, "outputs": 3})
    return app


def serve_rpc(port: int) -> threading.Thread:
    """Serve the RPC routes on 127.0.0.1:port in a thread of their own (its own event loop;
    SIGTERM stays with the HTTP server, which ends the process)."""
    server = make_server(rpc_application(), host="127.0.0.1", port=port, handle_signals=False)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    logger.info("socket RPC on 127.0.0.1:%d", port)
    return thread


if __name__ == "__main__":
    serve_rpc(int(os.environ.get("RPC_PORT", "9100")))
    service.run()
