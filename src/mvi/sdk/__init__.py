"""The service author's API: :class:`Service` and its parts."""

from mvi.sdk.service import Service

__all__ = ["Service"]
