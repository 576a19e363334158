"""``API`` and ``Scripter`` in the published odins-spear library's shapes (2.3.0)."""

import itertools
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from bwreset import _native

from .exceptions import OSApiAuthenticationFail, OSInvalidPasswordType, OSRunFailed

__all__ = ["API", "Scripter", "ResetResult", "resume"]

#: Requests (over OCI-P: documents) in flight with ``rate_limit=True``. The published library
#: then makes at most five calls a second, one at a time; bwreset reads ``rate_limit`` as the
#: caller asking to be polite to the server, not slow: four requests in flight at most, so a
#: busy server never sees more than four of this caller's requests at once. The clients always
#: slow down when the server says so (429 and ``Retry-After``, 503).
POLITE_CONCURRENCY = 4

#: Requests in flight with ``rate_limit=False``: bwreset's default (the CLI's ``--concurrency``).
DEFAULT_CONCURRENCY = 16

_PASSWORD_TYPES = ("sip", "vm", "web")
_journal_numbers = itertools.count(1)


class ResetResult(List[Dict[str, str]]):
    """The new credentials of the users set, in input order, in the seed's shape
    (``{"userId", "newPassword"}``; ``{"userId", "newPasscode"}`` for VM): a plain ``list``.

    Extra attributes, for callers who look:

    - ``failed``: ``[{"userId", "reason"}]``, users whose credential is certainly unchanged,
      with the server's (or the engine's) reason;
    - ``uncertain``: ``[{"userId", "reason", "newPassword"|"newPasscode"}]``, users whose value
      was sent without a clear answer: it may be in effect; ``bwreset.resume(journal)``
      settles them;
    - ``journal``: the path of the journal holding every value of this call;
    - ``stop_reason``: why the run stopped early, or ``None``.
    """

    failed: List[Dict[str, str]]
    uncertain: List[Dict[str, str]]
    journal: str
    stop_reason: Optional[str]

    def __init__(
        self,
        credentials: Sequence[Dict[str, str]] = (),
        *,
        failed: Sequence[Dict[str, str]] = (),
        uncertain: Sequence[Dict[str, str]] = (),
        journal: str = "",
        stop_reason: Optional[str] = None,
    ) -> None:
        super().__init__(credentials)
        self.failed = list(failed)
        self.uncertain = list(uncertain)
        self.journal = journal
        self.stop_reason = stop_reason


def default_journal_directory() -> Path:
    """Where a call's journal goes unless it names one: ``bwreset/journals`` under the user's
    state directory (``$XDG_STATE_HOME``, else ``~/.local/state``; ``~/Library/Application
    Support`` on macOS, ``%LOCALAPPDATA%`` on Windows)."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        state = os.environ.get("XDG_STATE_HOME", "")
        base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "bwreset" / "journals"


def _new_journal_path() -> Path:
    directory = default_journal_directory()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"bulk-password-reset-{stamp}-{os.getpid()}-{next(_journal_numbers)}.journal"
    return directory / name


def _without_userinfo(url: str) -> str:
    """The URL as logged: a ``user:password@`` part before the host never reaches a log."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "[redacted]@" + authority.rsplit("@", 1)[1]
    return f"{scheme}{separator}{authority}{slash}{path}"


def _require_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"`{name}` must not be empty")
    return value


