"""The exceptions of the published odins-spear library (2.3.0) that its ``API`` and
``Scripter.bulk_password_reset`` raise, with its names and base class, so that a caller's
``except`` clauses keep working after the import line changes.

The base class is named ``OSError`` as in the library (it is not Python's built-in ``OSError``).
``OSRunFailed`` is bwreset's own: the library has no journal, so nothing of its own can fail
that way.
"""

from bwreset import _native

__all__ = [
    "OSError",
    "OSApiAuthenticationFail",
    "OSInvalidPasswordType",
    "OSRunFailed",
]


class OSError(Exception):  # noqa: A001 - the library's own name for its base class
    """The base class of every odins-spear exception."""

    def __str__(self) -> str:
        return "odins-spear error"


class OSApiAuthenticationFail(OSError):
    """The login was refused, or the server could not be reached to log in."""

    def __str__(self) -> str:
        return "login failed: check the username, the password and the base URL"


class OSInvalidPasswordType(OSError, ValueError):
    """``password_type`` is none of ``SIP``, ``VM`` or ``WEB`` (any case).

    Also a ``ValueError``: it is raised before anything is sent.
    """

    def __str__(self) -> str:
        return "invalid password type: expected `SIP`, `VM` or `WEB` (any case)"


class OSRunFailed(OSError, _native.RunFailed):
    """The reset could not start or its journal cannot be used: an unknown group or service
    provider, a journal that already exists or cannot be written, a journal to resume that is
    missing, still locked by a run going on, made by something else or for another server.

    The message says which, and the journal (when there is one) what was done. Raised by
    ``Scripter.bulk_password_reset`` and ``bwreset.odins_spear.resume`` (and so by
    ``bwreset.resume`` for a drop-in call's journal).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
