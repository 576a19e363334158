"""The Python package's two speed targets (issue 24), measured side by side on one simulator.

1. ``bwreset.reset`` from Python against the ``bwreset`` command (the Rust binary), SIP: the
   Python call should reach at least 95% of the command's users/s.
2. The drop-in ``bwreset.odins_spear.Scripter`` with ``rate_limit=False`` against the published
   odins-spear library (2.3.0, ``rate_limit=False`` too), SIP and VM: at least 15x its users/s.

Every repetition starts one ``odin-sim`` process (``--latency-ms``, 10 by default, added to every
request) holding enough users for every contender, and gives each contender its own slice of
``--users`` users (so a client that touched another's users is caught). Each contender is then
checked against the simulator's truth (``/_sim/credentials``): every user of its slice has the
value the contender returned, changed exactly once; a mismatch fails the benchmark. The order of
the contenders of a pair alternates between repetitions. Every bwreset contender runs with
bwreset's default concurrency (16).

What is timed:
- ``bwreset.reset``: the call (writing its users list, the run, the files) and reading the
  report's credentials back into a list, in this process;
- the command: the ``bwreset reset --users-file ...`` process, start to exit;
- odins-spear and the drop-in: the ``bulk_password_reset`` call alone (the login not included),
  in this process.
CPU is this process's (``time.process_time``) or the child's (``getrusage``), per user.

Usage (a venv holding a release build of the wheel and odins-spear 2.3.0; see docs/benchmarks.md):

    python python/bench.py [--users 2000] [--repeat 3] [--latency-ms 10]
        [--bwreset target/release/bwreset] [--odin-sim target/release/odin-sim] [--only a,b]
"""

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

# This script sits beside the package's sources (python/bwreset); the installed wheel, with its
# native module, is the one to measure.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import bwreset  # noqa: E402
from bwreset.odins_spear import API as DropInAPI  # noqa: E402
from bwreset.odins_spear import Scripter as DropInScripter  # noqa: E402

SIDE_BY_SIDE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "interop", "side_by_side.py"
)
SERVICE_PROVIDER = "demo-sp"
GROUP = "demo-group"


@dataclass
class Figures:
    name: str
    users: int
    seconds: float
    cpu_seconds: float
    mismatches: int

    @property
    def users_per_second(self) -> float:
        return self.users / self.seconds

    def line(self) -> str:
        return (
            f"  {self.name:<48} users {self.users:6d}  wall {self.seconds:7.2f}s"
            f"  users/s {self.users_per_second:8.1f}"
            f"  cpu/user {1e6 * self.cpu_seconds / self.users:6.0f}us"
            f"  truth mismatches {self.mismatches}"
        )


class Simulator:
    """An ``odin-sim`` process on loopback, stopped by ``stop``."""

    def __init__(self, binary: str, users: int, latency_ms: int) -> None:
        self.process = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--seed", "7", "--users", str(users),
             "--latency-ms", str(latency_ms)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        line = self.process.stdout.readline().strip()
        prefix = "odin-sim listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"unexpected first line from odin-sim: {line!r}")
        self.base_url = line[len(prefix):]
        self.root = self.base_url[: -len("/api/v2")]

    def truth(self) -> Dict[str, dict]:
        with urllib.request.urlopen(self.root + "/_sim/credentials", timeout=60) as answer:
            return {row["userId"]: row for row in json.load(answer)}

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def mismatches(rows: Sequence[dict], users: Sequence[str], truth: Dict[str, dict], kind: str) -> int:
    """Users of the slice not set exactly once to the value returned."""
    value_key, truth_key, change_key = {
        "sip": ("newPassword", "sipPassword", "sip"),
        "vm": ("newPasscode", "portalPasscode", "vm"),
    }[kind]
    returned = {row["userId"]: row.get(value_key) for row in rows}
    wrong = 0
    for user in users:
        row = truth.get(user, {})
        if returned.get(user) is None or row.get(truth_key) != returned[user]:
            wrong += 1
        elif row.get("changes", {}).get(change_key) != 1:
            wrong += 1
    return wrong + len(set(returned) - set(users))


