"""The drift rules as functions, and observe() with notify patched."""

import pytest

import service
from mvi.communication import Severity
from mvi.testing import ServiceClient, patch


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0.5, None), (1.0, Severity.WARNING), (2.9, Severity.WARNING), (3.0, Severity.CRITICAL)],
)
def test_the_thresholds_decide_the_severity(score: float, expected: Severity | None) -> None:
    assert service.level(score, 1.0, 3.0) == expected


def test_the_score_is_in_reference_standard_deviations() -> None:
    assert service.drift_score([2.0, 4.0], mean=1.0, std=2.0) == 1.0


def test_a_drifting_batch_notifies_the_addresses_with_the_interval() -> None:
    with patch("service.notify") as notify:
        answer = service.observe([5.0, 5.0])
    assert answer == {"score": 5.0, "severity": "CRITICAL"}
    options = notify.call_args.kwargs
    assert options["severity"] == Severity.CRITICAL
    assert options["emails"] == ["ops@example.com"] and options["timer"] == 3600


def test_a_quiet_batch_notifies_nobody() -> None:
    with patch("service.notify") as notify:
        assert service.observe([0.1, -0.1])["severity"] is None
    notify.assert_not_called()


def test_the_thresholds_are_runtime_parameters() -> None:
    with ServiceClient(service.service) as client:
        assert client.post("/~parameters/warning_threshold", json={"value": 10.0}).is_success
        assert client.post("/~parameters/critical_threshold", json={"value": 20.0}).is_success
        assert (
            client.post("/~parameters/critical_threshold", json={"value": "high"}).status_code
            == 422
        )
        with patch("service.notify") as notify:
            assert client.post("/observe", json={"values": [5.0]}).json()["severity"] is None
    notify.assert_not_called()
