"""Bytes between processes: msgpack frames with raw array buffers, socket RPC, named pipes.

- :mod:`mvi.transport.framing`: frames of msgpack with numpy arrays (and pandas
  frames, as columns) beside them as raw buffers; the entrypoint worker processes, the
  socket RPC and the pipes all speak it.
- :mod:`mvi.transport.channel`: framed JSON messages between the HTTP processes of one
  service.
- :mod:`mvi.transport.rpc`: a socket RPC server (routes of an application, on TCP or a
  unix socket) and its clients.
- :mod:`mvi.transport.pipe`: named pipes between two processes (``pipe.Server`` and
  ``pipe.Client``).

Nothing here is ever unpickled: a peer's bytes are data, checked before they are used.
The submodules are imported on first use.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["channel", "framing", "pipe", "rpc"]


def __getattr__(name: str) -> ModuleType:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{name}")
    globals()[name] = module
    return module
