"""The `bwreset` console script: the Rust command line, from the wheel."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def console_script():
    found = Path(sys.executable).with_name("bwreset")
    assert found.exists(), "the wheel installs `bwreset` beside the interpreter"
    return str(found)


def run(*arguments, **options):
    return subprocess.run(
        [console_script(), *arguments], capture_output=True, text=True, timeout=300, **options
    )


def test_help_lists_every_command():
    answer = run("--help")
    assert answer.returncode == 0, answer.stderr
    for command in ("reset", "resume", "check", "demo", "completions"):
        assert command in answer.stdout


def test_a_usage_error_exits_2_with_clap_s_message():
    answer = run("reset", "--no-such-flag")
    assert answer.returncode == 2
    assert answer.stdout == ""
    assert answer.stderr.startswith("error: unexpected argument '--no-such-flag'")


def test_a_refused_login_exits_3_with_the_message_and_hint(simulator, tmp_path):
    answer = run(
        "reset", "--base-url", simulator.base_url, "--username", "admin",
        "--service-provider", "demo-sp", "--group", "demo-group", "--type", "sip",
        "--all-users", "--yes", "--out", str(tmp_path / "out.csv"),
        env={**os.environ, "ODIN_PASSWORD": "wrong"},
        cwd=tmp_path,
    )
    assert answer.returncode == 3, answer.stderr
    assert "was refused; nothing was changed" in answer.stderr
    assert "hint:" in answer.stderr
    assert "wrong" not in answer.stderr


def test_the_demo_runs(tmp_path):
    answer = run("demo", cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr


@pytest.mark.parametrize(
    "arguments",
    [["--help"], ["--version"], ["reset", "--help"], ["reset", "--no-such-flag"], ["frobnicate"]],
)
def test_byte_for_byte_the_rust_binary(arguments):
    binary = os.environ.get("BWRESET_BINARY") or shutil.which("bwreset-rust")
    if not binary:
        pytest.skip("set BWRESET_BINARY to the Rust binary to compare (python/ci.sh does)")
    ours = run(*arguments)
    theirs = subprocess.run(
        [binary, *arguments], capture_output=True, timeout=60, text=True
    )
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        theirs.returncode,
        theirs.stdout,
        theirs.stderr,
    )
