"""Entrypoints stay plain Python functions: call them directly, without a server."""

from service import hello


def test_hello_called_as_a_function_uses_the_greeting_phrase() -> None:
    assert hello("Bob") == "Hello Bob"
    assert hello(name="Bob") == "Hello Bob"
