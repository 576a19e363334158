"""The console script's `bwreset resume --journal` finishes a journal written by the drop-in
`Scripter.bulk_password_reset`, writing its files beside the journal (`<journal>.json`, the
seed's shape), with the truth agreeing."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

from bwreset.odins_spear import API, Scripter

USERS = [f"user{index:04d}@demo.example" for index in range(1, 21)]

# The drop-in call, interrupted with SIGINT once values are being set (observed, never timed);
# the simulator then stays up until the parent says so on stdin.
INTERRUPTED_CHILD = textwrap.dedent(
    """
    import json, sys
    from bwreset.odins_spear import API, Scripter
    from bwreset.testing import Simulator

    users = [f"user{index:04d}@demo.example" for index in range(1, 401)]
    with Simulator(users=400, seed=9, faults={"latency_ms": 25}) as simulator:
        api = API(simulator.base_url, "admin", "admin")
        print(simulator.base_url, flush=True)
        try:
            Scripter(api).bulk_password_reset(
                service_provider_id="demo-sp", group_id="demo-group", users=users,
                password_type="SIP", journal=sys.argv[1],
            )
            interrupted = False
        except KeyboardInterrupt:
            interrupted = True
        simulator.set_faults()
        print(json.dumps({"interrupted": interrupted}), flush=True)
        sys.stdin.readline()
    """
)


def credentials(base_url):
    root = base_url[: -len("/api/v2")]
    with urllib.request.urlopen(root + "/_sim/credentials", timeout=30) as answer:
        return {row["userId"]: row for row in json.load(answer)}


def test_the_cli_resumes_an_interrupted_drop_in_call(tmp_path):
    journal = tmp_path / "drop-in.journal"
    child = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_CHILD, str(journal)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        base_url = child.stdout.readline().strip()
        assert base_url.startswith("http://"), base_url
        while sum(1 for row in credentials(base_url).values() if row["changes"]["sip"]) < 20:
            assert child.poll() is None, "the child ended before it was interrupted"
        child.send_signal(signal.SIGINT)
        assert json.loads(child.stdout.readline()) == {"interrupted": True}

        answer = subprocess.run(
            [str(Path(sys.executable).with_name("bwreset")), "resume", "--journal",
             str(journal), "--yes"],
            capture_output=True, text=True, timeout=300,
            env=dict(os.environ, BWRESET_USERNAME="admin", BWRESET_PASSWORD="admin"),
        )
        truth = credentials(base_url)
        child.stdin.write("done\n")
        child.stdin.flush()
        assert child.wait(timeout=120) == 0
    finally:
        if child.poll() is None:
            child.kill()
    assert answer.returncode == 0, answer.stderr
    out = Path(f"{journal}.json")
    rows = json.loads(out.read_text(encoding="utf-8"))
    expected = [f"user{index:04d}@demo.example" for index in range(1, 401)]
    assert sorted(row["userId"] for row in rows) == expected
    for row in rows:
        assert truth[row["userId"]]["sipPassword"] == row["newPassword"], row["userId"]
    assert {truth[user]["changes"]["sip"] for user in expected} == {1}
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert Path(f"{journal}.json.audit.json").exists()


def test_the_cli_says_it_needs_a_login_for_a_drop_in_journal(simulator, tmp_path):
    journal = tmp_path / "drop-in.journal"
    api = API(simulator.base_url, "admin", "admin")
    Scripter(api).bulk_password_reset(
        service_provider_id="demo-sp", group_id="demo-group", users=USERS[:2],
        password_type="VM", journal=str(journal),
    )
    environment = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("BWRESET_", "ODIN_"))
    }
    answer = subprocess.run(
        [str(Path(sys.executable).with_name("bwreset")), "resume", "--journal", str(journal),
         "--yes"],
        capture_output=True, text=True, timeout=300, env=environment,
        stdin=subprocess.DEVNULL,
    )
    assert answer.returncode == 2, answer.stderr
    assert "username" in answer.stderr
