"""The native API: ``reset``, ``resume`` and ``check`` run the ``bwreset`` command's own path (its
settings, config file and profiles, engine, journal and files) in this process, with keyword
arguments named like its flags, and return a ``Report`` read back from the run's files."""

import csv
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from bwreset import _native

__all__ = [
    "BwresetError",
    "UsageError",
    "CouldNotStartError",
    "RunStoppedError",
    "Counts",
    "Phone",
    "Progress",
    "Report",
    "reset",
    "check",
    "resume_run",
]

PathLike = Union[str, "os.PathLike[str]"]

_TYPES = ("sip", "vm", "web")
_run_numbers = iter(range(1, 1 << 62))


class BwresetError(Exception):
    """A run ended as the ``bwreset`` command would end with an error: ``message`` and ``hint``
    are what it prints (``text`` the whole of it), ``exit_code`` its exit code."""

    def __init__(self, text: str, exit_code: int) -> None:
        self.text = text.rstrip("\n")
        self.exit_code = exit_code
        lines = self.text.splitlines()
        first = lines[0] if lines else ""
        self.message = first[len("error: "):] if first.startswith("error: ") else first
        hints = [line[len("hint: "):] for line in lines if line.startswith("hint: ")]
        self.hint: Optional[str] = hints[0] if hints else None
        super().__init__(self.text)


class UsageError(BwresetError, ValueError):
    """Bad arguments or input (exit code 2): nothing was changed."""


class CouldNotStartError(BwresetError):
    """The server could not be used (exit code 3): login refused, unreachable; nothing was changed."""


class RunStoppedError(BwresetError):
    """The run stopped part-way (exit code 1 with an error): some users may have been changed;
    ``bwreset.resume(journal)`` finishes it. ``journal`` is its path when known."""

    journal: Optional[str] = None


@dataclass(frozen=True)
class Counts:
    """How the users of a run ended."""

    set: int
    failed: int
    uncertain: int

    @property
    def total(self) -> int:
        return self.set + self.failed + self.uncertain


@dataclass(frozen=True)
class Phone:
    """What the device follow-up (``devices="rebuild"`` or ``"reset"``, SIP) did to one phone.

    ``result`` is one of ``"skipped"`` (the device uses its own credentials), ``"rebuilt"``,
    ``"reset"`` (rebuilt and reset, registration not checked), ``"registered"`` (rebuilt, reset
    and registered again), ``"not registered"`` (rebuilt and reset, not registered again within
    the wait), ``"failed"``, ``"uncertain"`` or ``"not attempted"``; ``action`` is ``"rebuild"``,
    ``"reset"`` or ``"skip"``; ``users`` the run's users it carries; ``reason`` why it is not
    done, when it is not."""

    device_name: str
    device_level: str
    device_type: Optional[str]
    users: Tuple[str, ...]
    action: str
    result: str
    reason: Optional[str]

    @property
    def registered_again(self) -> bool:
        """Reset and seen registered again."""
        return self.result == "registered"


@dataclass(frozen=True)
class Progress:
    """A run's progress as its journal tells it: users ``set`` and ``failed`` so far, and
    ``total``, the users planned (``None`` until the plan is written)."""

    set: int
    failed: int
    total: Optional[int]


#: The shortest time between two calls of a progress callable.
PROGRESS_INTERVAL = 0.1


