"""hello: an mvi service that greets people by name."""

import logging

from mvi import service
from mvi.communication import Severity, notify

logger = logging.getLogger(__name__)
service.add_parameter("greeting_phrase", "Hello")


@service.entrypoint
def hello(name: str) -> str:
    """Greet one person by name; greeting the whole World raises a warning."""
    if name == "World":
        notify(msg="Greeting the whole World takes too long", severity=Severity.WARNING)
        return "Greeting failed"
    logger.info("Greeting %s", name)
    return f"{service.get_parameter('greeting_phrase')} {name}"


if __name__ == "__main__":
    service.run()
