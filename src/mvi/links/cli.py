"""The command line of link services: ``mvi link ...`` and ``python -m mvi.links ...``.

The seed's flags::

    -s  service file            -a  addresses file (JSON)     -c  config file (JSON)
    -m  main mode               -wt minimum seconds between two turns of the service loop
    -cl console log level       -f  file log level            -bc hourly log files kept
    -l  log folder              -h  help

and ``--http-port PORT`` to answer ``/~health``, ``/~ready``, ``/~metrics`` there. Every
other ``--key value`` (or ``--key=value``) goes into the config. Exit status: 0 after
``main`` returned or a SIGTERM/SIGINT stop, 1 when the service failed, 2 when it could
not start (the message lists every problem).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mvi._exceptions import LinkDefinitionError, LinkError
from mvi.links.logs import get_logger
from mvi.links.models.config import parse_extra_arguments
from mvi.links.service import LinkService

__all__ = ["build_parser", "main"]


def build_parser(prog: str = "mvi link") -> argparse.ArgumentParser:
    """The parser of the seed's flags (extra ``--key value`` pairs are left over)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a link service file: its service loop, or main() with -m. "
        "Every extra --key value goes into the service's config.",
        allow_abbrev=False,
        add_help=False,
    )
    add = parser.add_argument
    add("-h", "--help", action="help", help="show this help and exit")
    add("-s", "--service", dest="service_path", required=True, help="the service file (.py)")
    add("-a", "--addresses", dest="addresses_path", help="the addresses file (JSON)")
    add("-c", "--config", dest="config_path", help="the config file (JSON)")
    add("-m", "--main", dest="main_mode", action="store_true", help="run main(to_send, config)")
    add("-wt", "--wait-time", type=float, default=0.0, help="min seconds between loop turns")
    add("-cl", "--console-log-level", default="INFO", help="console log level (INFO)")
    add("-f", "--file-log-level", default="INFO", help="log file level (INFO)")
    add("-bc", "--backup-count", type=int, default=24, help="hourly log files kept (24)")
    add("-l", "--log-path", help="folder of the hourly log files (none: no file)")
    add("--http-port", type=int, help="answer /~health, /~ready, /~metrics on this port")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "mvi link") -> int:
    """Run the command line; its exit status."""
    parser = build_parser(prog)
    args, rest = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    try:
        extra = parse_extra_arguments(rest)
    except ValueError as exc:
        parser.error(str(exc))
    if args.wait_time < 0 or args.backup_count < 0:
        parser.error("-wt and -bc must be 0 or more")
    try:
        service = LinkService(
            service_path=args.service_path,
            config=args.config_path,
            addresses=args.addresses_path,
            console_loglevel=args.console_log_level,
            log_path=args.log_path,
            file_loglevel=args.file_log_level,
            backup_count=args.backup_count,
            service_loop_min_wait_time=args.wait_time,
            extra_config=extra,
            http_port=args.http_port,
        )
        if args.main_mode:
            service.run_service_as_main_blocking()
        else:
            service.run_service_blocking()
    except LinkDefinitionError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a log level or path the logging setup refused
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except LinkError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except Exception:
        get_logger().exception("the link service failed")
        return 1
    return 0
