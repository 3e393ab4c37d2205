"""Exceptions raised for bad user input.

Every message is one line that names the bad value, where it came from and,
where there is a closed set, the allowed values. The command line prints the
message and exits with code 2.
"""

from __future__ import annotations

from collections.abc import Iterable


class ArscInputError(ValueError):
    """Bad input from a user: unknown name, impossible combination, malformed file."""


def unknown(kind: str, value: object, allowed: Iterable[object]) -> ArscInputError:
    """Build the error for a value that is not one of a closed set.

    Parameters
    ----------
    kind
        What the value is ("element", "motif", ...).
    value
        The offending value.
    allowed
        The values that would have been accepted.

    Returns
    -------
    ArscInputError
        An error whose message names the value and the allowed ones.
    """
    names = ", ".join(str(a) for a in allowed)
    return ArscInputError(f"unknown {kind} {value!r}; allowed: {names}")
