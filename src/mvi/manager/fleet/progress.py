"""What each deploy is doing, as it happens, kept in memory for the dashboard, no I/O.

:class:`DeployProgress` holds one :class:`DeployLog` per version being (or lately) deployed:
its steps (received, building, starting) and the environment builder's output, line by
line, as uv prints it, then the outcome (the final status, or the error). Bounded: a log
keeps its last :data:`MAX_LINES` lines and only the latest :data:`KEPT_DEPLOYS` deploys are
remembered. The dashboard's deploy page streams a log while its upload is answered.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

__all__ = ["KEPT_DEPLOYS", "MAX_LINES", "DeployLog", "DeployProgress"]

MAX_LINES = 2000
"""Lines each deploy's log keeps (the latest)."""
KEPT_DEPLOYS = 20
"""How many deploys' logs are remembered."""


@dataclass
class DeployLog:
    """One deploy: its lines so far and, once over, its outcome."""

    started: float = field(default_factory=time.time)
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_LINES))
    count: int = 0
    """Lines written so far (also those the bound dropped): where a reader is."""
    outcome: str | None = None
    """The final status, or ``None`` while the deploy goes on."""
    error: str | None = None

    def add(self, line: str) -> None:
        """One more line."""
        self.lines.append(line.rstrip("\n"))
        self.count += 1

    def since(self, seen: int) -> list[str]:
        """The lines after the first ``seen`` (those still kept)."""
        missing = self.count - seen
        if missing <= 0:
            return []
        kept = list(self.lines)
        return kept[-min(missing, len(kept)) :]


class DeployProgress:
    """The logs of the latest deploys, by version key (``{name}_{version}``)."""

    def __init__(self) -> None:
        self._logs: OrderedDict[str, DeployLog] = OrderedDict()

    def begin(self, key: str) -> DeployLog:
        """A new log for ``key`` (replacing an older one)."""
        self._logs.pop(key, None)
        log = self._logs[key] = DeployLog()
        while len(self._logs) > KEPT_DEPLOYS:
            self._logs.popitem(last=False)
        return log

    def get(self, key: str) -> DeployLog | None:
        """``key``'s log, if it is remembered."""
        return self._logs.get(key)

    def line(self, key: str, text: str) -> None:
        """A line of ``key``'s deploy (ignored if none is under way)."""
        log = self._logs.get(key)
        if log is not None and log.outcome is None:
            log.add(text)

    def finish(self, key: str, outcome: str, error: str | None = None) -> None:
        """``key``'s deploy is over: its final status, or ``failed`` with the error."""
        log = self._logs.get(key)
        if log is not None and log.outcome is None:
            if error:
                for line in error.splitlines():
                    log.add(line)
            log.outcome, log.error = outcome, error
