"""bwreset: reset SIP passwords, voicemail passcodes or web passwords in bulk on Cisco
BroadWorks, over the Odin API or OCI-P, from Python.

- ``bwreset.odins_spear``: the published odins-spear library's ``API`` and
  ``Scripter.bulk_password_reset``, drop-in (change the import line only), on bwreset's engine:
  every value journaled before it is sent, one failing user never stops the others.
- ``bwreset.resume(journal)``: finishes an interrupted ``bulk_password_reset`` call.
- ``bwreset.testing.Simulator``: the workspace's BroadWorks simulator in-process, for tests.
- The ``bwreset`` command (installed with this package): the same CLI as the Rust binary.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bwreset")
except PackageNotFoundError:  # running from a source tree without the package installed
    __version__ = "0+unknown"

from bwreset.odins_spear.api import ResetResult, resume

__all__ = ["__version__", "ResetResult", "resume"]
