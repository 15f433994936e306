"""`serve --threads N`: sessions are spread over N event loops, and every one
of them still gets its report, in the aggregate and in its own file."""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor

from starttls_mock import harness


SESSIONS = 6


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def start(tmp_path, *extra, sessions=None):
    server = harness.MockServer([harness.scenario_file("control/responder-only.smtp")], tmp_path / "run",
                                sessions=sessions, extra_args=list(extra))
    return server.start()


def deliver(server, sock: socket.socket, n: int) -> None:
    """Delivers one message over STARTTLS on an already connected socket."""
    context = ssl.create_default_context(cafile=str(server.cafile))
    smtp = smtplib.SMTP(local_hostname="c.example.test", timeout=10)
    smtp.sock = sock
    smtp.file = None
    smtp._host = "mail.example.test"
    code, _ = smtp.getreply()
    assert code == 220
    smtp.starttls(context=context)
    smtp.sendmail("a@example.test", ["b@example.test"], f"Subject: {n}\r\n\r\nx\r\n")
    smtp.quit()


def test_sessions_on_two_threads_all_get_reports(tmp_path):
    server = start(tmp_path, "--threads", "2", "--session-files", sessions=SESSIONS)
    try:
        # All connections are open at once, so consecutive ones (handed out
        # round-robin) are served side by side on both threads.
        socks = [socket.create_connection(("127.0.0.1", server.port), timeout=10)
                 for _ in range(SESSIONS)]
        assert threads_of(server.proc.pid) >= 2
        with ThreadPoolExecutor(SESSIONS) as pool:
            list(pool.map(lambda a: deliver(server, *a),
                          [(s, n) for n, s in enumerate(socks, 1)]))
        assert server.wait() == 0, server.stderr
    finally:
        server.kill()
    reports = server.sessions_reports()
    assert [r["connection"] for r in reports] == list(range(1, SESSIONS + 1))
    for r in reports:
        assert r["delivered"] and r["verdict"] == "pass", r["ended"]
    files = sorted(p.name for p in (server.run_dir / "sessions").iterdir())
    assert files == [f"{n:04}-responder-only.json" for n in range(1, SESSIONS + 1)]


def test_stop_interrupts_sessions_on_every_thread(tmp_path):
    server = start(tmp_path, "--threads", "2")
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=10)
             for _ in range(4)]
    try:
        for s in socks:
            assert s.recv(3) == b"220"
        # Each session now waits for its client's EHLO, two on each thread.
        assert server.stop() == 0, server.stderr
    finally:
        for s in socks:
            s.close()
    reports = server.sessions_reports()
    assert [r["connection"] for r in reports] == [1, 2, 3, 4]
    assert all(r["observed"] == "interrupted" for r in reports)


def test_one_thread_is_still_one(tmp_path):
    server = start(tmp_path, "--threads", "1", sessions=1)
    try:
        assert threads_of(server.proc.pid) == 1
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            deliver(server, s, 1)
        assert server.wait() == 0, server.stderr
    finally:
        server.kill()
    [report] = server.sessions_reports()
    assert report["delivered"]


def test_the_default_is_one_thread_per_core(tmp_path):
    # hardware_concurrency() and os.cpu_count() both count the online CPUs.
    # Compared with explicit counts, not with a number: a sanitizer runtime
    # adds threads of its own (ThreadSanitizer's background thread).
    counts = {}
    for name, extra in (("default", ()), ("per-core", ("--threads", str(os.cpu_count()))),
                        ("one", ("--threads", "1"))):
        server = start(tmp_path / name, *extra)
        try:
            counts[name] = threads_of(server.proc.pid)
            assert server.stop() == 0, server.stderr
        finally:
            server.kill()
    assert counts["default"] == counts["per-core"], counts
    assert os.cpu_count() == 1 or counts["default"] > counts["one"], counts
