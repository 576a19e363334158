"""The exceptions of the published odins-spear library (2.3.0) that its ``API`` and
``Scripter.bulk_password_reset`` raise, with its names and base class, so that a caller's
``except`` clauses keep working after the import line changes.

The base class is named ``OSError`` as in the library (it is not Python's built-in ``OSError``).
"""

__all__ = [
    "OSError",
    "OSApiAuthenticationFail",
    "OSInvalidPasswordType",
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
