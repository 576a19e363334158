"""bwreset: reset SIP passwords, voicemail passcodes or web passwords in bulk on Cisco
BroadWorks, over the Odin API or OCI-P, from Python.

- ``bwreset.reset``, ``bwreset.resume``, ``bwreset.check``: the ``bwreset`` command's own path
  (settings, config file, engine, journal, files) with keyword arguments named like its flags,
  returning a ``Report``; failures raise ``UsageError``, ``CouldNotStartError`` or
  ``RunStoppedError`` with the message and hint the command prints.
- ``bwreset.odins_spear``: the published odins-spear library's ``API`` and
  ``Scripter.bulk_password_reset``, drop-in (change the import line only), on bwreset's engine:
  every value journaled before it is sent, one failing user never stops the others.
- ``bwreset.testing.Simulator``: the workspace's BroadWorks simulator in-process, for tests.
- The ``bwreset`` command (installed with this package): the same CLI as the Rust binary.
"""

import json
import os
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Union

from bwreset import _native
from bwreset._api import (
    BwresetError,
    CouldNotStartError,
    Counts,
    Phone,
    Progress,
    Report,
    RunStoppedError,
    UsageError,
    check,
    reset,
    resume_run,
)
from bwreset.odins_spear.api import ResetResult
from bwreset.odins_spear.api import resume as _resume_bulk_call

try:
    __version__ = version("bwreset")
except PackageNotFoundError:  # running from a source tree without the package installed
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    "reset",
    "resume",
    "check",
    "Report",
    "Counts",
    "Phone",
    "Progress",
    "ResetResult",
    "BwresetError",
    "UsageError",
    "CouldNotStartError",
    "RunStoppedError",
]


def resume(journal: Union[str, "os.PathLike[str]"], **settings: Any) -> Union[Report, ResetResult]:
    """Finishes an interrupted run from its journal, whoever started it.

    A journal of ``bwreset.reset`` (or the ``bwreset reset`` command) is finished as
    ``bwreset resume --journal`` does it, with the connection keyword arguments of ``reset`` and
    its phone ones (``devices``, ``reset_rate``, ``registration_timeout``, meaning what they
    mean there; without them the journal's own choices hold), and gives a ``Report``. A journal
    of ``Scripter.bulk_password_reset`` is finished through ``api=`` (or
    ``server``/``username``/``password``) and gives what that call returns, a ``ResetResult``
    (see ``bwreset.odins_spear.resume``). A journal that is missing or cannot be read raises
    ``UsageError`` before anything is sent.
    """
    path = os.fspath(journal)
    try:
        _, meta = _native.journal_header(path)
    except _native.RunFailed as error:
        # Refused as `bwreset resume --journal` refuses it (exit code 2): nothing was sent.
        raise UsageError(
            f"error: cannot resume from journal `{path}`\n  caused by: {error}", 2
        ) from None
    if isinstance(json.loads(meta), dict) and "files" in json.loads(meta):
        return resume_run(path, **settings)
    return _resume_bulk_call(path, **settings)
