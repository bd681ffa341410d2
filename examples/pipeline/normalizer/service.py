"""normalizer: scales a series of values, by mean and standard deviation (the default) or,
with NORMALIZER_METHOD=robust in .s2i/environment, by median and median absolute deviation."""

import os
import statistics

from mvi import InvalidRequest, service

METHOD = os.environ.get("NORMALIZER_METHOD", "standard")


def normalized(values: list[float], method: str = METHOD) -> list[float]:
    """``values`` as distances from their centre, in units of their spread."""
    if len(values) < 2:
        raise InvalidRequest("send at least two values")
    if method == "robust":
        centre = statistics.median(values)
        spread = statistics.median(abs(v - centre) for v in values) * 1.4826
    else:
        centre, spread = statistics.fmean(values), statistics.pstdev(values)
    if spread == 0:
        return [0.0 for _ in values]
    return [round((v - centre) / spread, 6) for v in values]


@service.entrypoint
def normalize(values: list[float]) -> list[float]:
    """The values scaled by this version's method."""
    return normalized(values)


@service.entrypoint
def method() -> str:
    """Which method this version uses."""
    return METHOD


if __name__ == "__main__":
    service.run()
