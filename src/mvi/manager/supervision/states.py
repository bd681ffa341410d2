"""The life of one supervised service version, as a state machine without I/O.

The supervisor feeds it events (started, ready, exited, timed out, stop asked) with the
current time and acts on what it answers (restart after a delay, give up, stay stopped).
Time is passed in, so every rule here is unit-tested without processes or clocks.

Statuses::

    building ──> starting ──> running ──> crashed ──> starting ...   (backoff between)
                    │  ^          │           │
                    │  └──────────┘ (restart) │
                    ├──> failed   (never became ready after a deploy/start/restart)
                    └──> stopped  (asked to stop; from any status but building)

A version that exits or misses the startup timeout before it was ever ready since the last
deploy/start/restart is ``failed`` and not restarted (its logs say why); one that was ready
and then exits is ``crashed`` and restarted after ``initial * 2**(n-1)`` seconds, capped at
``maximum``; ``n`` counts consecutive crashes and goes back to 0 once the version has run
for ``reset_after`` seconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from mvi._exceptions import InvalidTransition

__all__ = ["TRANSITIONS", "RestartPolicy", "Status", "Supervision", "readiness_of"]


def readiness_of(web_app: bool, ready_status: int, root_status: int | None = None) -> bool | None:
    """Whether a version is ready, from the status its ``~ready`` answered.

    An SDK service is ready when ``{root}/~ready`` answers 200. A web app (``APP_SCRIPT``,
    ``APP_MODULE`` or a deploy with ``--port``) that has a ``/~ready`` is judged by it too;
    one that has none (404 or 405 there) is ready once ``/`` answers below 500 — ``None``
    asks for that answer (``root_status``) when it is not given.
    """
    if ready_status == 200:
        return True
    if not web_app or ready_status not in (404, 405):
        return False
    if root_status is None:
        return None
    return root_status < 500


class Status(enum.StrEnum):
    """Where a service version is in its life."""

    BUILDING = "building"
    STARTING = "starting"
    RUNNING = "running"
    CRASHED = "crashed"
    STOPPED = "stopped"
    FAILED = "failed"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.BUILDING: frozenset({Status.STARTING, Status.FAILED, Status.STOPPED}),
    Status.STARTING: frozenset(
        {Status.RUNNING, Status.CRASHED, Status.FAILED, Status.STOPPED, Status.STARTING}
    ),
    Status.RUNNING: frozenset({Status.CRASHED, Status.STOPPED, Status.STARTING}),
    Status.CRASHED: frozenset({Status.STARTING, Status.STOPPED, Status.FAILED}),
    Status.STOPPED: frozenset({Status.STARTING, Status.STOPPED}),
    Status.FAILED: frozenset({Status.STARTING, Status.STOPPED, Status.FAILED}),
}
"""Every status a status may move to."""


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff between restarts of a crashing version."""

    initial: float = 1.0
    maximum: float = 60.0
    reset_after: float = 60.0

    def delay(self, crashes: int) -> float:
        """Seconds to wait before restart number ``crashes`` (1 for the first crash)."""
        if crashes < 1:
            return 0.0
        # 2**n grows without bound; cap the exponent so the float never overflows.
        return min(self.initial * 2.0 ** min(crashes - 1, 60), self.maximum)


@dataclass
class Supervision:
    """The state of one version: status, since when, and the crash history.

    ``since`` is wall-clock seconds (shown to people); ``ready_at`` is monotonic seconds
    (for the reset rule). ``established`` says the version has been ready since the last
    deploy/start/restart, which turns an early exit into a crash rather than a failure.
    """

    policy: RestartPolicy
    status: Status
    since: float
    crashes: int = 0
    restarts: int = 0
    established: bool = False
    ready_at: float | None = None
    message: str = ""
    history: list[Status] = field(default_factory=list, repr=False)

    def _move(self, status: Status, wall: float, message: str) -> None:
        if status not in TRANSITIONS[self.status]:
            raise InvalidTransition(f"{self.status} -> {status} is not allowed")
        if status != self.status:
            self.since = wall
            self.history.append(status)
        self.status = status
        self.message = message

    # -- commands ----------------------------------------------------------------------
    def start_requested(self, wall: float) -> None:
        """An operator (deploy, start, restart) asks for the version to run: a fresh start."""
        self.established = False
        self.crashes = 0
        self.ready_at = None
        self._move(Status.STARTING, wall, "")

    def stop_requested(self, wall: float, message: str = "stopped on request") -> None:
        """The version was stopped on purpose (it is not restarted)."""
        self.ready_at = None
        self._move(Status.STOPPED, wall, message)

    # -- observations --------------------------------------------------------------------
    def adopted(self, wall: float) -> None:
        """The manager restarted and found this version's process: it ran fine before."""
        self.established = True
        self._move(Status.STARTING, wall, "adopted after a manager restart")

    def restarting(self, wall: float) -> None:
        """The backoff delay is over and the process is being started again."""
        self.restarts += 1
        self._move(Status.STARTING, wall, f"restart {self.restarts} after a crash")

    def became_ready(self, wall: float, monotonic: float) -> None:
        """The process answers ``/~ready``."""
        self.established = True
        self.ready_at = monotonic
        self._move(Status.RUNNING, wall, "")

    def exited(self, wall: float, monotonic: float, reason: str) -> float | None:
        """The process ended without being asked to.

        Returns the seconds to wait before starting it again, or ``None`` when the version
        is ``failed`` and stays down until an operator starts it.
        """
        return self._went_down(wall, monotonic, reason)

    def timed_out(self, wall: float, monotonic: float, timeout: float) -> float | None:
        """The process did not answer ``/~ready`` within ``timeout`` (it gets killed)."""
        return self._went_down(wall, monotonic, f"not ready within {timeout:g}s")

    def _went_down(self, wall: float, monotonic: float, reason: str) -> float | None:
        if not self.established:
            self._move(Status.FAILED, wall, reason)
            return None
        if self.ready_at is not None and monotonic - self.ready_at >= self.policy.reset_after:
            self.crashes = 0
        self.ready_at = None
        self.crashes += 1
        delay = self.policy.delay(self.crashes)
        self._move(Status.CRASHED, wall, f"{reason}; restarting in {delay:g}s")
        return delay
