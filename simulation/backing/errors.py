"""The errors of the backing servers: what failed and why, for a message a user can act on."""

from __future__ import annotations


class BackingServiceError(RuntimeError):
    """A backing server could not be started or stopped; the message says which and why."""


class BinariesMissingError(BackingServiceError):
    """A server binary is not installed; the message names the Debian package to install."""
