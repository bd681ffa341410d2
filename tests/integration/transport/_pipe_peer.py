"""The other process of the named-pipe tests.

    python -m tests.integration.transport._pipe_peer server|client PATH echo|hold

``echo`` sends back every message until the pipe closes; ``hold`` makes its end, says
``READY`` and sleeps (to be killed).
"""

from __future__ import annotations

import sys
import time

from mvi._exceptions import PipeClosed
from mvi.transport import pipe


def main(role: str, path: str, mode: str) -> None:
    end = pipe.Server(path) if role == "server" else pipe.Client(path)
    print("READY", flush=True)
    if mode == "hold":
        time.sleep(3600)
    with end:
        while True:
            try:
                message = end.recv()
            except PipeClosed:
                return
            end.send(message)


if __name__ == "__main__":
    main(*sys.argv[1:4])
