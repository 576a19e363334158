"""Points the published Python client (odins-spear) at odin-sim and checks its bulk reset.

A real client that nobody here wrote must be able to finish SIP and voicemail resets against
the simulator, and the simulator's truth (/_sim/credentials) must agree with what that client
reports. Its WEB mode is broken in the library itself (it calls a method that does not exist),
so that mode is expected to fail before any request is sent.

Usage: python odins_spear_check.py PATH_TO_ODIN_SIM_BINARY
"""

import json
import subprocess
import sys
import urllib.request

from odins_spear import API
from odins_spear.scripts.bulk_password_reset import main as bulk_password_reset


def main() -> int:
    simulator = subprocess.Popen(
        [sys.argv[1], "--listen", "127.0.0.1:0", "--users", "25", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = simulator.stdout.readline().strip()
        prefix = "odin-sim listening on "
        if not first_line.startswith(prefix):
            print(f"unexpected first line from odin-sim: {first_line!r}")
            return 1
        base_url = first_line[len(prefix):]
        api = API(base_url=base_url, username="admin", password="admin", rate_limit=False)
        api._authenticate()  # the library's own login; it has no public name in 2.3.0

        users = [f"user{index:04d}@demo.example" for index in range(1, 21)]
        reported = {
            kind: bulk_password_reset(api, "demo-sp", "demo-group", users, kind)
            for kind in ("SIP", "vm")
        }
        with urllib.request.urlopen(base_url.replace("/api/v2", "/_sim/credentials")) as answer:
            truth = {record["userId"]: record for record in json.load(answer)}

        problems = []
        for kind, value_key, truth_key in (
            ("SIP", "newPassword", "sipPassword"),
            ("vm", "newPasscode", "portalPasscode"),
        ):
            rows = reported[kind]
            if [row["userId"] for row in rows] != users:
                problems.append(f"{kind}: the client reported other users than it was given")
            for row in rows:
                if truth[row["userId"]][truth_key] != row[value_key]:
                    problems.append(f"{kind}: {row['userId']} differs from the simulator's truth")
                if truth[row["userId"]]["changes"][kind.lower()] != 1:
                    problems.append(f"{kind}: {row['userId']} was not changed exactly once")
        for problem in problems:
            print(problem)
        if problems:
            return 1
        print(f"odins-spear: SIP and VM resets of {len(users)} users each match odin-sim's truth")
        return 0
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
