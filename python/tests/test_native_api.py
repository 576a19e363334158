"""bwreset.reset / resume / check: the command's own path from Python."""

import os

import pytest

import bwreset

USERS = [f"user{index:04d}@demo.example" for index in range(1, 9)]


def login(simulator):
    return dict(server=simulator.base_url, username="admin", password="admin")


def test_reset_of_users_with_a_failing_one_in_the_middle(simulator):
    users = USERS[:4] + ["nobody@demo.example"] + USERS[4:]
    report = bwreset.reset(
        type="SIP", service_provider="demo-sp", group="demo-group", users=users, **login(simulator)
    )
    rows = list(report)
    assert [row["userId"] for row in rows] == USERS
    truth = simulator.credentials()
    for row in rows:
        assert truth[row["userId"]].sip_password == row["newPassword"]
    assert [row["userId"] for row in report.failed()] == ["nobody@demo.example"]
    assert list(report.uncertain()) == []
    assert (report.counts.set, report.counts.failed, report.counts.total) == (8, 1, 9)
    assert report.exit_code == 1
    assert report.journal.exists()


def test_a_whole_group_to_a_chosen_file_and_resume_of_a_finished_journal(simulator, tmp_path):
    out = tmp_path / "passcodes.csv"
    report = bwreset.reset(
        type="vm", service_provider="demo-sp", group="demo-group", all_users=True, out=out,
        **login(simulator),
    )
    assert report.out == out and report.exit_code == 0
    first = report.credentials()
    assert len(first) == 20 and all(set(row) == {"userId", "newPasscode"} for row in first)
    again = bwreset.resume(report.journal, **login(simulator))
    assert isinstance(again, bwreset.Report)
    assert again.credentials() == first
    truth = simulator.credentials()
    assert all(truth[row["userId"]].changes.vm == 1 for row in first)


def test_a_refused_login_raises_with_the_commands_message_and_hint(simulator):
    with pytest.raises(bwreset.CouldNotStartError) as raised:
        bwreset.reset(
            type="sip", service_provider="demo-sp", group="demo-group", users=USERS,
            server=simulator.base_url, username="admin", password="not-the-password",
        )
    error = raised.value
    assert error.exit_code == 3
    assert "was refused; nothing was changed" in error.message
    assert error.hint and "password" in error.hint
    assert "not-the-password" not in str(error)


def test_input_the_command_refuses_is_a_usage_error(simulator, tmp_path):
    with pytest.raises(bwreset.UsageError) as raised:
        bwreset.reset(
            type="sip", service_provider="demo-sp", group="demo-group",
            users_file=tmp_path / "missing.txt", **login(simulator),
        )
    assert isinstance(raised.value, ValueError)
    assert raised.value.exit_code == 2


@pytest.mark.parametrize("content", [None, "not a journal\n"])
def test_a_journal_that_cannot_be_read_is_a_usage_error(simulator, tmp_path, content):
    journal = tmp_path / "run.journal"
    if content is not None:
        journal.write_text(content)
    with pytest.raises(bwreset.UsageError) as raised:
        bwreset.resume(journal, **login(simulator))
    assert raised.value.exit_code == 2
    assert raised.value.message == f"cannot resume from journal `{journal}`"
    assert ("corrupt" if content else "No such file") in raised.value.text


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"type": None}, TypeError),
        ({"type": "pin"}, ValueError),
        ({"users": "user0001@demo.example"}, TypeError),
        ({"users": []}, ValueError),
        ({"users": [None]}, TypeError),
        ({"all_users": True}, ValueError),
        ({"group": 3}, TypeError),
        ({"concurrency": 0}, ValueError),
        ({"password": 12}, TypeError),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(simulator, changes, error):
    arguments = dict(type="sip", service_provider="demo-sp", group="demo-group", users=USERS)
    arguments.update(login(simulator))
    arguments.update(changes)
    with pytest.raises(error):
        bwreset.reset(**arguments)
    for credentials in simulator.credentials().values():
        assert credentials.changes.sip == 0


def test_check(simulator):
    assert bwreset.check(group="demo-group", service_provider="demo-sp", **login(simulator)) is None
    with pytest.raises(bwreset.CouldNotStartError):
        bwreset.check(server=simulator.base_url, username="admin", password="wrong")


def test_progress_is_called_with_counts_and_ends_with_the_totals(simulator):
    seen = []
    report = bwreset.reset(
        type="web", service_provider="demo-sp", group="demo-group", all_users=True,
        progress=seen.append, **login(simulator),
    )
    assert seen, "the progress callable was never called"
    assert all(isinstance(progress, bwreset.Progress) for progress in seen)
    assert [progress.set for progress in seen] == sorted(progress.set for progress in seen)
    assert (seen[-1].set, seen[-1].failed, seen[-1].total) == (20, 0, 20)
    assert report.counts.set == 20


def test_a_progress_callable_that_raises_is_reported_after_the_run(simulator):
    def broken(progress):
        raise RuntimeError("progress display broke")

    with pytest.raises(RuntimeError, match="progress display broke"):
        bwreset.reset(
            type="web", service_provider="demo-sp", group="demo-group", users=USERS,
            progress=broken, **login(simulator),
        )
    with pytest.raises(TypeError):
        bwreset.reset(
            type="web", service_provider="demo-sp", group="demo-group", users=USERS,
            progress="not callable", **login(simulator),
        )


