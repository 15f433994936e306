"""The server's contract with whoever runs it: bad scenarios are refused
before anything is served, clients that vanish mid-step do not take the
server down, and a stop signal still writes every report."""

from __future__ import annotations

import json
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from starttls_mock import harness



def serve_argv(*args):
    return [str(harness.binary("starttls-mock")), "serve", *map(str, args)]


@pytest.mark.parametrize("text, where, message", [
    ("S: 220 hi\n", "1:1", 'missing header field "Summary:"'),
    ("Summary: x\nS: 220 hi\nfrob\n", "3:1", 'unknown step "frob"'),
    ("Summary: x\nExpect: maybe\nserve\n", "2:9", 'Expect must be deliver, refuse or deliver-or-refuse'),
    ("Summary: x\ntls x=1\n", "2:5", 'unknown option "x" for step "tls"'),
    ("Summary: x\nCertificate: nope\nserve\n", "2:14", 'unknown certificate profile "nope"'),
    ("Summary: x\nwrite delay=soon\n", "2:13", "delay= must be a duration"),
    ('Summary: x\nsend data="\\q"\n', "2:12", "bad escape"),
    # Contradictory options.
    ("Summary: x\nS: 220 hi\nwrite drip=1 split=2\n", "3:1", "use either drip= or split=, not both"),
    ("Summary: x\nTimeout: 5s\nSession-Timeout: 1s\nserve\n", "3:18",
     "Session-Timeout (1000ms) is shorter than Timeout (5000ms, line 2)"),
])
def test_malformed_scenario_is_refused_with_its_position(tmp_path, text, where, message):
    bad = tmp_path / "bad.smtp"
    bad.write_text(text)
    run_dir = tmp_path / "run"
    done = subprocess.run(serve_argv(bad, "--run-dir", run_dir), capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    assert done.stdout == "", "nothing is served, so no READY line"
    [line] = done.stderr.splitlines()
    assert line.startswith(f"{bad}:{where}: {message}")
    assert not run_dir.exists(), "nothing is written for a refused scenario"


def test_bad_usage_exits_2_with_one_line(tmp_path):
    done = subprocess.run(serve_argv("--sessions", "0", harness.SCENARIOS / "control" / "hotmail-2009.smtp"),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1


def test_unusable_listen_address_is_an_error(tmp_path):
    done = subprocess.run(serve_argv(harness.scenario_file("hotmail-2009"), "--listen", "127.0.0.1:x",
                                     "--run-dir", tmp_path / "run"),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "bad port" in done.stderr


def test_listens_on_ipv6_loopback(starttls_server):
    server = starttls_server(harness.scenario_file("hotmail-2009"), sessions=1, listen="[::1]:0")
    with socket.create_connection(("::1", server.port), timeout=10) as s:
        assert s.recv(3) == b"220"
    assert server.wait() == 0


def deliver_with_smtplib(server):
    context = ssl.create_default_context(cafile=str(server.cafile))
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="c.example.test",
                      timeout=10) as smtp:
        smtp._host = "mail.example.test"
        smtp.starttls(context=context)
        smtp.sendmail("a@example.test", ["b@example.test"], "Subject: x\r\n\r\nx\r\n")


def read_reply(sock_file):
    lines = []
    while True:
        line = sock_file.readline()
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return lines


# Each function plays the client up to some point and then vanishes.
def vanish_before_greeting(sock, f, cafile):
    pass


def vanish_mid_line(sock, f, cafile):
    read_reply(f)
    sock.sendall(b"EHL")


def vanish_after_ehlo(sock, f, cafile):
    read_reply(f)
    sock.sendall(b"EHLO c.example.test\r\n")


def vanish_after_starttls(sock, f, cafile):
    vanish_after_ehlo(sock, f, cafile)
    read_reply(f)
    sock.sendall(b"STARTTLS\r\n")


def vanish_mid_handshake(sock, f, cafile):
    vanish_after_starttls(sock, f, cafile)
    read_reply(f)
    sock.sendall(bytes.fromhex("1603010200010001fc0303"))  # a ClientHello's start


def vanish_after_handshake(sock, f, cafile):
    vanish_after_starttls(sock, f, cafile)
    read_reply(f)
    context = ssl.create_default_context(cafile=cafile)
    tls = context.wrap_socket(sock, server_hostname="mail.example.test")
    tls.sendall(b"EHLO c.example.test\r\nMAIL FROM:<a@example.test>\r\n"
                b"RCPT TO:<b@example.test>\r\nDATA\r\n")
    tls.recv(4096)
    tls.sendall(b"Subject: half a message\r\n")
    return tls


@pytest.mark.parametrize("vanish", [
    vanish_before_greeting, vanish_mid_line, vanish_after_ehlo, vanish_after_starttls,
    vanish_mid_handshake, vanish_after_handshake])
@pytest.mark.parametrize("how", ["close", "reset"])
def test_client_vanishing_mid_step_leaves_server_serving(starttls_server, vanish, how):
    server = starttls_server(harness.scenario_file("hotmail-2009"), sessions=2)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    f = sock.makefile("rb")
    used = vanish(sock, f, str(server.cafile)) or sock
    if how == "reset":
        used.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    f.close()  # the file object holds the socket open too
    used.close()
    sock.close()

    deliver_with_smtplib(server)  # the server still serves the next client
    assert server.wait() == 0
    first, second = server.sessions_reports()
    assert not first["delivered"]
    assert first["observed"] == "refused"
    assert first["ended"]
    assert second["delivered"] and second["verdict"] == "pass"


def test_sigterm_stops_the_server_and_writes_reports(starttls_server):
    server = starttls_server(harness.scenario_file("hotmail-2009"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        assert s.recv(3) == b"220"
        # Ask for the stop while the session waits for this client's EHLO.
        assert server.stop() == 0
    [session] = server.sessions_reports()
    assert session["observed"] == "interrupted"
    assert session["verdict"] == "fail"
    assert harness.streamed_sessions(server.stream_path) == [session]


def test_no_thread_takes_a_stop_signal_by_handler(tmp_path):
    # SIGINT and SIGTERM are blocked in every thread and read from a
    # signalfd: no handler runs, so no runtime (ThreadSanitizer's defers
    # handlers) can hold a stop signal back.
    server = harness.MockServer([harness.scenario_file("hotmail-2009")], tmp_path / "run",
                                extra_args=["--threads", "3"]).start()
    try:
        stop_bits = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
        blocked = {}
        for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
            status = (task / "status").read_text()
            mask = int(re.search(r"^SigBlk:\s*([0-9a-f]+)$", status, re.M).group(1), 16)
            blocked[int(task.name)] = mask & stop_bits == stop_bits
        assert len(blocked) >= 3 and all(blocked.values()), blocked
        assert server.stop() == 0
    finally:
        server.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_stop_signal_right_after_ready_always_stops_the_server(sig, tmp_path):
    for i in range(10):
        server = harness.MockServer([harness.scenario_file("hotmail-2009")],
                                    tmp_path / f"run{i}").start()
        try:
            server.proc.send_signal(sig)
            assert server.wait(15.0) == 0, server.stderr
        finally:
            server.kill()
        assert server.report()["sessions"] == []


def test_sigterm_with_no_session_writes_an_empty_report(starttls_server):
    server = starttls_server(harness.scenario_file("hotmail-2009"))
    assert server.stop() == 0
    assert server.report()["sessions"] == []


def listening(port: int) -> bool:
    """Whether some socket listens on 127.0.0.1:port (/proc/net/tcp: local
    address in hex, state 0A is LISTEN). Reading it does not connect, so it
    starts no session of its own."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        return any(f[1] == want and f[3] == "0A"
                   for f in (line.split() for line in list(table)[1:]))


def test_a_session_in_progress_at_sigterm_finishes_by_itself_within_the_grace(starttls_server):
    server = starttls_server(harness.scenario_file("control/responder-only.smtp"))
    context = ssl.create_default_context(cafile=str(server.cafile))
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="c.example.test",
                      timeout=10) as smtp:  # the 220 is read: the session is in progress
        server.proc.send_signal(signal.SIGTERM)
        # The stop is under way once the listener is gone; the session goes on.
        deadline = time.monotonic() + 5
        while listening(server.port):
            assert time.monotonic() < deadline, "the listener is still open 5 s after SIGTERM"
            time.sleep(0.01)
        smtp._host = "mail.example.test"
        smtp.starttls(context=context)
        smtp.sendmail("a@example.test", ["b@example.test"], "Subject: x\r\n\r\nx\r\n")
    assert server.wait(10) == 0, server.stderr
    [session] = server.sessions_reports()
    assert (session["observed"], session["verdict"]) == ("delivered", "pass")


def wait_for_streamed(server: harness.MockServer, count: int, timeout: float = 30) -> list[dict]:
    """The streamed sessions once there are `count` (an event: the server
    appends a session's line as the session ends, after the client may
    already have exited)."""
    deadline = time.monotonic() + timeout
    while len(sessions := harness.streamed_sessions(server.stream_path)) < count:
        assert time.monotonic() < deadline, f"{len(sessions)} of {count} sessions streamed"
        time.sleep(0.02)
    return sessions


def test_the_report_streams_each_session_and_the_file_comes_at_the_end(starttls_server):
    server = starttls_server(harness.scenario_file("hotmail-2009"))
    harness.run_reference_sessions(server, 3)
    streamed = wait_for_streamed(server, 3)
    # While the run goes on the file holds the run's facts and no session;
    # the harness's report() reads the stream.
    written = json.loads(server.report_path.read_text())
    assert written["sessions"] == []
    assert written["run_dir"] == str(server.run_dir)
    assert [s["connection"] for s in server.report()["sessions"]] == [1, 2, 3]
    lines = server.stream_path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 4, "one line per session, each ended"
    assert server.stop() == 0, server.stderr
    final = server.report()
    assert final["sessions"] == streamed
    assert final["scenarios"] == written["scenarios"]
    # No file per session unless asked for (--session-files).
    assert not (server.run_dir / "sessions").exists()


def test_session_files_hold_the_same_reports_as_the_stream(starttls_server):
    server = starttls_server(harness.scenario_file("hotmail-2009"),
                             extra_args=["--session-files"])
    harness.run_reference_sessions(server, 2)
    assert server.stop() == 0, server.stderr
    files = sorted((server.run_dir / "sessions").iterdir())
    assert [f.name for f in files] == ["0001-hotmail-2009.json", "0002-hotmail-2009.json"]
    # Pretty-printed, one file each; the same reports as the stream's lines.
    assert all(f.read_text().count("\n") > 10 for f in files)
    assert [json.loads(f.read_text()) for f in files] == server.report()["sessions"]


def test_a_reader_of_the_stream_keeps_only_complete_lines(tmp_path):
    stream = tmp_path / "sessions.jsonl"
    stream.write_bytes(b'{"connection": 2, "x": 1}\n{"connection": 1}\n{"connection": 3, "x"')
    assert harness.streamed_sessions(stream) == [{"connection": 1}, {"connection": 2, "x": 1}]
    assert harness.streamed_sessions(tmp_path / "missing.jsonl") == []
