"""Runs the published Python client's bulk reset (odins-spear) for the benchmark and times it.

`cargo run --release -p xtask -- bench --only python` starts one odin-sim, runs this script on
some of its users and `bwreset reset` on the others, and checks both against the simulator's
truth; `python/bench.py` (the Python package's own targets, issue 24) runs it beside the
drop-in `bwreset.odins_spear.Scripter` the same way. This script logs in (not timed), times
`bulk_password_reset` alone, and prints one JSON object on stdout:

    {"library": "odins-spear 2.3.0", "rateLimit": false, "elapsedSeconds": ...,
     "cpuSeconds": ..., "rows": [{"userId": ..., "newPassword" | "newPasscode": ...}, ...]}

The library's default, rate_limit=True, holds it to 5 requests a second; the benchmark wants
its best, so rate_limit=False. Its WEB mode is broken in the library itself, so TYPE is sip or
vm.

Usage: python side_by_side.py BASE_URL TYPE USERS_FILE   (one userId a line)
"""

import importlib.metadata
import json
import sys
import time

from odins_spear import API
from odins_spear.scripts.bulk_password_reset import main as bulk_password_reset


def main() -> int:
    base_url, password_type, users_file = sys.argv[1:4]
    if password_type not in ("sip", "vm"):
        print(f"unsupported type {password_type!r}: sip or vm", file=sys.stderr)
        return 2
    with open(users_file, encoding="utf-8") as lines:
        users = [line.strip() for line in lines if line.strip()]

    # The constructor logs in (POST /auth/token).
    api = API(base_url=base_url, username="admin", password="admin", rate_limit=False)

    cpu_started = time.process_time()
    started = time.perf_counter()
    rows = bulk_password_reset(api, "demo-sp", "demo-group", users, password_type)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started

    json.dump(
        {
            "library": f"odins-spear {importlib.metadata.version('odins-spear')}",
            "rateLimit": api.rate_limit,
            "elapsedSeconds": elapsed,
            "cpuSeconds": cpu,
            "rows": rows,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
