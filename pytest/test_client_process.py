"""A client under test runs in a process group of its own: at its deadline
the whole group is killed, and whatever it leaves running when it exits is
killed too, so no wrapper's child outlives the run."""

from __future__ import annotations

import os
import select
import shutil
import tempfile
from pathlib import Path

import pytest

from starttls_mock import harness



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


def postfix_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "Postfix's master(8) must be started as root"
    if not Path("/usr/sbin/postfix").exists():
        return "Debian's postfix package is not installed (tools/install-deps.sh)"
    if not shutil.which("unshare"):
        return "unshare (util-linux) is missing"
    return None


def processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(postfix_unavailable() is not None, reason=str(postfix_unavailable()))
@pytest.mark.parametrize("budget, killed", [(2.0, True), (30.0, False)])
def test_the_postfix_adapter_leaves_nothing_running(tmp_path, budget, killed):
    """Killed at the deadline while Postfix waits for the STARTTLS reply, or
    ending by itself when its own timeout runs out: no master(8) and no
    daemon of its instance is left."""
    parent = Path(tempfile.mkdtemp(prefix="starttls-postfix-test-"))
    parent.chmod(0o755)
    server = harness.MockServer([harness.SCENARIOS / "timing" / "stall-after-starttls.smtp"],
                                tmp_path / "server")
    server.start()
    try:
        argv = ["/usr/bin/python3", str(Path(__file__).with_name("postfix_client.py")),
                "--host", "127.0.0.1", "--port", str(server.port), "--cafile",
                str(server.cafile), "--timeout", "3", "--parent", str(parent)]
        result = harness.run_process(argv, b"Subject: x\r\n\r\nhello\r\n", budget)
    finally:
        server.stop()
        left = processes_mentioning(str(parent))
        shutil.rmtree(parent, ignore_errors=True)
    assert (result.returncode == -1) == killed, result.stderr
    if not killed:
        assert "timed out while receiving the STARTTLS response" in result.stderr
    assert all(exited_within(pid, 5) for pid in left), f"still running: {left}"
