"""The two scaling methods, and the entrypoint in this process."""

import pytest

import service
from mvi.testing import ServiceClient


def test_standard_scaling_centres_on_the_mean() -> None:
    assert service.normalized([1.0, 2.0, 3.0], "standard") == [-1.224745, 0.0, 1.224745]


def test_robust_scaling_ignores_one_extreme_value() -> None:
    scaled = service.normalized([1.0, 2.0, 3.0, 4.0, 100.0], "robust")
    assert scaled[2] == 0.0 and scaled[4] > 30


def test_fewer_than_two_values_are_refused() -> None:
    with ServiceClient(service.service) as client:
        answer = client.post("/normalize", json={"values": [1.0]})
    assert answer.status_code == 400
    with pytest.raises(Exception, match="at least two"):
        service.normalized([1.0])
