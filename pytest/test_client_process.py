"""A client under test runs in a process group of its own: at its deadline
the whole group is killed, and whatever it leaves running when it exits is
killed too, so no wrapper's child outlives the run."""

from __future__ import annotations

import os
import select
from pathlib import Path

import harness


def exited_within(pid: int, seconds: float) -> bool:
    """True when process `pid` has ended (or is gone) within `seconds`."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], seconds)
        return bool(readable)
    finally:
        os.close(fd)


def background_child(tmp_path: Path, then: str) -> tuple[list[str], Path]:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 >/dev/null 2>&1 & echo $! > {pidfile}; {then}"
    return ["/bin/sh", "-c", script], pidfile


def test_at_the_deadline_the_whole_process_group_is_killed(tmp_path):
    argv, pidfile = background_child(tmp_path, "wait")
    result = harness.run_process(argv, None, 1.0)
    assert result.returncode == -1
    assert result.stderr.endswith("killed after 1s")
    assert exited_within(int(pidfile.read_text()), 5), "the wrapper's child outlived it"


def test_what_a_client_leaves_running_is_killed_when_it_exits(tmp_path):
    argv, pidfile = background_child(tmp_path, "echo done; exit 0")
    result = harness.run_process(argv, None, 10.0)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    assert exited_within(int(pidfile.read_text()), 5), "the client's child outlived it"


def test_a_client_that_finishes_in_time_is_not_killed():
    result = harness.run_process(["/bin/sh", "-c", "cat; echo err >&2; exit 3"],
                                 b"message\n", 10.0)
    assert (result.returncode, result.stdout, result.stderr) == (3, "message\n", "err\n")