class _JournalProgress(threading.Thread):
    """Reads a running journal as it grows and calls ``callback`` with a ``Progress`` at most
    every ``PROGRESS_INTERVAL`` seconds (and once at the end). It runs while the command holds the
    GIL released; only outcome and plan records are decoded, never a value."""

    def __init__(self, journal: Path, callback: Callable[[Progress], Any]) -> None:
        super().__init__(name="bwreset-progress", daemon=True)
        self.journal = journal
        self.callback = callback
        self.finished = threading.Event()
        self.set_count = 0
        self.failed_count = 0
        self.total: Optional[int] = None
        self.last: Optional[Progress] = None
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        position = 0
        pending = b""
        while True:
            done = self.finished.wait(PROGRESS_INTERVAL)
            try:
                with open(self.journal, "rb") as journal:
                    journal.seek(position)
                    chunk = journal.read()
            except OSError:
                chunk = b""
            position += len(chunk)
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                self._count(line)
            self._report()
            if done or self.error is not None:
                return

    def _count(self, line: bytes) -> None:
        if b'"record":"outcome"' in line:
            try:
                result = json.loads(line).get("result")
            except ValueError:  # a line the journal's reader will name; progress goes on
                return
            if result == "set":
                self.set_count += 1
            elif result == "failed":
                self.failed_count += 1
        elif b'"record":"rejected"' in line:
            self.failed_count += 1
        elif b'"record":"planEnd"' in line:
            try:
                self.total = json.loads(line).get("users")
            except ValueError:
                return

    def _report(self) -> None:
        progress = Progress(set=self.set_count, failed=self.failed_count, total=self.total)
        if progress == self.last:
            return
        self.last = progress
        try:
            self.callback(progress)
        except BaseException as error:  # handed to the caller once the run ends
            self.error = error

    def stop(self, reraise: bool = True) -> None:
        """Ends the watch; with ``reraise``, raises the callback's error, if it raised one."""
        self.finished.set()
        self.join()
        if reraise and self.error is not None:
            raise self.error


