"""The ``bwreset`` console script: the Rust command line, run in this process."""

import signal
import sys

from bwreset import _native


def main() -> None:
    """Runs ``bwreset`` with this process's arguments and exits with its exit code.

    Ctrl-C is handed back to the operating system's default first, as in the Rust binary: the
    command installs its own handler where a run must stop cleanly, and before that Ctrl-C ends
    the process at once (Python's ``KeyboardInterrupt`` could not be raised while Rust runs).
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_native.run_cli(["bwreset", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
