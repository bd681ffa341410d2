"""drift_watch: scores how far a batch of values has drifted from a reference, and raises
a notification, emailed through the manager, when the score crosses a threshold. The
thresholds, the addresses and the email interval are runtime parameters."""

import statistics

from mvi import InvalidRequest, service
from mvi.communication import Severity, notify

service.add_parameter("reference_mean", 0.0)
service.add_parameter("reference_std", 1.0)
service.add_parameter("warning_threshold", 1.0)
service.add_parameter("critical_threshold", 3.0)
service.add_parameter("alert_emails", ["ops@example.com"])
service.add_parameter("email_interval", 3600)


def drift_score(values: list[float], mean: float, std: float) -> float:
    """How many reference standard deviations the batch's mean is from the reference's."""
    if not values:
        raise InvalidRequest("send at least one value")
    if std <= 0:
        raise InvalidRequest("reference_std must be above 0")
    return round(abs(statistics.fmean(values) - mean) / std, 6)


def level(score: float, warning: float, critical: float) -> Severity | None:
    """The severity a score calls for, or None when it is below both thresholds."""
    if score >= critical:
        return Severity.CRITICAL
    if score >= warning:
        return Severity.WARNING
    return None


@service.entrypoint(monitor=True)
def observe(values: list[float]) -> dict[str, object]:
    """Score one batch; notify (and email) when it crosses a threshold."""
    get = service.get_parameter
    score = drift_score(values, get("reference_mean"), get("reference_std"))
    severity = level(score, get("warning_threshold"), get("critical_threshold"))
    if severity is not None:
        notify(
            msg=f"drift {severity.name.lower()}: the batch mean is {score:.1f} standard "
            "deviations from the reference",
            severity=severity,
            emails=get("alert_emails"),
            timer=get("email_interval"),
        )
    return {"score": score, "severity": severity.name if severity else None}


if __name__ == "__main__":
    service.run()
