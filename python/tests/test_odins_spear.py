"""The drop-in: a script written for odins-spear 2.3.0, with only its import line changed."""

import logging
import os
import stat

import pytest

from bwreset.odins_spear import (
    API,
    OSApiAuthenticationFail,
    OSError as OdinsSpearError,
    OSInvalidPasswordType,
    OSRunFailed,
    ResetResult,
    Scripter,
    resume,
)
from bwreset.testing import Simulator

USERS = [f"user{index:04d}@demo.example" for index in range(1, 11)]
TRUTH_KEY = {"SIP": "sip_password", "VM": "portal_passcode", "WEB": "web_password"}
CHANGE_KEY = {"SIP": "sip", "VM": "vm", "WEB": "web"}


def test_the_seeds_how_to_use_agrees_with_the_truth(simulator):
    my_api = API(base_url=simulator.base_url, username="admin", password="admin")
    assert my_api.authenticate() and my_api._authenticate()  # both names scripts use
    assistant = Scripter(my_api)
    answers = {
        kind: assistant.bulk_password_reset(
            service_provider_id="demo-sp", group_id="demo-group", users=USERS, password_type=kind
        )
        for kind in ("SIP", "vm", "Web")
    }
    truth = simulator.credentials()
    for kind, rows in answers.items():
        kind = kind.upper()
        value_key = "newPasscode" if kind == "VM" else "newPassword"
        assert type(rows) is ResetResult and isinstance(rows, list)
        assert [row["userId"] for row in rows] == USERS
        assert all(set(row) == {"userId", value_key} for row in rows)
        for row in rows:
            assert getattr(truth[row["userId"]], TRUTH_KEY[kind]) == row[value_key]
            assert getattr(truth[row["userId"]].changes, CHANGE_KEY[kind]) == 1
        assert rows.failed == [] and rows.uncertain == []
    untouched = truth["user0020@demo.example"].changes
    assert (untouched.sip, untouched.vm, untouched.web) == (0, 0, 0)


def test_a_failing_user_in_the_middle_does_not_stop_the_others(simulator, caplog):
    users = USERS[:5] + ["nobody@demo.example"] + USERS[5:]
    api = API(simulator.base_url, "admin", "admin", rate_limit=False)
    with caplog.at_level(logging.INFO, logger="bwreset.odins_spear"):
        rows = Scripter(api).bulk_password_reset(
            service_provider_id="demo-sp", group_id="demo-group", users=users, password_type="SIP"
        )
    assert [row["userId"] for row in rows] == USERS
    assert [row["userId"] for row in rows.failed] == ["nobody@demo.example"]
    assert rows.failed[0]["reason"]
    assert "nobody@demo.example" in caplog.text
    truth = simulator.credentials()
    for row in rows:
        assert truth[row["userId"]].sip_password == row["newPassword"]


def test_every_value_is_journaled_in_a_new_private_file(simulator, state_home, caplog):
    api = API(simulator.base_url, "admin", "admin")
    with caplog.at_level(logging.INFO, logger="bwreset.odins_spear"):
        rows = Scripter(api).bulk_password_reset(
            service_provider_id="demo-sp", group_id="demo-group", users=USERS[:3], password_type="VM"
        )
    journal = rows.journal
    assert journal.startswith(str(state_home / "bwreset" / "journals"))
    assert stat.S_IMODE(os.stat(journal).st_mode) == 0o600
    assert journal in caplog.text
    with open(journal, encoding="utf-8") as text:
        lines = text.read().splitlines()
    assert len(lines) > 3
    for row in rows:
        assert row["userId"] in "\n".join(lines)


def test_a_journal_path_given_is_used_and_never_overwritten(simulator, tmp_path):
    api = API(simulator.base_url, "admin", "admin")
    path = tmp_path / "run.journal"
    rows = Scripter(api).bulk_password_reset(
        service_provider_id="demo-sp", group_id="demo-group", users=USERS[:2], password_type="sip",
        journal=path,
    )
    assert rows.journal == str(path) and path.exists()
    with pytest.raises(OSRunFailed, match="exists") as raised:
        Scripter(api).bulk_password_reset(
            service_provider_id="demo-sp", group_id="demo-group", users=USERS[:2],
            password_type="sip", journal=path,
        )
    assert isinstance(raised.value, OdinsSpearError)


def test_a_journal_that_cannot_be_resumed_raises_the_public_exception(simulator, tmp_path):
    api = API(simulator.base_url, "admin", "admin")
    missing = tmp_path / "missing.journal"
    with pytest.raises(OSRunFailed, match="missing.journal") as raised:
        resume(missing, api=api)
    assert isinstance(raised.value, OdinsSpearError)
    with pytest.raises(OSRunFailed, match="missing.journal"):
        resume(missing, server=simulator.base_url, username="admin", password="admin")


