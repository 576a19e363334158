"""Ctrl-C while `bwreset.reset` logs in stops it at once: the login is abandoned (nothing
changed) and `KeyboardInterrupt` is raised, instead of waiting for the login to answer. The
simulator holds every request for ten minutes; SIGINT is sent once the child's login request is
seen on the wire (an established connection to the simulator's port), observed, never timed."""

import json
import signal
import subprocess
import sys
import textwrap
from urllib.parse import urlparse

CHILD = textwrap.dedent(
    """
    import json, os, sys
    import bwreset
    from bwreset.testing import Simulator

    simulator = Simulator(users=3, seed=4, faults={"latency_ms": 600_000})
    print(simulator.base_url, flush=True)
    try:
        bwreset.reset(
            type="sip", service_provider="demo-sp", group="demo-group", all_users=True,
            out=sys.argv[1], server=simulator.base_url, username="admin", password="admin",
        )
        answer = {"interrupted": False}
    except KeyboardInterrupt:
        answer = {"interrupted": True}
    answer["changes"] = sorted({record.changes.sip for record in simulator.credentials().values()})
    print(json.dumps(answer), flush=True)
    # The held login request would keep a graceful stop waiting: leave at once.
    os._exit(0)
    """
)


def connections_to(port):
    """Established TCP connections to `port` on loopback (either end), from /proc/net/tcp."""
    with open("/proc/net/tcp", encoding="ascii") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(
        1 for row in rows
        if row[3] == "01" and int(row[2].split(":")[1], 16) == port
    )


def test_ctrl_c_during_the_login_raises_keyboard_interrupt_without_waiting_for_it(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "out.csv")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base_url = child.stdout.readline().strip()
        port = urlparse(base_url).port
        while connections_to(port) == 0:
            assert child.poll() is None, "the child ended before its login was sent"
        child.send_signal(signal.SIGINT)
        # The login is held for ten minutes: an answer within this wait means it was abandoned.
        answer = json.loads(child.stdout.readline())
        assert child.wait(timeout=120) == 0
    finally:
        if child.poll() is None:
            child.kill()
    assert answer == {"interrupted": True, "changes": [0]}
