"""The version of mvi (read by hatchling at build time and by ``mvi --version``)."""

__version__ = "0.1.0"