def test_an_empty_password_is_refused_not_replaced_by_the_environment(simulator, tmp_path, monkeypatch):
    api = API(simulator.base_url, "admin", "admin")
    rows = Scripter(api).bulk_password_reset(
        service_provider_id="demo-sp", group_id="demo-group", users=USERS[:2], password_type="WEB",
        journal=tmp_path / "run.journal",
    )
    monkeypatch.setenv("BWRESET_USERNAME", "admin")
    monkeypatch.setenv("BWRESET_PASSWORD", "admin")
    with pytest.raises(ValueError, match="`password` is empty") as raised:
        resume(rows.journal, password="")
    assert "BWRESET_PASSWORD" in str(raised.value), "the message says how to use the environment"
    import bwreset

    with pytest.raises(ValueError, match="`password` is empty"):
        bwreset.resume(rows.journal, password="")
    # So are an empty user name and an empty server, each saying what it would have used.
    for name, default in [("username", "BWRESET_USERNAME"), ("server", "the journal names")]:
        with pytest.raises(ValueError, match=f"`{name}` is empty") as raised:
            resume(rows.journal, **{name: ""})
        assert default in str(raised.value)
    # Left out, the password comes from the environment.
    assert resume(rows.journal) == rows


def test_a_refused_login_raises_the_librarys_exception(simulator):
    with pytest.raises(OSApiAuthenticationFail) as raised:
        API(simulator.base_url, "admin", "wrong")
    assert isinstance(raised.value, OdinsSpearError)
    assert isinstance(raised.value, Exception)


def test_an_unreachable_server_raises_the_librarys_exception():
    with Simulator(users=1) as gone:
        base_url = gone.base_url
    with pytest.raises(OSApiAuthenticationFail):
        API(base_url, "admin", "admin")


@pytest.mark.parametrize("password_type", ["voicemail", "SIPS", "", "pin"])
def test_an_invalid_password_type_is_refused_before_anything_is_sent(simulator, password_type):
    api = API(simulator.base_url, "admin", "admin")
    with pytest.raises(OSInvalidPasswordType):
        Scripter(api).bulk_password_reset(
            service_provider_id="demo-sp", group_id="demo-group", users=USERS,
            password_type=password_type,
        )
    assert_nothing_changed(simulator)


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"users": None}, TypeError),
        ({"users": "user0001@demo.example"}, TypeError),
        ({"users": b"user0001@demo.example"}, TypeError),
        ({"users": []}, ValueError),
        ({"users": [1, 2]}, TypeError),
        ({"users": 7}, TypeError),
        ({"service_provider_id": None}, TypeError),
        ({"group_id": 5}, TypeError),
        ({"group_id": ""}, ValueError),
        ({"password_type": None}, (TypeError, ValueError)),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(simulator, changes, error):
    api = API(simulator.base_url, "admin", "admin")
    arguments = dict(
        service_provider_id="demo-sp", group_id="demo-group", users=USERS, password_type="SIP"
    )
    arguments.update(changes)
    with pytest.raises(error):
        Scripter(api).bulk_password_reset(**arguments)
    assert_nothing_changed(simulator)


def test_bad_arguments_to_the_api_are_refused():
    with pytest.raises(TypeError):
        API(None, "admin", "admin")
    with pytest.raises(TypeError):
        API("http://127.0.0.1:9/api/v2", "admin", None)
    with pytest.raises(TypeError):
        Scripter("not an api")


def test_an_ocip_server_is_a_base_url_too():
    with Simulator(users=8, seed=5, ocip=True) as simulator:
        api = API(simulator.ocip_url, "admin", "admin")
        rows = Scripter(api).bulk_password_reset(
            service_provider_id="demo-sp", group_id="demo-group", users=USERS[:8],
            password_type="SIP",
        )
        truth = simulator.credentials()
    assert [row["userId"] for row in rows] == USERS[:8]
    for row in rows:
        assert truth[row["userId"]].sip_password == row["newPassword"]


def assert_nothing_changed(simulator):
    for credentials in simulator.credentials().values():
        changes = credentials.changes
        assert (changes.sip, changes.vm, changes.web) == (0, 0, 0)


def test_a_password_in_the_base_url_never_reaches_the_log():
    from bwreset.odins_spear.api import _without_userinfo

    assert _without_userinfo("https://admin:s3cret@host:8443/api/v2") == "https://[redacted]@host:8443/api/v2"
    assert _without_userinfo("http://host/api/v2") == "http://host/api/v2"
    assert _without_userinfo("ocips://host:2209") == "ocips://host:2209"


def test_a_refused_login_to_a_url_with_a_password_never_logs_it(caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(OSApiAuthenticationFail):
        API("http://admin:s3cret@127.0.0.1:9/api/v2", "admin", "admin")
    assert "login to http://[redacted]@127.0.0.1:9/api/v2 as admin failed" in caplog.text
    assert "s3cret" not in caplog.text
