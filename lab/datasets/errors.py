"""The one error bad data raises, shared by every module of :mod:`lab.datasets`."""

from __future__ import annotations

__all__ = ["DataError"]


class DataError(ValueError, TypeError):
    """The data cannot be used as given; the message names what was expected."""
