"""What a service author declares, without I/O: entrypoints, parameters, schedules.

The runtime :class:`mvi.Service` builds on :class:`ServiceDefinition`; nothing here
imports :mod:`mvi.serving` or :mod:`mvi.manager`.
"""

from mvi.sdk.definition import ServiceDefinition

__all__ = ["ServiceDefinition"]
