"""The logger of link service files, and where its lines go.

``get_logger()`` in a service file gives the logger the framework sets up: console lines
at ``console_loglevel`` (``-cl``), and with ``log_path`` (``-l``) a file rotated every hour
that keeps ``backup_count`` (``-bc``) old files, at ``file_loglevel`` (``-f``).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

__all__ = ["LOGGER_NAME", "configure_logging", "get_logger"]

LOGGER_NAME = "mvi.links"
_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"
_OURS = "_mvi_links_handler"


def get_logger() -> logging.Logger:
    """The logger for a link service file (``LOG = get_logger()``)."""
    return logging.getLogger(f"{LOGGER_NAME}.service")


def _level(value: str | int, flag: str) -> int:
    if isinstance(value, int):
        return value
    level = logging.getLevelName(str(value).upper())
    if not isinstance(level, int):
        raise ValueError(f"{flag}: {value!r} is not a log level (DEBUG, INFO, WARNING, ERROR)")
    return level


def configure_logging(
    console_loglevel: str | int = "INFO",
    log_path: str | Path | None = None,
    file_loglevel: str | int = "INFO",
    backup_count: int = 24,
    name: str = "service",
) -> None:
    """Send the links loggers' lines to stderr, and to an hourly file under ``log_path``.

    ``log_path`` is a folder (the file is ``{name}.log`` in it) or a path ending in
    ``.log``. Calling it again replaces what an earlier call set up.
    """
    console = _level(console_loglevel, "-cl")
    file_level = _level(file_loglevel, "-f")
    if backup_count < 0:
        raise ValueError("-bc: the backup count must be 0 or more")
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if getattr(handler, _OURS, False):
            logger.removeHandler(handler)
            handler.close()
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(console)
    handlers: list[logging.Handler] = [stream]
    levels = [console]
    if log_path is not None:
        path = Path(log_path).expanduser()
        if path.suffix != ".log":
            path = path / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.TimedRotatingFileHandler(
            path, when="H", backupCount=backup_count, encoding="utf-8"
        )
        rotating.setLevel(file_level)
        handlers.append(rotating)
        levels.append(file_level)
    for handler in handlers:
        handler.setFormatter(logging.Formatter(_FORMAT))
        setattr(handler, _OURS, True)
        logger.addHandler(handler)
    logger.setLevel(min(levels))
    logger.propagate = False
