"""Ctrl-C during a drop-in reset: KeyboardInterrupt, the journal intact, and resume finishes it
with the truth agreeing. The reset runs in a child process that the test interrupts with SIGINT
once the simulator's truth shows values being set (observed, never timed)."""

import json
import signal
import subprocess
import sys
import textwrap
import urllib.request

CHILD = textwrap.dedent(
    """
    import json, sys
    import bwreset
    from bwreset.odins_spear import API, Scripter
    from bwreset.testing import Simulator

    journal = sys.argv[1]
    users = [f"user{index:04d}@demo.example" for index in range(1, 401)]
    with Simulator(users=400, seed=9, faults={"latency_ms": 25}) as simulator:
        api = API(simulator.base_url, "admin", "admin")
        print(simulator.base_url, flush=True)
        try:
            Scripter(api).bulk_password_reset(
                service_provider_id="demo-sp", group_id="demo-group", users=users,
                password_type="SIP", journal=journal,
            )
            print(json.dumps({"interrupted": False}), flush=True)
            sys.exit(0)
        except KeyboardInterrupt:
            pass
        simulator.set_faults()
        rows = bwreset.resume(journal, api=api)
        truth = simulator.credentials()
        print(json.dumps({
            "interrupted": True,
            "users": [row["userId"] for row in rows],
            "expected": users,
            "agree": all(truth[row["userId"]].sip_password == row["newPassword"] for row in rows),
            "changes": sorted({truth[user].changes.sip for user in users}),
            "failed": rows.failed,
            "uncertain": rows.uncertain,
        }), flush=True)
    """
)


def changed_users(base_url):
    root = base_url[: -len("/api/v2")]
    with urllib.request.urlopen(root + "/_sim/credentials", timeout=10) as answer:
        return sum(1 for row in json.load(answer) if row["changes"]["sip"] > 0)


def test_ctrl_c_raises_keyboard_interrupt_and_resume_finishes_the_call(tmp_path):
    journal = tmp_path / "reset.journal"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(journal)], stdout=subprocess.PIPE, text=True
    )
    try:
        base_url = child.stdout.readline().strip()
        assert base_url.startswith("http://"), base_url
        while changed_users(base_url) < 20:
            assert child.poll() is None, "the child ended before it was interrupted"
        child.send_signal(signal.SIGINT)
        answer = json.loads(child.stdout.readline())
        assert child.wait(timeout=120) == 0
    finally:
        if child.poll() is None:
            child.kill()
    assert answer["interrupted"], "the run finished before Ctrl-C reached it"
    assert answer["users"] == answer["expected"]
    assert answer["agree"]
    assert answer["changes"] == [1]
    assert answer["failed"] == [] and answer["uncertain"] == []


NATIVE_CHILD = textwrap.dedent(
    """
    import json, sys
    import bwreset
    from bwreset.testing import Simulator

    directory = sys.argv[1]
    with Simulator(users=400, seed=9, faults={"latency_ms": 25}) as simulator:
        login = dict(server=simulator.base_url, username="admin", password="admin")
        print(simulator.base_url, flush=True)
        try:
            bwreset.reset(
                type="sip", service_provider="demo-sp", group="demo-group", all_users=True,
                out=directory + "/out.csv", concurrency=4, **login,
            )
            print(json.dumps({"interrupted": False}), flush=True)
            sys.exit(0)
        except KeyboardInterrupt:
            pass
        simulator.set_faults()
        report = bwreset.resume(directory + "/out.csv.journal", **login)
        truth = simulator.credentials()
        rows = list(report)
        print(json.dumps({
            "interrupted": True,
            "count": len(rows),
            "agree": all(truth[row["userId"]].sip_password == row["newPassword"] for row in rows),
            "changes": sorted({record.changes.sip for record in truth.values()}),
            "exit_code": report.exit_code,
        }), flush=True)
    """
)


def test_ctrl_c_stops_the_native_api_and_resume_finishes_it(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", NATIVE_CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base_url = child.stdout.readline().strip()
        assert base_url.startswith("http://"), base_url
        while changed_users(base_url) < 20:
            assert child.poll() is None, "the child ended before it was interrupted"
        child.send_signal(signal.SIGINT)
        answer = json.loads(child.stdout.readline())
        assert child.wait(timeout=120) == 0
    finally:
        if child.poll() is None:
            child.kill()
    assert answer["interrupted"], "the run finished before Ctrl-C reached it"
    assert answer["count"] == 400
    assert answer["agree"]
    assert answer["changes"] == [1]
    assert answer["exit_code"] == 0
