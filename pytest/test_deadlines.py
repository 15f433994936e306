"""The server's own deadlines beyond one wait: a whole session
(`Session-Timeout:`, `serve --session-timeout`) and a whole run
(`serve --run-timeout`, exit status 3). Each is shown ending what would
otherwise go on, and staying out of the way of what ends in time."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from starttls_mock import harness



def scenario(tmp_path: Path, headers: str, timeout: str = "1s") -> Path:
    """The responder alone (serve), with a per-wait `timeout` and `headers`
    added."""
    path = tmp_path / "chatty.smtp"
    path.write_text(f"Summary: the responder, with deadlines\nTimeout: {timeout}\n"
                    + headers + "\nserve\n")
    return path


def keep_talking(port: int, budget: float) -> tuple[int, float]:
    """A client that never lets one wait run out: NOOP after NOOP, each
    answered at once, until the server ends the connection or `budget`
    seconds pass. Returns the replies read and the seconds taken."""
    started = time.monotonic()
    replies = 0
    with socket.create_connection(("127.0.0.1", port), timeout=budget) as s:
        f = s.makefile("rb")
        f.readline()  # greeting
        try:
            while time.monotonic() - started < budget:
                s.sendall(b"NOOP\r\n")
                if not f.readline():
                    break
                replies += 1
        except (ConnectionResetError, BrokenPipeError):
            pass
        f.close()
    return replies, time.monotonic() - started


def test_session_timeout_ends_a_client_that_talks_forever(starttls_server, tmp_path):
    server = starttls_server(scenario(tmp_path, "Session-Timeout: 2s\n"), sessions=1)
    replies, took = keep_talking(server.port, budget=20)
    assert server.wait(timeout=15) == 0
    assert replies > 10, "the client was answered until the deadline"
    assert 1.9 < took < 10
    [report] = server.sessions_reports()
    assert report["observed"] == "hung"
    assert "the session deadline passed (2000ms in all)" in report["ended"]
    assert "hang" in {o["id"] for o in report["oracles"]}


def test_serve_session_timeout_caps_every_scenario(tmp_path):
    server = harness.MockServer([scenario(tmp_path, "Session-Timeout: 600s\n")],
                                tmp_path / "run", sessions=1,
                                extra_args=["--session-timeout", "1500ms"]).start()
    try:
        replies, took = keep_talking(server.port, budget=20)
        assert server.wait(timeout=15) == 0, server.stderr
    finally:
        server.kill()
    assert 1.4 < took < 10
    [report] = server.sessions_reports()
    assert "the session deadline passed (1500ms in all)" in report["ended"]


def test_a_session_within_its_deadline_is_not_cut(starttls_server, tmp_path):
    server = starttls_server(scenario(tmp_path, "Session-Timeout: 30s\n"), sessions=1)
    done = harness.run_client(harness.reference_client(server, "mail.example.test"))
    assert done.returncode == 0, done.stderr
    assert server.wait() == 0
    [report] = server.sessions_reports()
    assert report["delivered"]
    assert "deadline" not in report.get("ended", "")
    assert report["oracles"] == []


def test_run_timeout_ends_the_run_with_status_3_and_every_report(tmp_path):
    # The scenario's own Timeout (30 s) would end the silent session much
    # later than the run deadline.
    server = harness.MockServer([scenario(tmp_path, "", timeout="30s")],
                                tmp_path / "run",
                                extra_args=["--run-timeout", "1s"]).start()
    try:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.recv(100)  # the greeting; then the client says nothing
            code = server.wait(timeout=15)
        took = time.monotonic() - started
    finally:
        server.kill()
    assert code == 3
    assert took < 10, "the run ended at its deadline, not at the session's Timeout"
    [line] = server.stderr.splitlines()
    assert "run deadline (--run-timeout 1000ms) passed after 1 sessions; 1 in progress" in line
    [report] = server.sessions_reports()
    assert report["observed"] == "interrupted"
    assert len(harness.streamed_sessions(server.stream_path)) == 1


def test_run_timeout_does_not_touch_a_run_that_ends_in_time(tmp_path):
    server = harness.MockServer([scenario(tmp_path, "")], tmp_path / "run",
                                sessions=1, extra_args=["--run-timeout", "60s"]).start()
    try:
        done = harness.run_client(harness.reference_client(server, "mail.example.test"))
        code = server.wait(timeout=15)
    finally:
        server.kill()
    assert done.returncode == 0, done.stderr
    assert code == 0
    assert server.stderr == ""
    [report] = server.sessions_reports()
    assert report["delivered"]