class API:
    """A logged-in session with an Odin API (``https://.../api/v2``) or an OCI-P server
    (``ocips://host:2209``; ``ocip://`` on loopback).

    Args:
        base_url: the Odin API's base URL, or an ``ocips://`` / ``ocip://`` server.
        username: the login name.
        password: the login password (kept only to log in again with ``_authenticate``).
        rate_limit: ``True`` (the default): at most four requests in flight, see
            ``POLITE_CONCURRENCY``. ``False``: bwreset's default of sixteen.
        logger: where messages go; by default the ``bwreset.odins_spear`` logger.

    Raises:
        OSApiAuthenticationFail: the login was refused or the server could not be reached.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        rate_limit: bool = True,
        logger: Optional[logging.Logger] = None,
    ) -> None:
        self.base_url = _require_text("base_url", base_url)
        self.username = _require_text("username", username)
        if not isinstance(password, str):
            raise TypeError(f"`password` must be a str, not {type(password).__name__}")
        self._password = password
        self.rate_limit = bool(rate_limit)
        self.authorised = False
        self.logger = logger if logger is not None else logging.getLogger("bwreset.odins_spear")
        self.logger.info(
            "API initialised, user: %s, base_url: %s, rate_limit: %s",
            self.username,
            _without_userinfo(self.base_url),
            self.rate_limit,
        )
        self._connection: Optional[_native.Connection] = None
        self._authenticate()

    def _authenticate(self) -> bool:
        """Logs in (again); ``True`` once logged in.

        Raises:
            OSApiAuthenticationFail: the login was refused or the server could not be reached.
        """
        concurrency = POLITE_CONCURRENCY if self.rate_limit else DEFAULT_CONCURRENCY
        try:
            connection = _native.Connection.login(
                self.base_url, self.username, self._password, concurrency
            )
        except _native.LoginFailed as error:
            self.authorised = False
            self.logger.error(
                "login to %s as %s failed: %s",
                _without_userinfo(self.base_url),
                self.username,
                error,
            )
            raise OSApiAuthenticationFail() from error
        previous, self._connection = self._connection, connection
        if previous is not None:
            previous.log_out()
        self.authorised = True
        self.logger.info("API session started")
        return True

    def authenticate(self) -> bool:
        """Logs in again; the public name older odins-spear releases (and their README) use."""
        return self._authenticate()

    def _session(self) -> "_native.Connection":
        if self._connection is None:
            raise OSApiAuthenticationFail()
        return self._connection

    def logout(self) -> None:
        """Ends the session (the server forgets the token); a failure here changes nothing."""
        connection, self._connection = self._connection, None
        self.authorised = False
        if connection is not None:
            connection.log_out()

    def __str__(self) -> str:
        url = _without_userinfo(self.base_url)
        return f"API - url: {url}, username: {self.username} Authenticated: {self.authorised}"


class Scripter:
    """The published library's script runner; here it runs ``bulk_password_reset``."""

    def __init__(self, api: API) -> None:
        if not isinstance(api, API):
            raise TypeError(f"`api` must be a bwreset.odins_spear.API, not {type(api).__name__}")
        self.api = api
        self.logger = api.logger

    def bulk_password_reset(
        self,
        *,
        service_provider_id: str,
        group_id: str,
        users: List[str],
        password_type: str,
        journal: Union[str, "os.PathLike[str]", None] = None,
    ) -> ResetResult:
        """Resets the SIP passwords (``SIP``), voice portal passcodes (``VM``) or web passwords
        (``WEB``), any case, of ``users`` in ``group_id`` of ``service_provider_id``.

        Returns the new credentials of the users set, in input order:
        ``[{"userId", "newPassword"}]`` (``newPasscode`` for VM), a ``ResetResult`` (a ``list``)
        whose ``failed``, ``uncertain``, ``journal`` and ``stop_reason`` attributes tell the rest.
        One failing user never stops the others; failed and uncertain users are logged through
        the API's logger with the server's reasons.

        Every value is written to a journal before it is sent: ``journal`` names a new file, by
        default one in ``default_journal_directory()`` (created 0600, its path logged). If the
        call is interrupted (Ctrl-C raises ``KeyboardInterrupt``), ``bwreset.resume(journal)``
        finishes it.

        Raises:
            OSInvalidPasswordType: ``password_type`` is not SIP, VM or WEB (nothing is sent).
            TypeError, ValueError: a bad argument (nothing is sent).
            OSRunFailed: the run could not start (unknown group, journal already there or not
                writable, the server unusable).
        """
        _require_text("service_provider_id", service_provider_id)
        _require_text("group_id", group_id)
        user_ids = _user_list(users)
        if not isinstance(password_type, str) or password_type.lower() not in _PASSWORD_TYPES:
            self.logger.error("password type %r not supported", password_type)
            raise OSInvalidPasswordType()
        if journal is None:
            journal_path = _new_journal_path()
        else:
            journal_path = Path(os.fspath(journal))
        self.logger.info("journal of this reset: %s", journal_path)
        session = self.api._session()
        try:
            answer = session.bulk_password_reset(
                service_provider_id, group_id, user_ids, password_type.lower(), str(journal_path)
            )
        except _native.RunFailed as error:
            raise OSRunFailed(str(error)) from error
        return _result(answer, str(journal_path), self.logger, len(user_ids))


