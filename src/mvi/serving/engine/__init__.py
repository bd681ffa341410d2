"""The entrypoint engine: how calls of one entrypoint wait, are batched, run and fail.

The decisions are I/O-free and clock-free, each in a module of its own
(:mod:`~mvi.serving.engine.admission`, :mod:`~mvi.serving.engine.batching`,
:mod:`~mvi.serving.engine.deadlines`, :mod:`~mvi.serving.engine.execution`);
:mod:`~mvi.serving.engine.dispatcher` drives them on the event loop, and
:mod:`~mvi.serving.engine.failures` turns what a function raised into an answer.
"""
