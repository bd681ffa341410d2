"""The settings the ``mvi`` command reads besides ``MVI_MANAGER_URL``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from mvi.settings._group import Group

__all__ = ["CLISettings"]


class CLISettings(Group):
    """What the ``mvi`` command reads besides ``MVI_MANAGER_URL``."""

    config_dir: Path | None = Field(
        None, description="Where the CLI keeps its settings (default: the user's config dir)."
    )
    cli_timeout: float = Field(
        30.0, gt=0, description="Seconds the CLI waits for the manager to answer a request."
    )
    cli_git_timeout: float = Field(
        300.0,
        gt=0,
        description="Seconds `mvi deploy --git` lets git clone and check out the source.",
    )

    token: SecretStr | None = Field(
        None,
        description="Token the CLI sends to the manager instead of the one `mvi login` saved "
        "(for scripts and CI; make one with `mvi token create`).",
    )
