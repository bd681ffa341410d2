"""What every group of settings shares: the ``MVI_`` prefix, comma-separated lists, and
writing values back as a child process's environment variables."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mvi._exceptions import ConfigurationError

__all__ = ["CONFIG", "Group", "comma_list"]

CONFIG = SettingsConfigDict(env_prefix="MVI_", extra="ignore", frozen=True)


def comma_list(value: object) -> object:
    """A comma-separated variable's items, stripped (a list is kept as it is)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _environ_text(value: Any) -> str:
    """How a setting's value is written in an environment variable (read back the same)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


class Group(BaseSettings):
    """What every group of settings shares: the ``MVI_`` prefix, and writing values back
    as environment variables for a child process."""

    model_config = CONFIG

    @classmethod
    def environ(cls, **values: Any) -> dict[str, str]:
        """``MVI_*`` variables that give a child process these field values.

        Keys are field names (``port=8001`` gives ``MVI_PORT``); ``None`` values are left
        out. Raises :class:`mvi.ConfigurationError` for a name that is not a field here.
        """
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise ConfigurationError(
                f"{cls.__name__} has no setting named {', '.join(unknown)}; "
                "see mvi.settings for the names"
            )
        return {
            f"MVI_{name.upper()}": _environ_text(value)
            for name, value in values.items()
            if value is not None
        }
