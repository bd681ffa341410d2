"""Turning a :class:`mvi.Service` into a running ASGI application."""