class Report:
    """What a run did, read from its files as it is iterated (never all users in memory).

    Iterating gives the new credentials in the seed's shape, one user at a time:
    ``{"userId", "newPassword"}`` (``newPasscode`` for VM). ``failed()`` and ``uncertain()``
    give ``{"userId", "status", "reason"}`` the same way; ``phones()`` gives a ``Phone`` per
    device of a run with ``devices=`` (none without), ``phone_counts`` how many ended each way.
    ``counts``, ``exit_code``, and the paths ``out`` (the credentials, CSV), ``journal``,
    ``failures``, ``audit``, ``devices`` (the devices report, CSV, when there was a follow-up).
    """

    def __init__(self, out: Path, journal: Path, failures: Path, audit: Path, exit_code: int) -> None:
        self.out = out
        self.journal = journal
        self.failures = failures
        self.audit = audit
        self.exit_code = exit_code
        name = str(failures)
        base = name[: -len(".failed.csv")] if name.endswith(".failed.csv") else name
        self.devices = Path(f"{base}.devices.csv")

    def __iter__(self) -> Iterator[Dict[str, str]]:
        if not self.out.exists():
            return
        with open(self.out, newline="", encoding="utf-8") as rows:
            yield from csv.DictReader(rows)

    def credentials(self) -> List[Dict[str, str]]:
        """All new credentials as the seed's list (for small runs; iterate for large ones)."""
        return list(self)

    def _failure_rows(self, status: str) -> Iterator[Dict[str, str]]:
        if not self.failures.exists():
            return
        with open(self.failures, newline="", encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                if row.get("status") == status:
                    yield row

    def failed(self) -> Iterator[Dict[str, str]]:
        """Users certainly unchanged, with the reason."""
        return self._failure_rows("failed")

    def uncertain(self) -> Iterator[Dict[str, str]]:
        """Users whose value may be in effect (``resume`` settles them), with the reason."""
        return self._failure_rows("uncertain")

    def phones(self) -> Iterator[Phone]:
        """The phones of the device follow-up, one ``Phone`` per device, read from the devices
        report as it is iterated; nothing when the run had no follow-up."""
        if not self.devices.exists():
            return
        with open(self.devices, newline="", encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                yield Phone(
                    device_name=row["deviceName"],
                    device_level=row["deviceLevel"],
                    device_type=row["deviceType"] or None,
                    users=tuple(row["users"].split()),
                    action=row["action"],
                    result=row["result"],
                    reason=row["reason"] or None,
                )

    @property
    def phone_counts(self) -> Dict[str, int]:
        """How many phones ended each way, by ``Phone.result`` (``{}`` without a follow-up)."""
        counts: Dict[str, int] = {}
        for phone in self.phones():
            counts[phone.result] = counts.get(phone.result, 0) + 1
        return counts

    @property
    def counts(self) -> Counts:
        """Users set, failed and uncertain, from the run's audit record."""
        with open(self.audit, encoding="utf-8") as text:
            run = json.load(text)["runs"][-1]
        return Counts(set=run["set"], failed=run["failed"], uncertain=run["uncertain"])

    def __repr__(self) -> str:
        return f"Report(out={str(self.out)!r}, journal={str(self.journal)!r}, exit_code={self.exit_code})"


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"`{name}` must not be empty")
    return value


def _path(name: str, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"`{name}` must be a path, not {type(value).__name__}")
    return os.fspath(value)


def _count(name: str, value: Any, floor: float) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number, not {type(value).__name__}")
    if value < floor:
        raise ValueError(f"`{name}` must be at least {floor}")
    return str(value)


def _connection_arguments(
    *,
    server: Optional[str],
    username: Optional[str],
    profile: Optional[str],
    config: Optional[PathLike],
    ca_cert: Optional[PathLike],
    concurrency: Optional[int],
    max_rate: Optional[float],
    allow_http: bool,
    allow_plaintext: bool,
) -> List[str]:
    """The connection flags (``--server``, ``--username``, ...) of ``reset``, ``resume`` and
    ``check``, each argument checked."""
    arguments: List[str] = []
    for name, flag, text in (
        ("server", "--server", server), ("username", "--username", username),
        ("profile", "--profile", profile),
    ):
        if text is not None:
            arguments += [flag, _text(name, text)]
    for name, flag, path in (("config", "--config", config), ("ca_cert", "--ca-cert", ca_cert)):
        if path is not None:
            arguments += [flag, _path(name, path)]
    if concurrency is not None:
        arguments += ["--concurrency", _count("concurrency", concurrency, 1)]
    if max_rate is not None:
        arguments += ["--max-rate", _count("max_rate", max_rate, 0)]
    for flag, wanted in (("--allow-http", allow_http), ("--allow-plaintext", allow_plaintext)):
        if wanted:
            arguments.append(flag)
    return arguments


def _device_arguments(
    devices: Optional[str], reset_rate: Optional[float], registration_timeout: Optional[int]
) -> List[str]:
    """The phone follow-up's flags (``--devices``, ``--reset-rate``, ``--registration-timeout``)
    of ``reset`` and ``resume``, each argument checked."""
    arguments: List[str] = []
    if devices is not None:
        arguments += ["--devices", _text("devices", devices)]
    if reset_rate is not None:
        arguments += ["--reset-rate", _count("reset_rate", reset_rate, 0)]
    if registration_timeout is not None:
        if not isinstance(registration_timeout, int) or isinstance(registration_timeout, bool):
            raise TypeError("`registration_timeout` must be an int (seconds)")
        arguments += ["--registration-timeout", _count("registration_timeout", registration_timeout, 0)]
    return arguments


def _check_password(password: Any) -> None:
    """``TypeError`` unless ``password`` is a str or ``None``; the value is never shown."""
    if password is not None and not isinstance(password, str):
        raise TypeError(f"`password` must be a str, not {type(password).__name__}")


def _run(arguments: List[str], password: Optional[str]) -> Tuple[int, Optional[str]]:
    """Runs the command line; the password goes to it directly, never into the environment."""
    _check_password(password)
    return _native.run_cli_reporting(["bwreset", *arguments], password)


#: The command's exit codes for bad arguments or input, and for a server it could not use.
_USAGE = 2
_COULD_NOT_START = 3


def _raise_for(exit_code: int, error: Optional[str], journal: Optional[Path]) -> None:
    if error is None:
        return
    kind = {_USAGE: UsageError, _COULD_NOT_START: CouldNotStartError}.get(exit_code, RunStoppedError)
    exception = kind(error, exit_code)
    if isinstance(exception, RunStoppedError):
        exception.journal = None if journal is None else str(journal)
    raise exception


def _run_directory() -> Path:
    from bwreset.odins_spear.api import default_journal_directory

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    directory = default_journal_directory().parent / "runs" / f"{stamp}-{os.getpid()}-{next(_run_numbers)}"
    directory.mkdir(mode=0o700, parents=True)
    return directory


def reset(
    *,
    type: str,
    service_provider: Optional[str] = None,
    group: Optional[str] = None,
    users: Optional[Sequence[str]] = None,
    users_file: Optional[PathLike] = None,
    targets: Optional[PathLike] = None,
    all_users: bool = False,
    all_groups: bool = False,
    out: Optional[PathLike] = None,
    journal: Optional[PathLike] = None,
    dry_run: bool = False,
    devices: Optional[str] = None,
    new_user_names: bool = False,
    user_name_template: Optional[str] = None,
    reset_rate: Optional[float] = None,
    registration_timeout: Optional[int] = None,
    server: Optional[str] = None,
    username: Optional[str] = None,
    password: Optional[str] = None,
    profile: Optional[str] = None,
    config: Optional[PathLike] = None,
    ca_cert: Optional[PathLike] = None,
    concurrency: Optional[int] = None,
    max_rate: Optional[float] = None,
    allow_http: bool = False,
    allow_plaintext: bool = False,
    progress: Optional[Callable[[Progress], Any]] = None,
) -> Report:
    """Resets the ``type`` credential (``"sip"``, ``"vm"``, ``"web"``) exactly as
    ``bwreset reset`` does, and returns the ``Report``.

    Targets, one of: ``users`` (user IDs of ``group`` in ``service_provider``), ``users_file``,
    ``all_users=True`` (the whole group), ``targets`` (a CSV of rows across groups) or
    ``all_groups=True`` (every group of ``service_provider``).

    Connection: ``server`` (``https://.../api/v2``, ``ocips://``, ``ocip://``), ``username``,
    ``password`` (default: ``BWRESET_PASSWORD`` or ``ODIN_PASSWORD``), ``profile`` and
    ``config`` (the config file), ``ca_cert``, ``concurrency``, ``max_rate``.

    ``progress``: a callable given a ``Progress`` (users set and failed so far, the users
    planned) at most ten times a second while the run works, from a thread of its own, and once
    at the end; an exception it raises is raised when the run has ended.

    Files: ``out`` (the credentials, CSV, created 0600; default: a new directory under the
    user's state directory), ``journal`` (default: beside ``out``). ``dry_run`` checks without
    changing anything; ``devices`` is ``"none"``, ``"rebuild"`` or ``"reset"`` (SIP): the
    phones of the users set are rebuilt (and reset, then watched until they register again, at
    most ``registration_timeout`` seconds, 0 not watching; ``reset_rate`` resets a second at
    most), each reported by ``Report.phones()``.

    ``new_user_names=True`` (SIP only) gives each user a new SIP authentication user name with
    the new password (``--new-user-names``); ``user_name_template`` chooses its form
    (``--user-name-template``, default ``"{random}"``: 12 lowercase letters and digits; see
    ``bwreset reset --help``). Each row then has ``newUserName`` after ``userId``. Every phone of
    these users stops registering until rebuilt and reset: without ``devices="reset"`` the
    report's ``exit_code`` is 1 and ``bwreset.resume(journal, devices="reset")`` finishes the job.

    The command's summary goes to stderr, as the binary's does. A refused call (``TypeError``,
    ``ValueError``, ``UsageError``, ``CouldNotStartError``) before its journal was written
    leaves no run directory or file.

    Raises:
        TypeError, ValueError: a bad argument, before anything is sent or written.
        UsageError: bad input found by the command (exit code 2); also a ``ValueError``.
        CouldNotStartError: login refused, server unreachable (exit code 3).
        RunStoppedError: stopped part-way (exit code 1); ``bwreset.resume(journal)`` finishes it.
        KeyboardInterrupt: Ctrl-C; the journal holds every value sent.
    """
    if not isinstance(type, str) or type.lower() not in _TYPES:
        raise (TypeError if not isinstance(type, str) else ValueError)(
            "`type` must be `sip`, `vm` or `web`"
        )
    arguments = ["reset", "--type", type.lower(), "--yes", "--format", "csv"]
    for name, flag, value in (
        ("service_provider", "--service-provider", service_provider),
        ("group", "--group", group),
    ):
        if value is not None:
            arguments += [flag, _text(name, value)]
    chosen = [
        name
        for name, value in (
            ("users", users), ("users_file", users_file), ("targets", targets),
            ("all_users", all_users or None), ("all_groups", all_groups or None),
        )
        if value is not None
    ]
    if len(chosen) != 1:
        raise ValueError(
            "give exactly one of `users`, `users_file`, `targets`, `all_users`, `all_groups`"
            + (f" (got {', '.join(chosen)})" if chosen else "")
        )
    from bwreset.odins_spear.api import _user_list

    user_ids = None if users is None else _user_list(users)
    if users_file is not None:
        arguments += ["--users-file", _path("users_file", users_file)]
    elif targets is not None:
        arguments += ["--targets", _path("targets", targets)]
    elif all_users:
        arguments.append("--all-users")
    elif all_groups:
        arguments.append("--all-groups")
    out_given = None if out is None else Path(_path("out", out))
    journal_given = None if journal is None else Path(_path("journal", journal))
    if dry_run:
        arguments.append("--dry-run")
    arguments += _device_arguments(devices, reset_rate, registration_timeout)
    if not isinstance(new_user_names, bool):
        raise TypeError("`new_user_names` must be a bool")
    if new_user_names:
        arguments.append("--new-user-names")
    if user_name_template is not None:
        arguments += ["--user-name-template", _text("user_name_template", user_name_template)]
    if progress is not None and not callable(progress):
        raise TypeError("`progress` must be callable")
    _check_password(password)
    arguments += _connection_arguments(
        server=server, username=username, profile=profile, config=config, ca_cert=ca_cert,
        concurrency=concurrency, max_rate=max_rate, allow_http=allow_http,
        allow_plaintext=allow_plaintext,
    )
    return _run_reset(arguments, user_ids, out_given, journal_given, password, progress)


def _run_reset(
    arguments: List[str],
    user_ids: Optional[List[str]],
    out: Optional[Path],
    journal: Optional[Path],
    password: Optional[str],
    progress: Optional[Callable[[Progress], Any]],
) -> Report:
    """Runs ``reset``'s checked ``arguments``: makes the run directory (when ``out`` is not
    given) and the users listing (for ``users``), adds ``--out`` and ``--journal``, and runs the
    command. A run that never started (refused, or stopped before it wrote its journal) takes
    away the files made here, so that a refused call leaves nothing behind."""
    directory: Optional[Path] = None
    if out is None:
        directory = _run_directory()
        out_path = directory / "credentials.csv"
    else:
        out_path = out
    listing = None
    if user_ids is not None:
        listing = (directory or out_path.parent) / f".{out_path.name}.users"
        with open(listing, "x", encoding="utf-8") as text:
            text.writelines(f"{user}\n" for user in user_ids)
        arguments = [*arguments, "--users-file", str(listing)]
    journal_path = journal if journal is not None else Path(f"{out_path}.journal")
    arguments = [*arguments, "--out", str(out_path), "--journal", str(journal_path)]
    journal_there_before = journal_path.exists()

    def never_started() -> bool:
        return journal_there_before or not journal_path.exists()

    try:
        exit_code, error = _run_watched(arguments, password, journal_path, progress)
    except BaseException:
        if never_started():
            _remove_unstarted(listing, directory)
        raise
    if exit_code in (_USAGE, _COULD_NOT_START) and never_started():
        _remove_unstarted(listing, directory)
    _raise_for(exit_code, error, journal_path)
    return Report(
        out=out_path,
        journal=journal_path,
        failures=Path(f"{out_path}.failed.csv"),
        audit=Path(f"{out_path}.audit.json"),
        exit_code=exit_code,
    )


def _remove_unstarted(listing: Optional[Path], directory: Optional[Path]) -> None:
    """Removes what ``reset`` made for a run that never started (refused, or stopped before it
    wrote its journal): the users listing, and the run directory if nothing else is in it."""
    if listing is not None:
        listing.unlink(missing_ok=True)
    if directory is not None:
        try:
            directory.rmdir()
        except OSError:  # the command wrote something there: it stays
            pass


def _run_watched(
    arguments: List[str],
    password: Optional[str],
    journal: Path,
    progress: Optional[Callable[[Progress], Any]],
) -> Tuple[int, Optional[str]]:
    """``_run``, with ``progress`` (if given) called from the journal as it grows."""
    watcher = None if progress is None else _JournalProgress(journal, progress)
    if watcher is not None:
        watcher.start()
    try:
        exit_code, error = _run(arguments, password)
    except BaseException:
        # The run's own exception (Ctrl-C, say) is what the caller sees, not the callback's.
        if watcher is not None:
            watcher.stop(reraise=False)
        raise
    if watcher is not None:
        watcher.stop()
    return exit_code, error


def resume_run(
    journal: PathLike,
    *,
    devices: Optional[str] = None,
    reset_rate: Optional[float] = None,
    registration_timeout: Optional[int] = None,
    server: Optional[str] = None,
    username: Optional[str] = None,
    password: Optional[str] = None,
    profile: Optional[str] = None,
    config: Optional[PathLike] = None,
    ca_cert: Optional[PathLike] = None,
    concurrency: Optional[int] = None,
    max_rate: Optional[float] = None,
    allow_http: bool = False,
    allow_plaintext: bool = False,
) -> Report:
    """``bwreset resume --journal JOURNAL`` for a journal written by ``bwreset reset`` (or
    ``bwreset.reset``); connection settings as for ``reset``. Returns the ``Report`` of the
    files the run writes.

    ``devices`` (``"none"``, ``"rebuild"`` or ``"reset"``, SIP), ``reset_rate`` and
    ``registration_timeout`` are ``reset``'s, for the phones of the journal's users: without
    them the run's own choices (recorded in the journal) hold; with ``devices="reset"`` the
    phones are rebuilt and reset, ``reset_rate`` resets a second at most, then watched until
    they register again, at most ``registration_timeout`` seconds (0 not watching).

    Raises:
        TypeError, ValueError: a bad argument, before anything is sent.
        UsageError, CouldNotStartError, RunStoppedError: as for ``reset``.
    """
    path = _path("journal", journal)
    arguments = ["resume", "--journal", path, "--yes"]
    arguments += _device_arguments(devices, reset_rate, registration_timeout)
    _check_password(password)
    arguments += _connection_arguments(
        server=server, username=username, profile=profile, config=config, ca_cert=ca_cert,
        concurrency=concurrency, max_rate=max_rate, allow_http=allow_http,
        allow_plaintext=allow_plaintext,
    )
    _, meta = _native.journal_header(path)
    files = json.loads(meta).get("files", {})
    exit_code, error = _run(arguments, password)
    _raise_for(exit_code, error, Path(path))
    output = files.get("output", {})
    out = Path(output.get("path", "")) if isinstance(output, dict) else Path(str(output))
    return Report(
        out=out,
        journal=Path(path),
        failures=Path(files.get("failures", f"{out}.failed.csv")),
        audit=Path(files.get("audit", f"{out}.audit.json")),
        exit_code=exit_code,
    )


def check(
    *,
    service_provider: Optional[str] = None,
    group: Optional[str] = None,
    server: Optional[str] = None,
    username: Optional[str] = None,
    password: Optional[str] = None,
    profile: Optional[str] = None,
    config: Optional[PathLike] = None,
    ca_cert: Optional[PathLike] = None,
    allow_http: bool = False,
    allow_plaintext: bool = False,
) -> None:
    """``bwreset check``: the settings, the connection, the TLS certificate, the login and (with
    ``group``) one group listing, changing nothing. Returns ``None`` when all is well (its
    findings are printed as the command prints them); raises like ``reset`` otherwise."""
    arguments = ["check"]
    for name, flag, value in (
        ("service_provider", "--service-provider", service_provider),
        ("group", "--group", group),
    ):
        if value is not None:
            arguments += [flag, _text(name, value)]
    _check_password(password)
    arguments += _connection_arguments(
        server=server, username=username, profile=profile, config=config, ca_cert=ca_cert,
        concurrency=None, max_rate=None, allow_http=allow_http, allow_plaintext=allow_plaintext,
    )
    exit_code, error = _run(arguments, password)
    _raise_for(exit_code, error, None)
    if exit_code != 0:
        raise CouldNotStartError(f"error: `bwreset check` ended with exit code {exit_code}", exit_code)
