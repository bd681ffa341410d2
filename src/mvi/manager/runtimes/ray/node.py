"""The node helper behind ``mvi node start``: ``ray start`` with mvi's safety environment.

Every machine of a cluster runs it: the head with ``--head``, each worker with the head's
address. The node gets the same environment as the manager's driver
(:mod:`~mvi.manager.runtimes.ray.safety`: its own HOME with the bootstrap config, no usage
reports, the cluster's token) and an explicit node address, so that Ray binds nothing the
operator did not name.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from mvi.manager.runtimes.ray.safety import prepare

__all__ = ["NodeOptions", "node_command", "start_node"]


@dataclass(frozen=True)
class NodeOptions:
    """How one node joins (or, as the head, makes) the cluster."""

    node_ip: str
    head: bool = False
    address: str | None = None
    """The head's ``host:port`` (workers only)."""
    port: int = 6379
    """The head's GCS port (the head only)."""
    num_cpus: float | None = None


def node_command(options: NodeOptions) -> list[str]:
    """The ``ray start --block`` command line of ``options``."""
    if options.head == (options.address is not None):
        raise ValueError("give either --head or the head's --address, not both or neither")
    ray = Path(sys.executable).with_name("ray")
    args = [str(ray), "start", "--block", f"--node-ip-address={options.node_ip}"]
    if options.head:
        args += ["--head", f"--port={options.port}", "--include-dashboard=false"]
    else:
        args += [f"--address={options.address}"]
    if options.num_cpus is not None:
        args += [f"--num-cpus={options.num_cpus:g}"]
    return args


def start_node(options: NodeOptions, *, home: Path, token: str) -> None:
    """Replace this process with the Ray node (it runs until stopped)."""
    prepare(home, token)
    args = node_command(options)
    os.execve(args[0], args, dict(os.environ))
