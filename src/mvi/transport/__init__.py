"""Bytes between processes: frames of msgpack with raw array buffers, and framed JSON channels.

:mod:`mvi.transport.framing` is the binary framing of the entrypoint worker processes;
:mod:`mvi.transport.channel` the JSON channel between the HTTP processes of one service.
Nothing here is ever unpickled: a peer's bytes are data, checked before they are used.
"""
