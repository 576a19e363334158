"""Phones in the native report: `bwreset.reset(..., devices=...)` and `Report.phones()`."""

import bwreset

USERS = [f"user{index:04d}@demo.example" for index in range(1, 6)]


def login(simulator):
    return dict(server=simulator.base_url, username="admin", password="admin")


def reset_with_devices(simulator, **options):
    if options.get("devices") == "reset":
        options.setdefault("reset_rate", 100)
    return bwreset.reset(
        type="sip", service_provider="demo-sp", group="demo-group", users=USERS,
        **options, **login(simulator),
    )


def test_reset_phones_are_reported_registered_again(simulator):
    report = reset_with_devices(simulator, devices="reset")
    phones = list(report.phones())
    assert report.exit_code == 0
    assert phones, "the simulator's users have phones"
    carried = {user for phone in phones for user in phone.users}
    assert carried == set(USERS)
    for phone in phones:
        assert phone.action == "reset", phone
        assert phone.result == "registered" and phone.registered_again, phone
        assert phone.reason is None
        assert phone.device_name and phone.device_level
    assert report.phone_counts == {"registered": len(phones)}
    assert report.devices.exists()


def test_phones_without_a_registration_wait_are_reset_not_checked(simulator):
    report = reset_with_devices(simulator, devices="reset", registration_timeout=0)
    phones = list(report.phones())
    assert phones and {phone.result for phone in phones} == {"reset"}
    assert not any(phone.registered_again for phone in phones)


def test_rebuild_only_rebuilds(simulator):
    report = reset_with_devices(simulator, devices="rebuild")
    assert {phone.action for phone in report.phones()} == {"rebuild"}
    assert set(report.phone_counts) == {"rebuilt"}


def test_no_devices_no_phones(simulator):
    report = bwreset.reset(
        type="sip", service_provider="demo-sp", group="demo-group", users=USERS, **login(simulator)
    )
    assert list(report.phones()) == []
    assert report.phone_counts == {}


def test_a_registration_timeout_that_is_not_an_int_is_refused_before_anything_is_sent(simulator):
    import pytest

    with pytest.raises(TypeError):
        reset_with_devices(simulator, devices="reset", registration_timeout=1.5)
    assert all(record.changes.sip == 0 for record in simulator.credentials().values())


def test_resume_takes_the_phone_arguments_of_reset(simulator):
    import pytest

    report = reset_with_devices(simulator, devices="none")
    assert list(report.phones()) == []
    with pytest.raises(TypeError):
        bwreset.resume(report.journal, devices="reset", registration_timeout=1.5, **login(simulator))
    with pytest.raises(ValueError):
        bwreset.resume(report.journal, devices="reset", reset_rate=-1, **login(simulator))
    again = bwreset.resume(
        report.journal, devices="reset", reset_rate=100, registration_timeout=0, **login(simulator)
    )
    phones = list(again.phones())
    assert phones, "the resume's phone follow-up reset the users' phones"
    # Not watched for registration (registration_timeout=0 reached the command): reset, not registered.
    assert {phone.result for phone in phones} == {"reset"}
    assert {user for phone in phones for user in phone.users} == set(USERS)