@contextlib.contextmanager
def quiet_stderr():
    """The run's summary goes to stderr; sent to /dev/null, as the command's is."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def timed(call: Callable[[], List[dict]]):
    cpu = time.process_time()
    started = time.perf_counter()
    rows = call()
    return rows, time.perf_counter() - started, time.process_time() - cpu


def native_reset(simulator: Simulator, users: List[str], work: str) -> Figures:
    def call() -> List[dict]:
        with quiet_stderr():
            report = bwreset.reset(
                type="sip", service_provider=SERVICE_PROVIDER, group=GROUP, users=users,
                server=simulator.base_url, username="admin", password="admin",
                out=os.path.join(work, "native.csv"),
            )
        return list(report)

    rows, seconds, cpu = timed(call)
    wrong = mismatches(rows, users, simulator.truth(), "sip")
    return Figures("bwreset.reset (Python)", len(users), seconds, cpu, wrong)


def command_reset(simulator: Simulator, users: List[str], work: str, binary: str) -> Figures:
    users_file = os.path.join(work, "command.users")
    with open(users_file, "w", encoding="utf-8") as text:
        text.writelines(f"{user}\n" for user in users)
    out = os.path.join(work, "command.json")
    environment = dict(os.environ, BWRESET_PASSWORD="admin")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [binary, "reset", "--type", "sip", "--server", simulator.base_url, "--username", "admin",
         "--service-provider", SERVICE_PROVIDER, "--group", GROUP, "--users-file", users_file,
         "--out", out, "--format", "json", "--yes"],
        env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        with open(out, encoding="utf-8") as text:
            rows = json.load(text)
    except (OSError, ValueError):
        rows = []
    wrong = mismatches(rows, users, simulator.truth(), "sip")
    return Figures("bwreset reset (the command)", len(users), seconds, cpu, wrong)


def drop_in_reset(simulator: Simulator, users: List[str], kind: str, work: str) -> Figures:
    api = DropInAPI(simulator.base_url, "admin", "admin", rate_limit=False)
    scripter = DropInScripter(api)
    rows, seconds, cpu = timed(lambda: scripter.bulk_password_reset(
        service_provider_id=SERVICE_PROVIDER, group_id=GROUP, users=users,
        password_type=kind.upper(), journal=os.path.join(work, f"drop-in-{kind}.journal"),
    ))
    wrong = mismatches(rows, users, simulator.truth(), kind)
    return Figures("bwreset.odins_spear Scripter, rate_limit=False", len(users), seconds, cpu, wrong)


def library_reset(simulator: Simulator, users: List[str], kind: str, work: str) -> Figures:
    """odins-spear in a process of its own (its ``API`` is a singleton: a second one in this
    process would keep the first one's server), through ``tests/interop/side_by_side.py``,
    which times its ``bulk_password_reset`` call alone."""
    users_file = os.path.join(work, f"library-{kind}.users")
    with open(users_file, "w", encoding="utf-8") as text:
        text.writelines(f"{user}\n" for user in users)
    answer = subprocess.run(
        [sys.executable, SIDE_BY_SIDE, simulator.base_url, kind, users_file],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"side_by_side.py exited {answer.returncode}: {answer.stderr[-2000:]}")
    report = json.loads(answer.stdout)
    wrong = mismatches(report["rows"], users, simulator.truth(), kind)
    name = f"{report['library']}, rate_limit={report['rateLimit']}"
    return Figures(name, len(users), report["elapsedSeconds"], report["cpuSeconds"], wrong)


def repetition(arguments, number: int, parts: Sequence[str]) -> List[str]:
    """One run of every contender against one fresh simulator; returns the lines to print."""
    slices = 2 * (("a" in parts) + 2 * ("b" in parts))
    simulator = Simulator(arguments.odin_sim, slices * arguments.users, arguments.latency_ms)
    lines: List[str] = []
    failed = 0
    try:
        user_ids = sorted(simulator.truth())
        chunks = iter(
            user_ids[index:index + arguments.users]
            for index in range(0, len(user_ids), arguments.users)
        )
        flip = number % 2 == 1
        with tempfile.TemporaryDirectory() as work:
            if "a" in parts:
                native_users, command_users = next(chunks), next(chunks)
                pair = [
                    lambda: native_reset(simulator, native_users, work),
                    lambda: command_reset(simulator, command_users, work, arguments.bwreset),
                ]
                native, command = run_pair(pair, flip)
                ratio = native.users_per_second / command.users_per_second
                lines += [
                    f"# (a) SIP, {arguments.users} users each, {arguments.latency_ms} ms latency",
                    native.line(), command.line(),
                    f"  bwreset.reset / the command: {100 * ratio:.1f}% of its users/s (target >= 95%)",
                ]
                failed += native.mismatches + command.mismatches
            if "b" in parts:
                for kind in ("sip", "vm"):
                    drop_in_users, library_users = next(chunks), next(chunks)
                    pair = [
                        lambda: drop_in_reset(simulator, drop_in_users, kind, work),
                        lambda: library_reset(simulator, library_users, kind, work),
                    ]
                    drop_in, library = run_pair(pair, flip)
                    ratio = drop_in.users_per_second / library.users_per_second
                    lines += [
                        f"# (b) {kind.upper()}, {arguments.users} users each, {arguments.latency_ms} ms latency",
                        drop_in.line(), library.line(),
                        f"  drop-in / odins-spear: {ratio:.1f}x its users/s (target >= 15x)",
                    ]
                    failed += drop_in.mismatches + library.mismatches
    finally:
        simulator.stop()
    if failed:
        lines.append(f"  FAILED: {failed} user(s) not matching the truth")
    return lines


def run_pair(pair, flip: bool):
    if flip:
        second, first = pair[1](), pair[0]()
        return first, second
    return pair[0](), pair[1]()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000, help="users per contender")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=10)
    parser.add_argument("--bwreset", default="target/release/bwreset", help="the Rust binary")
    parser.add_argument("--odin-sim", default="target/release/odin-sim")
    parser.add_argument("--only", default="a,b", help="a (bwreset.reset), b (the drop-in), or both")
    arguments = parser.parse_args(argv)
    parts = [part.strip() for part in arguments.only.split(",") if part.strip()]
    if not parts or set(parts) - {"a", "b"}:
        parser.error("`--only` takes `a`, `b` or `a,b`")
    for path in ([arguments.bwreset] if "a" in parts else []) + [arguments.odin_sim]:
        if not os.access(path, os.X_OK):
            parser.error(f"`{path}` is not an executable; build it with `cargo build --release -p bwreset -p odin-sim`")
    os.environ.setdefault("XDG_STATE_HOME", tempfile.mkdtemp(prefix="bwreset-bench-state-"))
    print(f"bwreset {bwreset.__version__}, Python {sys.version.split()[0]}, load average "
          f"{os.getloadavg()[0]:.2f}, {time.strftime('%H:%M:%S', time.gmtime())} UTC", flush=True)
    failed = False
    for number in range(arguments.repeat):
        print(f"\n## repetition {number + 1} of {arguments.repeat}", flush=True)
        lines = repetition(arguments, number, parts)
        print("\n".join(lines), flush=True)
        failed = failed or any(line.startswith("  FAILED") for line in lines)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
