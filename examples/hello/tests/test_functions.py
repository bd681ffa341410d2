"""Entrypoints stay plain Python functions: call them directly, without a server.

``patch`` (``unittest.mock.patch``) stands in for what would leave the service: patch a
name where service.py looks it up, e.g. ``service.notify``. A service that calls others
patches ``service.call_service`` the same way, giving the other's answer as
``return_value``.
"""

from mvi.communication import Severity
from mvi.testing import patch

from service import hello


def test_hello_called_as_a_function_uses_the_greeting_phrase() -> None:
    assert hello("Bob") == "Hello Bob"
    assert hello(name="Bob") == "Hello Bob"


def test_greeting_the_world_raises_a_warning_notification() -> None:
    with patch("service.notify") as notify:
        assert hello("World") == "Greeting failed"
    notify.assert_called_once()
    assert notify.call_args.kwargs["severity"] is Severity.WARNING
