"""`bwreset.check` says where the password came from: the Python caller's `password=`, or the
environment."""

import bwreset


def test_a_password_given_from_python_is_labelled_so(simulator, capfd, monkeypatch):
    monkeypatch.delenv("BWRESET_PASSWORD", raising=False)
    monkeypatch.delenv("ODIN_PASSWORD", raising=False)
    bwreset.check(server=simulator.base_url, username="admin", password="admin")
    out = capfd.readouterr().out
    assert "password given by the caller (`password=`)" in out
    assert "password from the environment" not in out


def test_a_password_from_the_environment_is_labelled_so(simulator, capfd, monkeypatch):
    monkeypatch.setenv("BWRESET_PASSWORD", "admin")
    bwreset.check(server=simulator.base_url, username="admin")
    out = capfd.readouterr().out
    assert "password from the environment" in out
    assert "given by the caller" not in out
