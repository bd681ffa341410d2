"""A service's entrypoints over the socket RPC (:mod:`mvi.transport.rpc`), beside HTTP:
:mod:`~mvi.serving.rpc.routes` (the routes, ``~info``, errors as HTTP's categories) and
:mod:`~mvi.serving.rpc.listener` (:class:`~mvi.serving.rpc.listener.ServiceRpc`, where a
running service listens)."""
