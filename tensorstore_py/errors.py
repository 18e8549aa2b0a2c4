"""TensorStore's error conventions.

TensorStore reports an absl status as a Python exception: INVALID_ARGUMENT as a ``ValueError``
carrying just the message, every other code as a ``ValueError`` whose text starts with the code
(``"NOT_FOUND: ..."``).  `StatusError` keeps the code so layers can add context
(``"Error opening \\"zarr\\" driver: ..."``) without losing it.
"""

from __future__ import annotations

__all__ = [
    "StatusError", "invalid_argument", "not_found", "already_exists", "failed_precondition",
    "out_of_range", "data_loss", "unimplemented", "internal", "aborted", "unavailable",
    "cancelled", "deadline_exceeded", "permission_denied", "resource_exhausted", "annotate",
]  # fmt: skip


class StatusError(ValueError):
    """A `ValueError` carrying a TensorStore status code."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message if code == "INVALID_ARGUMENT" else f"{code}: {message}")

    def with_prefix(self, prefix: str) -> "StatusError":
        """The same error with ``prefix + ": "`` before its message."""
        return type(self)(self.code, f"{prefix}: {self.message}")

    def with_suffix(self, suffix: str) -> "StatusError":
        """The same error with ``" " + suffix`` after its message (TensorStore's payload style)."""
        return type(self)(self.code, f"{self.message} {suffix}")

    def __reduce__(self):
        return (type(self), (self.code, self.message))


def _maker(code: str):
    def make(message: str) -> StatusError:
        return StatusError(code, message)

    make.__name__ = code.lower()
    make.__doc__ = f"A {code} error."
    return make


invalid_argument = _maker("INVALID_ARGUMENT")
not_found = _maker("NOT_FOUND")
already_exists = _maker("ALREADY_EXISTS")
failed_precondition = _maker("FAILED_PRECONDITION")
out_of_range = _maker("OUT_OF_RANGE")
data_loss = _maker("DATA_LOSS")
unimplemented = _maker("UNIMPLEMENTED")
internal = _maker("INTERNAL")
aborted = _maker("ABORTED")
unavailable = _maker("UNAVAILABLE")
cancelled = _maker("CANCELLED")
deadline_exceeded = _maker("DEADLINE_EXCEEDED")
permission_denied = _maker("PERMISSION_DENIED")
resource_exhausted = _maker("RESOURCE_EXHAUSTED")


def annotate(exc: BaseException, prefix: str) -> BaseException:
    """`exc` with `prefix` prepended to its message, preserving its status code when it has one.

    Plain ``ValueError`` (e.g. from JSON parsing) is treated as INVALID_ARGUMENT.
    """
    if isinstance(exc, StatusError):
        return exc.with_prefix(prefix)
    if type(exc) is ValueError:
        return StatusError("INVALID_ARGUMENT", f"{prefix}: {exc}")
    return exc
