"""The one shape of error services raise for input a person must correct."""

from __future__ import annotations


class ServiceError(ValueError):
    """A request that cannot be carried out. ``message`` is for the person (already
    translated); ``field`` names the form input at fault, or is empty."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
