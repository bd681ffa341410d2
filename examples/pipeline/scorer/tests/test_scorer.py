"""The scorer with call_service patched: no normalizer service is needed."""

import service
from mvi.testing import ServiceClient, patch


def test_values_beyond_the_threshold_are_outliers() -> None:
    with patch("service.call_service", return_value=[0.1, -2.5, 0.3, 3.0]) as call:
        answer = service.outliers([1.0, -9.0, 1.2, 12.0])
    call.assert_called_once_with("normalizer", "normalize", {"values": [1.0, -9.0, 1.2, 12.0]})
    assert answer["positions"] == [1, 3] and answer["values"] == [-9.0, 12.0]


def test_the_threshold_is_a_runtime_parameter() -> None:
    with ServiceClient(service.service) as client:
        assert client.post("/~parameters/threshold", json={"value": 3.5}).status_code == 200
        with patch("service.call_service", return_value=[0.1, -2.5, 0.3, 3.0]):
            answer = client.post("/outliers", json={"values": [1.0, -9.0, 1.2, 12.0]})
    assert answer.json()["positions"] == []
