"""scorer: finds the outliers of a series, asking the normalizer service to scale it."""

from mvi import service
from mvi.communication import call_service

service.add_parameter("threshold", 2.0)


@service.entrypoint
def outliers(values: list[float]) -> dict[str, list]:
    """The positions and values whose normalized distance is above the threshold."""
    scaled = call_service("normalizer", "normalize", {"values": values})
    threshold = service.get_parameter("threshold")
    found = [i for i, z in enumerate(scaled) if abs(z) > threshold]
    return {"positions": found, "values": [values[i] for i in found], "scaled": scaled}


if __name__ == "__main__":
    service.run()
