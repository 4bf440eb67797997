"""Maestro's exception tree.

    MaestroError                 a failure the message explains (exit 1)
    ├── UsageError               bad usage or bad input (exit 2)
    │   └── ConfigError          a broken config.toml or MAESTRO_* variable
    └── NotAvailableError        a command a later release fills in (exit 2)

Library errors (httpx, vosk, pocketsphinx, nfcpy, ...) are translated into this
tree where they cross an edge, with ``raise ... from exc``. Messages never carry
tokens, client secrets or device codes.
"""

from __future__ import annotations


class MaestroError(Exception):
    """A failure with a message meant for the user."""

    exit_code = 1


class UsageError(MaestroError):
    """Bad usage or bad input: the user can fix it by changing what they gave."""

    exit_code = 2


class ConfigError(UsageError):
    """config.toml or a MAESTRO_* environment variable is wrong."""


class NotAvailableError(MaestroError):
    """A command of the contract that this build does not provide yet."""

    exit_code = 2
