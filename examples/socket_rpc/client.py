"""Call the linear model over socket RPC: python client.py --port 9100 1 2 3 4 [...]

Each group of four numbers is one row; the scores of each row are printed, one row a line.
"""

import argparse

import numpy as np

from mvi.transport.rpc import SocketClient


def scores(answer: np.ndarray) -> list[list[float]]:
    """An answer's rows as lists of floats, to three decimals."""
    return np.round(np.asarray(answer, dtype=np.float64), 3).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("features", nargs="+", type=float, help="4 numbers per row")
    args = parser.parse_args()
    if len(args.features) % 4:
        parser.error("give 4 numbers per row")
    rows = np.array(args.features, dtype=np.float32).reshape(-1, 4)
    with SocketClient(host=args.host, port=args.port, connection_timeout=30) as client:
        print(client.request("/info"))
        # one request for all the rows, then the rows one by one, pipelined
        print(scores(client.request("/", rows)))
        for answer in client.stream("/", [row.reshape(1, 4) for row in rows]):
            print(scores(answer))


if __name__ == "__main__":
    main()