def test_the_password_never_enters_the_process_environment(simulator, monkeypatch):
    monkeypatch.delenv("BWRESET_PASSWORD", raising=False)
    monkeypatch.delenv("ODIN_PASSWORD", raising=False)
    environments = []

    def look(progress):
        environments.append("BWRESET_PASSWORD" in os.environ or "ODIN_PASSWORD" in os.environ)

    report = bwreset.reset(
        type="vm", service_provider="demo-sp", group="demo-group", users=USERS[:3],
        progress=look, **login(simulator),
    )
    assert report.counts.set == 3, "the password given as an argument logged in"
    assert environments and not any(environments)


def test_new_user_names_give_each_user_both_halves_and_leave_the_phones_to_finish(simulator):
    before = {user: credentials.sip_user_name for user, credentials in simulator.credentials().items()}
    report = bwreset.reset(
        type="sip", service_provider="demo-sp", group="demo-group", users=USERS[:4],
        new_user_names=True, user_name_template="{local}-{random:8}", devices="none",
        **login(simulator),
    )
    rows = report.credentials()
    assert [list(row) for row in rows] == [["userId", "newUserName", "newPassword"]] * 4
    truth = simulator.credentials()
    names = set()
    for row in rows:
        user = row["userId"]
        assert truth[user].sip_user_name == row["newUserName"] != before[user]
        assert truth[user].sip_password == row["newPassword"]
        assert row["newUserName"].startswith(user.split("@")[0] + "-")
        names.add(row["newUserName"])
    assert len(names) == 4
    # The phones still hold the old names: the job is not done.
    assert report.exit_code == 1
    with pytest.raises(bwreset.UsageError) as raised:
        bwreset.reset(
            type="vm", service_provider="demo-sp", group="demo-group", users=USERS[:1],
            new_user_names=True, **login(simulator),
        )
    assert "SIP resets only" in raised.value.message
    with pytest.raises(TypeError):
        bwreset.reset(
            type="sip", service_provider="demo-sp", group="demo-group", users=USERS[:1],
            new_user_names="yes", **login(simulator),
        )


def files_under(directory):
    return sorted(str(path) for path in directory.rglob("*") if not path.is_dir())


def run_directories(state_home):
    runs = state_home / "bwreset" / "runs"
    return sorted(runs.iterdir()) if runs.exists() else []


@pytest.mark.parametrize(
    "changes, error",
    [
        ({"users": []}, ValueError),
        ({"users": [None]}, TypeError),
        ({"concurrency": 0}, ValueError),
        ({"devices": ""}, ValueError),
        ({"registration_timeout": 1.5}, TypeError),
        ({"password": 12}, TypeError),
    ],
)
def test_arguments_refused_in_python_leave_no_files(simulator, state_home, tmp_path, changes, error):
    arguments = dict(type="sip", service_provider="demo-sp", group="demo-group", users=USERS)
    arguments.update(login(simulator))
    arguments.update(changes)
    with pytest.raises(error):
        bwreset.reset(**arguments)
    assert run_directories(state_home) == [] and files_under(state_home) == []
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    with pytest.raises(error):
        bwreset.reset(out=chosen / "credentials.csv", **arguments)
    assert files_under(chosen) == []


def test_input_the_command_refuses_leaves_no_files(simulator, state_home, tmp_path):
    refused = dict(
        type="vm", service_provider="demo-sp", group="demo-group", users=USERS,
        new_user_names=True, **login(simulator),
    )
    with pytest.raises(bwreset.UsageError):
        bwreset.reset(**refused)
    assert run_directories(state_home) == [] and files_under(state_home) == []
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    with pytest.raises(bwreset.UsageError):
        bwreset.reset(out=chosen / "credentials.csv", **refused)
    assert files_under(chosen) == []
    # A run that starts keeps its directory and files.
    report = bwreset.reset(
        type="vm", service_provider="demo-sp", group="demo-group", users=USERS, **login(simulator)
    )
    assert run_directories(state_home) == [report.out.parent]
    assert report.out.exists() and report.journal.exists()


@pytest.mark.parametrize("call", ["reset", "resume", "check"])
def test_each_connection_argument_reaches_the_command(simulator, tmp_path, call):
    journal = bwreset.reset(
        type="web", service_provider="demo-sp", group="demo-group", users=USERS[:2],
        **login(simulator),
    ).journal
    calls = {
        "reset": lambda **given: bwreset.reset(
            type="web", service_provider="demo-sp", group="demo-group", users=USERS[:2], **given
        ),
        "resume": lambda **given: bwreset.resume(journal, **given),
        "check": bwreset.check,
    }
    missing = tmp_path / "missing.toml"
    with pytest.raises(bwreset.UsageError, match="missing.toml"):
        calls[call](config=missing, **login(simulator))
    with pytest.raises(bwreset.UsageError, match="no-such-profile"):
        calls[call](profile="no-such-profile", config=None, **login(simulator))
    with pytest.raises(bwreset.CouldNotStartError):
        calls[call](server=simulator.base_url, username="nobody", password="admin")
    if call != "check":
        with pytest.raises(bwreset.UsageError, match="concurrency"):
            calls[call](concurrency=10**9, **login(simulator))
