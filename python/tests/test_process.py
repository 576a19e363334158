"""The runtime across a fork, and a large report read in flat memory."""

import os
import tracemalloc

import pytest

import bwreset
from bwreset.odins_spear import API, Scripter
from bwreset.testing import Simulator

USERS = [f"user{index:04d}@demo.example" for index in range(1, 4)]


def reset_and_compare(simulator):
    api = API(simulator.base_url, "admin", "admin")
    rows = Scripter(api).bulk_password_reset(
        service_provider_id="demo-sp", group_id="demo-group", users=USERS, password_type="SIP"
    )
    truth = simulator.credentials()
    return [row["userId"] for row in rows] == USERS and all(
        truth[row["userId"]].sip_password == row["newPassword"] for row in rows
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_makes_a_runtime_of_its_own(simulator):
    assert reset_and_compare(simulator)  # the parent's runtime exists and serves the simulator
    child = os.fork()
    if child == 0:
        code = 2
        try:
            with Simulator(users=3, seed=4) as own:
                code = 0 if reset_and_compare(own) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    # The parent's runtime still works after the fork.
    with Simulator(users=3, seed=5) as again:
        assert reset_and_compare(again)


def test_a_report_of_100000_users_is_read_in_flat_memory(tmp_path):
    with Simulator(users=100_000, seed=1) as simulator:
        report = bwreset.reset(
            type="vm", service_provider="demo-sp", group="demo-group", all_users=True,
            out=tmp_path / "passcodes.csv", server=simulator.base_url, username="admin",
            password="admin",
        )
        tracemalloc.start()
        try:
            count = 0
            for row in report:
                assert row["newPasscode"]
                count += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == 100_000
    # Flat: what one row and the reader's buffers need, not 100,000 rows (tens of megabytes).
    assert peak < 1_000_000, peak
