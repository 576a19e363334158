"""Shared fixtures: a fresh simulator per test, and a private state directory so that default
journals land in the test's own temporary directory."""

import pytest

from bwreset.testing import Simulator


@pytest.fixture
def simulator():
    with Simulator(users=20, seed=3) as running:
        yield running


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home
