"""``Simulator``: bwreset's BroadWorks simulator (odin-sim) in this process, for tests of scripts
that reset credentials, with no BroadWorks system.

    from bwreset.testing import Simulator

    with Simulator(users=20, seed=3) as simulator:
        api = API(simulator.base_url, simulator.username, simulator.password)
        ...
        truth = simulator.credentials()          # {"user0001@demo.example": Credentials, ...}
        assert truth["user0001@demo.example"].sip_password == result[0]["newPassword"]

Without a ``world`` fixture it holds ``service_providers`` x ``groups`` x ``users`` users: with one
of each, service provider ``demo-sp``, group ``demo-group`` and users ``user0001@demo.example``,
``user0002@demo.example``, ... The login is ``admin`` / ``admin`` unless told otherwise.
"""

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

from bwreset import _native

__all__ = ["Simulator", "Credentials", "Changes"]


@dataclass(frozen=True)
class Changes:
    """How many times each credential was changed."""

    sip: int
    vm: int
    web: int


@dataclass(frozen=True)
class Credentials:
    """One user's true credentials as the simulator holds them. ``repr`` hides the values."""

    user_id: str
    sip_user_name: Optional[str]
    sip_password: Optional[str] = field(repr=False)
    portal_passcode: Optional[str] = field(repr=False)
    web_password: Optional[str] = field(repr=False)
    changes: Changes


class Simulator:
    """A BroadWorks simulator on loopback, served from this process until ``stop`` (or the end
    of a ``with`` block).

    Args:
        users: users per group (without ``world``).
        groups: groups per service provider (without ``world``).
        service_providers: service providers (without ``world``).
        world: a fixture (odin-sim's world spec as a dict: ``serviceProviders`` with their
            ``groups`` and ``users``), instead of the seeded users.
        faults: faults to inject, odin-sim's fault switches by name, e.g.
            ``{"latency_ms": 10, "fail_rate": 0.1}``; change them later with ``set_faults``.
        seed: makes generated values and random faults repeatable.
        ocip: also serve OCI-P (plain TCP on loopback) at ``ocip_url``.
        username, password: the one administrator login.
    """

    def __init__(
        self,
        *,
        users: int = 25,
        groups: int = 1,
        service_providers: int = 1,
        world: Optional[Mapping[str, Any]] = None,
        faults: Optional[Mapping[str, Any]] = None,
        seed: Optional[int] = None,
        ocip: bool = False,
        username: str = "admin",
        password: str = "admin",
    ) -> None:
        for name, count in (
            ("users", users),
            ("groups", groups),
            ("service_providers", service_providers),
        ):
            if not isinstance(count, int) or isinstance(count, bool):
                raise TypeError(f"`{name}` must be an int, not {type(count).__name__}")
            if count < 0 or (name != "users" and count < 1):
                raise ValueError(f"`{name}` is out of range: {count}")
        if not isinstance(username, str) or not isinstance(password, str):
            raise TypeError("`username` and `password` must be str")
        self.username = username
        self.password = password
        self._native = _native.Simulator(
            users=users,
            groups=groups,
            service_providers=service_providers,
            world=None if world is None else json.dumps(dict(world)),
            faults=None,
            seed=seed,
            ocip=bool(ocip),
            username=username,
            password=password,
        )
        if faults:
            try:
                self.set_faults(**faults)
            except BaseException:
                self.stop()
                raise

    @property
    def base_url(self) -> str:
        """The Odin API's base URL, ``http://127.0.0.1:PORT/api/v2``."""
        return self._native.base_url

    @property
    def ocip_url(self) -> Optional[str]:
        """The OCI-P front, ``ocip://127.0.0.1:PORT``, when started with ``ocip=True``."""
        return self._native.ocip_url

    def credentials(self) -> Dict[str, Credentials]:
        """The truth: every user's credentials as the simulator holds them, by user ID."""
        rows = json.loads(self._native.credentials_json())
        return {row["userId"]: _credentials(row) for row in rows}

    @property
    def faults(self) -> Dict[str, Any]:
        """The faults in force, by name."""
        return json.loads(self._native.faults_json())

    def set_faults(self, **faults: Any) -> None:
        """Replaces the faults in force (the ones not named are switched off)."""
        unknown = sorted(set(faults) - set(self.faults))
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(unknown)}")
        self._native.set_faults_json(json.dumps(faults))

    def stop(self) -> None:
        """Stops the server. Stopping twice does nothing."""
        self._native.stop()

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exception: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        try:
            return f"Simulator(base_url={self.base_url!r})"
        except RuntimeError:
            return "Simulator(stopped)"


def _credentials(row: Mapping[str, Any]) -> Credentials:
    changes = row.get("changes") or {}
    return Credentials(
        user_id=row["userId"],
        sip_user_name=row.get("sipUserName"),
        sip_password=row.get("sipPassword"),
        portal_passcode=row.get("portalPasscode"),
        web_password=row.get("webPassword"),
        changes=Changes(
            sip=int(changes.get("sip", 0)),
            vm=int(changes.get("vm", 0)),
            web=int(changes.get("web", 0)),
        ),
    )
