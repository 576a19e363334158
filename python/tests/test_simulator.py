"""bwreset.testing.Simulator: the simulator in-process."""

import json
import urllib.error
import urllib.request

import pytest

from bwreset.testing import Simulator


def test_the_simulator_serves_its_users_and_tells_the_truth():
    with Simulator(users=4, seed=1) as simulator:
        assert simulator.base_url.startswith("http://127.0.0.1:")
        assert simulator.base_url.endswith("/api/v2")
        truth = simulator.credentials()
        assert sorted(truth) == [f"user{index:04d}@demo.example" for index in range(1, 5)]
        first = truth["user0001@demo.example"]
        assert first.changes.sip == 0
        assert first.sip_password is not None
        assert first.sip_password not in repr(first)
        root = simulator.base_url[: -len("/api/v2")]
        with urllib.request.urlopen(root + "/_sim/credentials") as answer:
            assert len(json.load(answer)) == 4
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(root + "/_sim/credentials", timeout=2)


def test_faults_can_be_set_and_read():
    with Simulator(users=1, faults={"latency_ms": 5}) as simulator:
        assert simulator.faults["latency_ms"] == 5
        simulator.set_faults(fail_rate=0.5)
        assert simulator.faults["fail_rate"] == 0.5
        assert simulator.faults["latency_ms"] == 0
        with pytest.raises(ValueError):
            simulator.set_faults(fail_rate=2.0)
        with pytest.raises(ValueError):
            simulator.set_faults(no_such_fault=1)


def test_a_stopped_simulator_says_so():
    simulator = Simulator(users=1)
    simulator.stop()
    simulator.stop()
    with pytest.raises(RuntimeError):
        simulator.credentials()


def test_groups_and_an_ocip_front():
    with Simulator(users=2, groups=2, service_providers=1, ocip=True) as simulator:
        assert simulator.ocip_url.startswith("ocip://127.0.0.1:")
        assert len(simulator.credentials()) == 4
    with Simulator(users=1) as simulator:
        assert simulator.ocip_url is None


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError):
        Simulator(users="3")
    with pytest.raises(ValueError):
        Simulator(users=-1)
    with pytest.raises(ValueError):
        Simulator(world={"noSuchKey": 1})
