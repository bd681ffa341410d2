"""tiny_mlp: a PyTorch model on the CPU, served with dynamic batching and binary tensors.

Each caller sends one row of 16 features (JSON, `.npy` or msgpack) and gets its 4 class
probabilities; calls that arrive while the model is busy are stacked into one batch (up to
32) and run as one forward pass.
"""

import logging

import numpy as np
import torch

from mvi import InvalidRequest, service
from mvi.data_types import NDArray

logger = logging.getLogger(__name__)

FEATURES, CLASSES = 16, 4
torch.set_num_threads(1)  # one core per model: batching, not threads, brings the speed


def build_model() -> torch.nn.Module:
    """A small multilayer perceptron with fixed weights (seeded), in inference mode."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, CLASSES),
        torch.nn.Softmax(dim=-1),
    )
    return model.eval()


MODEL = build_model()
BATCH_SIZES: list[int] = []  # the sizes of recent batches (what batching did)


def forward(rows: np.ndarray) -> np.ndarray:
    """Class probabilities of a (n, 16) float32 array, as a (n, 4) array."""
    with torch.inference_mode():
        return MODEL(torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))).numpy()


@service.entrypoint(batch_size=32, batch_wait=0.01)
def predict(x: list[NDArray]) -> list[NDArray]:
    """One row of 16 features per call (shape (16,) or (1, 16)); its 4 probabilities."""
    rows = []
    for item in x:
        row = np.asarray(item, dtype=np.float32).reshape(-1)
        if row.shape != (FEATURES,):
            raise InvalidRequest(f"each call sends {FEATURES} features, got shape {item.shape}")
        rows.append(row)
    BATCH_SIZES[:] = [*BATCH_SIZES[-99:], len(rows)]
    return list(forward(np.stack(rows)))


@service.entrypoint
def batch_sizes() -> list[int]:
    """The sizes of the last batches the model ran (at most 100)."""
    return list(BATCH_SIZES)


if __name__ == "__main__":
    service.run()