def resume(
    journal: Union[str, "os.PathLike[str]"],
    *,
    api: Optional[API] = None,
    server: Optional[str] = None,
    username: Optional[str] = None,
    password: Optional[str] = None,
    rate_limit: bool = True,
    logger: Optional[logging.Logger] = None,
) -> ResetResult:
    """Finishes an interrupted ``bulk_password_reset`` call from its journal (``result.journal``,
    or the path logged when it started) and returns what that call would have returned.

    Users set stay as they are; users pending or uncertain get their journaled value again (never
    a new one); failed users are tried again with fresh values. The journal grows; resuming a
    finished journal sends no reset and returns the same result.

    Logs in through ``api`` if given; otherwise to ``server`` (default: the server the journal
    names) as ``username`` with ``password`` (defaults: ``BWRESET_USERNAME`` or
    ``ODIN_USERNAME``, ``BWRESET_PASSWORD`` or ``ODIN_PASSWORD`` from the environment). Each
    default is used only when its argument is left out: an empty ``server``, ``username`` or
    ``password`` is refused, never replaced.

    Raises:
        TypeError, ValueError: a bad argument (an empty ``server``, ``username`` or
            ``password``), or no login to use.
        OSApiAuthenticationFail: the login was refused.
        OSRunFailed: the journal cannot be resumed (missing, locked by a run still going, not
            made by ``bulk_password_reset``, another server).
    """
    path = os.fspath(journal)
    if not isinstance(path, str):
        raise TypeError("`journal` must be a path")
    if api is None:
        password = _given(
            "password",
            password,
            "the login's password",
            "BWRESET_PASSWORD (or ODIN_PASSWORD) from the environment",
        )
        if password is None:
            password = os.environ.get("BWRESET_PASSWORD") or os.environ.get("ODIN_PASSWORD")
        username = _given(
            "username",
            username,
            "the login's user name",
            "BWRESET_USERNAME (or ODIN_USERNAME) from the environment",
        )
        if username is None:
            username = os.environ.get("BWRESET_USERNAME") or os.environ.get("ODIN_USERNAME")
        server = _given("server", server, "the server's URL", "the server the journal names")
        if server is None:
            server = _journal_header(path)[0]
        if not username or password is None:
            raise ValueError(
                "no login to resume with: pass `api`, or `username` and `password` "
                "(or set BWRESET_USERNAME and BWRESET_PASSWORD)"
            )
        api = API(server, username, password, rate_limit=rate_limit, logger=logger)
    elif not isinstance(api, API):
        raise TypeError(f"`api` must be a bwreset.odins_spear.API, not {type(api).__name__}")
    api.logger.info("resuming the journal %s", path)
    session = api._session()
    try:
        answer = session.resume(path)
    except _native.RunFailed as error:
        raise OSRunFailed(str(error)) from error
    total = len(answer["credentials"]) + len(answer["failed"]) + len(answer["uncertain"])
    return _result(answer, path, api.logger, total)


def _given(name: str, value: Any, what: str, default: str) -> Optional[str]:
    """A login argument as given: ``None`` when left out (the caller then uses ``default``), else
    a non-empty str; an empty one is refused rather than replaced, so that ``""`` never means
    "whatever the environment says"."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"`{name}` is empty: pass {what}, or leave `{name}` out to use {default}")
    return value


def _journal_header(journal: str) -> Tuple[str, str]:
    """The server a journal names and its header's ``meta`` (JSON), or ``OSRunFailed``."""
    try:
        return _native.journal_header(journal)
    except _native.RunFailed as error:
        raise OSRunFailed(str(error)) from error


def _result(answer: Dict[str, Any], journal: str, logger: logging.Logger, total: int) -> ResetResult:
    """The native answer as a ``ResetResult``, its failed and uncertain users logged."""
    result = ResetResult(
        answer["credentials"],
        failed=answer["failed"],
        uncertain=answer["uncertain"],
        journal=journal,
        stop_reason=answer["stop_reason"],
    )
    for row in result.failed:
        logger.error("%s not reset: %s", row["userId"], row["reason"])
    for row in result.uncertain:
        logger.warning(
            "%s uncertain (the value may be in effect; resume %s): %s",
            row["userId"],
            journal,
            row["reason"],
        )
    if result.stop_reason:
        logger.error("the run stopped early: %s (journal %s)", result.stop_reason, journal)
    logger.info("%d of %d users reset (journal %s)", len(result), total, journal)
    return result

def _user_list(users: Any) -> List[str]:
    """The users as a list of str, or ``TypeError``/``ValueError``."""
    if isinstance(users, (str, bytes)):
        raise TypeError("`users` must be a list of user IDs, not a single string")
    if users is None or not hasattr(users, "__iter__"):
        raise TypeError(f"`users` must be a list of user IDs, not {type(users).__name__}")
    user_ids = list(users)
    for user in user_ids:
        if not isinstance(user, str):
            raise TypeError(f"every user ID must be a str, not {type(user).__name__}")
    if not user_ids:
        raise ValueError("`users` is empty: no users to reset")
    return user_ids
