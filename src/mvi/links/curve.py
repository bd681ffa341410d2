"""CURVE encryption and authentication of link sockets (ZeroMQ's CurveZMQ).

A connection turns CURVE on with its connection arguments (Z85 text, 40 characters,
made by :func:`curve_keypair`):

- the binding end (a replyer or publisher by default) gives ``curve_secret_key`` (and
  ``curve_public_key``, derived when left out), and, to admit only some clients,
  ``curve_authorized_keys``: their public keys;
- a connecting end gives ``curve_server_key``, the binding end's public key, and its own
  pair (a throwaway pair is made when it gives none).

Traffic is then encrypted; a client with a wrong server key, or a key that is not
authorized, never gets a message through. The keys are checked by one ZAP authenticator
thread per ZeroMQ context, each binding connection in a ZAP domain of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator

__all__ = ["CurveGuard", "curve_keypair", "uses_curve"]


def curve_keypair() -> tuple[str, str]:
    """A new ``(public, secret)`` CURVE key pair, as Z85 text."""
    public, secret = zmq.curve_keypair()
    return public.decode("ascii"), secret.decode("ascii")


def uses_curve(arguments: Mapping[str, Any]) -> bool:
    """Whether these connection arguments turn CURVE on."""
    return bool(arguments.get("curve_secret_key") or arguments.get("curve_server_key"))


def _key(text: str, what: str) -> bytes:
    data = text.strip().encode("ascii")
    if len(data) != 40:
        raise ValueError(f"{what} must be a 40-character Z85 CURVE key (see curve_keypair())")
    return data


class _Keys:
    """The credentials provider of the authenticator: domain -> admitted keys."""

    def __init__(self) -> None:
        self.domains: dict[str, frozenset[bytes] | None] = {}

    def callback(self, domain: str, key: bytes) -> bool:
        admitted = self.domains.get(domain, frozenset())
        return admitted is None or key in admitted


class CurveGuard:
    """Sets CURVE options on sockets of one context, authenticating binding ends' clients."""

    def __init__(self, context: zmq.Context[Any]) -> None:
        self.context = context
        self._keys = _Keys()
        self._authenticator: ThreadAuthenticator | None = None
        self._lock = threading.Lock()

    def apply(
        self, socket: zmq.Socket[Any], arguments: Mapping[str, Any], *, server: bool, domain: str
    ) -> None:
        """Turn CURVE on for ``socket`` (before it binds or connects)."""
        if server:
            secret = _key(arguments.get("curve_secret_key") or "", "curve_secret_key")
            public = arguments.get("curve_public_key")
            socket.curve_secretkey = secret
            socket.curve_publickey = (
                _key(public, "curve_public_key") if public else zmq.curve_public(secret)
            )
            socket.curve_server = True
            socket.zap_domain = domain.encode()
            authorized = arguments.get("curve_authorized_keys")
            self._admit(domain, authorized)
            return
        server_key = arguments.get("curve_server_key")
        if not server_key:
            raise ValueError("curve_server_key (the binding end's public key) is missing")
        secret_text = arguments.get("curve_secret_key")
        if secret_text:
            secret = _key(secret_text, "curve_secret_key")
            public_bytes = zmq.curve_public(secret)
        else:
            public_bytes, secret = zmq.curve_keypair()
        socket.curve_secretkey = secret
        socket.curve_publickey = public_bytes
        socket.curve_serverkey = _key(server_key, "curve_server_key")

    def _admit(self, domain: str, keys: Iterable[str] | None) -> None:
        with self._lock:
            self._keys.domains[domain] = (
                None if keys is None else frozenset(_key(k, "an authorized key") for k in keys)
            )
            if self._authenticator is None:
                self._authenticator = ThreadAuthenticator(self.context)
                self._authenticator.start()
                self._authenticator.configure_curve_callback("*", credentials_provider=self._keys)
            self._authenticator.credentials_providers[domain] = self._keys

    def close(self) -> None:
        """Stop the authenticator thread, if one was started."""
        with self._lock:
            if self._authenticator is not None:
                self._authenticator.stop()
                self._authenticator = None
