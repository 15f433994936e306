"""Fault survival: clients that end abruptly at every step, by FIN and by RST,
a thousand concurrent sessions through the fault catalogue, a 10 MB line, a
million tiny segments and a client that says nothing. For each the server
keeps serving, writes a complete report for every session, holds no
descriptor after a session ends, and exits cleanly (under the sanitizer
build, LeakSanitizer runs at that exit: a leak prints to stderr, and the
starttls_server fixture fails a test whose server printed anything).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import ssl
import subprocess
import shlex
import time
from pathlib import Path

import pytest

from starttls_mock import adapters, harness, running


# The fields every session report has (docs/reports.md).
REPORT_FIELDS = {
    "scenario", "scenario_path", "summary", "connection", "script_connection",
    "certificate", "peer", "started_at", "duration_s", "script", "tls",
    "delivered", "messages", "ended", "expected", "observed", "verdict",
    "reasons", "oracles", "events"}

HOST = "mail.example.test"


def assert_complete(report: dict) -> None:
    """A report a person can act on: every field, a verdict, how it ended."""
    missing = REPORT_FIELDS - report.keys()
    assert not missing, f"report lacks {missing}"
    assert report["verdict"] in ("pass", "fail")
    assert report["ended"], "the report says how the session ended"
    assert report["observed"]
    assert report["events"], "the report has the session's events"


def streamed(server: harness.MockServer) -> int:
    return len(harness.streamed_sessions(server.stream_path))


def wait_for_sessions(server: harness.MockServer, count: int, timeout: float = 30) -> None:
    """Waits until `count` session reports are in the run's stream."""
    deadline = time.monotonic() + timeout
    while streamed(server) < count:
        assert server.proc.poll() is None, "the server exited"
        assert time.monotonic() < deadline, (
            f"{streamed(server)} of {count} session reports after {timeout}s")
        time.sleep(0.02)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def fds_after_sessions(server: harness.MockServer, count: int, timeout: float = 30) -> int:
    """The descriptor count once `count` sessions are over. The report
    stream's line is the last thing the server writes for a session (its
    line feed last, so a complete line is a whole report); once the stream
    lists them, nothing of theirs is open any more. An event, not a quiet spell: a count taken while some
    file was briefly open could only hide a leak."""
    wait_for_sessions(server, count)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if len(server.report()["sessions"]) >= count:
                return open_fds(server.proc.pid)
        except FileNotFoundError:
            pass
        assert time.monotonic() < deadline, f"the report stream lists no {count} sessions"
        time.sleep(0.02)


def read_reply(f) -> bytes:
    lines = []
    while True:
        line = f.readline()
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return b"".join(lines)


def client_hello() -> bytes:
    """The first flight of a real TLS client (Python's OpenSSL)."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=HOST)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def tls_context(cafile) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


# ---- ending the client abruptly at every step ----
#
# Each function plays a correct client up to a step and returns the socket to
# end there (TLS sockets end without close_notify).

def before_greeting(sock, f, cafile):
    return sock


def mid_ehlo(sock, f, cafile):
    read_reply(f)
    sock.sendall(b"EHLO cli")
    return sock


def after_starttls(sock, f, cafile):
    read_reply(f)
    sock.sendall(b"EHLO client.example.test\r\n")
    read_reply(f)
    sock.sendall(b"STARTTLS\r\n")
    assert read_reply(f).startswith(b"220")
    return sock


def mid_handshake(sock, f, cafile):
    after_starttls(sock, f, cafile)
    hello = client_hello()
    sock.sendall(hello[:len(hello) // 2])
    return sock


def after_tls(sock, f, cafile):
    after_starttls(sock, f, cafile)
    return tls_context(cafile).wrap_socket(sock, server_hostname=HOST)


def mid_data(sock, f, cafile):
    tls = after_tls(sock, f, cafile)
    tf = tls.makefile("rb")
    for command in (b"EHLO client.example.test\r\n", b"MAIL FROM:<a@example.test>\r\n",
                    b"RCPT TO:<b@example.test>\r\n", b"DATA\r\n"):
        tls.sendall(command)
        read_reply(tf)
    tls.sendall(b"Subject: half a message\r\n\r\nthe first line\r\n")
    tf.close()
    return tls


STEPS = [before_greeting, mid_ehlo, after_starttls, mid_handshake, after_tls, mid_data]


def end_abruptly(sock: socket.socket, how: str) -> None:
    if how == "rst":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        b"\x01\x00\x00\x00\x00\x00\x00\x00")
    else:
        sock.shutdown(socket.SHUT_WR)
    sock.close()


def deliver(sock: socket.socket, cafile) -> bytes:
    """A correct client's whole session on a connected socket; returns the
    reply to the end of data."""
    f = sock.makefile("rb")
    tls = after_tls(sock, f, cafile)
    f.close()
    tf = tls.makefile("rb")
    for command in (b"EHLO client.example.test\r\n", b"MAIL FROM:<a@example.test>\r\n",
                    b"RCPT TO:<b@example.test>\r\n", b"DATA\r\n"):
        tls.sendall(command)
        read_reply(tf)
    tls.sendall(b"Subject: x\r\n\r\nx\r\n.\r\n")
    done = read_reply(tf)
    tls.sendall(b"QUIT\r\n")
    read_reply(tf)
    tf.close()
    tls.close()
    return done


@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize("step", STEPS, ids=[s.__name__ for s in STEPS])
def test_client_ending_abruptly_leaves_the_server_whole(starttls_server, step, how):
    server = starttls_server(harness.scenario_file("hotmail-2009"), sessions=4)
    cafile = server.cafile
    # A session in progress while others break.
    witness = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    witness_file = witness.makefile("rb")
    assert read_reply(witness_file).startswith(b"220")

    def break_one() -> None:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        f = sock.makefile("rb")
        end_abruptly(step(sock, f, cafile), how)
        f.close()
        sock.close()

    # Twice: the first session an event loop runs opens its reactor's
    # descriptors (serve --threads), so the count is taken after it.
    break_one()
    baseline = fds_after_sessions(server, 1)
    break_one()
    assert fds_after_sessions(server, 2) == baseline, "a broken session holds no descriptor"

    # The witness, started before the break, finishes after it; then a new one.
    witness.sendall(b"EHLO client.example.test\r\n")
    read_reply(witness_file)
    witness.sendall(b"STARTTLS\r\n")
    assert read_reply(witness_file).startswith(b"220")
    witness_file.close()
    tls = tls_context(cafile).wrap_socket(witness, server_hostname=HOST)
    tf = tls.makefile("rb")
    for command in (b"EHLO c\r\n", b"MAIL FROM:<a@example.test>\r\n",
                    b"RCPT TO:<b@example.test>\r\n", b"DATA\r\n"):
        tls.sendall(command)
        read_reply(tf)
    tls.sendall(b"Subject: x\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert read_reply(tf).startswith(b"250")
    tf.close()
    tls.close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as third:
        assert deliver(third, cafile).startswith(b"250")

    assert server.wait() == 0
    assert server.stderr == ""
    reports = server.sessions_reports()
    assert [r["connection"] for r in reports] == [1, 2, 3, 4]
    for r in reports:
        assert_complete(r)
    witness_report, *broken_ones, fresh = reports
    assert witness_report["delivered"] and fresh["delivered"]
    for broken in broken_ones:
        assert not broken["delivered"]
        assert broken["observed"] == "refused"
        closes = [e for e in broken["events"]
                  if e["kind"] == "closed" and e["from"] == "client"]
        if step in (after_tls, mid_data):
            # Without close_notify the end may reach the server as a TLS error.
            assert closes or broken["tls"]["error"] or "TLS" in broken["ended"]
        else:
            assert closes, "the report records how the client ended the connection"
            assert closes[0]["note"] in ("fin", "reset")


# ---- a thousand concurrent sessions through the fault catalogue ----

LOAD_SESSIONS = 1000
# Per-step deadline of the load clients: the scenarios that stall or delay
# wait longer (their Timeout), so the client gives up first, as it should.
LOAD_STEP_TIMEOUT = 4.0


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below the {wanted} "
                    f"descriptors this test needs")
    # Children (the server) inherit the raised limit.
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def start_server_without_aggregate(scenarios, run_dir: Path, sessions: int):
    """starttls-mock serve without --report and with --session-files: the
    sessions' own files, written side by side under load, are what the test
    reads."""
    run_dir.mkdir(parents=True)
    argv = [str(harness.binary("starttls-mock")), "serve", *map(str, scenarios),
            "--run-dir", str(run_dir), "--sessions", str(sessions), "--session-files"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    server = harness.MockServer(list(scenarios), run_dir, sessions=sessions)
    server.proc = proc
    server.port, server.cafile = harness.read_ready_line(proc, 30)
    return server


async def load_client(port: int, ctx: ssl.SSLContext, index: int,
                      all_connected: asyncio.Event, counter: list[int]) -> str:
    """A STARTTLS client that tries to deliver whatever the scenario does,
    and gives up (abruptly, every third one by RST) at the first problem."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), 30)
    counter[0] += 1
    if counter[0] == LOAD_SESSIONS:
        all_connected.set()
    await asyncio.wait_for(all_connected.wait(), 60)

    async def reply() -> bytes:
        lines = b""
        while True:
            line = await asyncio.wait_for(reader.readline(), LOAD_STEP_TIMEOUT)
            lines += line
            if len(line) < 4 or line[3:4] != b"-":
                return lines

    async def command(line: bytes) -> bytes:
        writer.write(line)
        await writer.drain()
        return await reply()

    outcome = "gave up"
    try:
        await reply()
        caps = await command(b"EHLO load.example.test\r\n")
        if b"STARTTLS" in caps and (await command(b"STARTTLS\r\n")).startswith(b"220"):
            await asyncio.wait_for(writer.start_tls(ctx, server_hostname=HOST),
                                   LOAD_STEP_TIMEOUT)
            await command(b"EHLO load.example.test\r\n")
            await command(b"MAIL FROM:<a@example.test>\r\n")
            await command(b"RCPT TO:<b@example.test>\r\n")
            if (await command(b"DATA\r\n")).startswith(b"354"):
                done = await command(b"Subject: load\r\n\r\nx\r\n.\r\n")
                outcome = "delivered" if done.startswith(b"250") else "refused"
                await command(b"QUIT\r\n")
    except (asyncio.TimeoutError, OSError, ssl.SSLError, EOFError,
            asyncio.IncompleteReadError, ValueError):
        # ValueError: a line longer than the reader's limit (the megabyte
        # reply line), which this client does not accept.
        pass
    finally:
        if index % 3 == 0:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    b"\x01\x00\x00\x00\x00\x00\x00\x00")
                except OSError:
                    pass
            writer.transport.abort()
        else:
            writer.close()
    return outcome


async def run_load(port: int, cafile: Path) -> list[str]:
    ctx = tls_context(cafile)
    all_connected = asyncio.Event()
    counter = [0]
    return await asyncio.gather(*(load_client(port, ctx, i, all_connected, counter)
                                  for i in range(LOAD_SESSIONS)))


@pytest.mark.timeout(300)
def test_a_thousand_concurrent_sessions_through_the_fault_catalogue(tmp_path):
    raise_fd_limit(4 * LOAD_SESSIONS + 256)
    scenarios = [p for p in harness.scenario_files(("smtp",)) if p.parent.name != "control"]
    server = start_server_without_aggregate(scenarios, tmp_path / "run", LOAD_SESSIONS)
    try:
        started = time.monotonic()
        outcomes = asyncio.run(asyncio.wait_for(run_load(server.port, server.cafile), 240))
        code = server.wait(timeout=120)
        took = time.monotonic() - started
    finally:
        server.kill()
    assert code == 0, server.stderr
    assert server.stderr == ""
    files = sorted((server.run_dir / "sessions").glob("*.json"))
    assert len(files) == LOAD_SESSIONS
    assert streamed(server) == LOAD_SESSIONS, "the stream lists them too"
    reports = [json.loads(f.read_text()) for f in files]
    for r in reports:
        assert_complete(r)
    assert sorted(r["connection"] for r in reports) == list(range(1, LOAD_SESSIONS + 1))
    # Every scenario of the catalogue was played, and some sessions delivered.
    assert {r["scenario"] for r in reports} == {p.stem for p in scenarios}
    assert "delivered" in outcomes
    print(f"{LOAD_SESSIONS} sessions in {took:.1f}s: "
          f"{outcomes.count('delivered')} delivered")


# ---- hostile volumes and silence ----

def write_scenario(tmp_path: Path, base: str, extra_headers: str) -> Path:
    """A copy of a catalogue scenario with extra header lines."""
    [source] = harness.SCENARIOS.rglob(f"{base}.smtp")
    text = source.read_text()
    path = tmp_path / f"{base}.smtp"
    path.write_text(extra_headers + text)
    return path


def test_a_ten_megabyte_line_ends_only_that_session(starttls_server):
    server = starttls_server(harness.scenario_file("control/responder-only.smtp"), sessions=2)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        f = s.makefile("rb")
        read_reply(f)
        try:
            s.sendall(b"EHLO " + b"x" * (10 * 1024 * 1024))
            answer = f.readline()
        except (ConnectionResetError, BrokenPipeError):
            answer = b""
        f.close()
    wait_for_sessions(server, 1)
    assert time.monotonic() - started < 30
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        assert deliver(s, server.cafile).startswith(b"250")
    assert server.wait() == 0
    first, second = server.sessions_reports()
    assert_complete(first)
    assert "longer than" in first["ended"]
    assert answer in (b"", b"500 5.5.2 Line too long\r\n")
    assert second["delivered"]


# A million one-byte segments, in plain text (the scenario offers no
# STARTTLS and delivers without it): Python sends them in a few seconds.
# Inside TLS each byte is a record, which Python makes about ten times
# slower per byte, so that path gets fewer.
PLAIN_SEGMENTS = 1_000_000
TLS_SEGMENTS = 50_000


# The server's reads: each is one event in the report. How many reads the
# writes become is the kernel's and the scheduler's business: about half as
# many as the writes on a quiet machine, a few hundred for the TLS records
# under AddressSanitizer with a build running beside it. This many shows the
# server was handed the stream in pieces, not in one buffer at the end.
MIN_READS = 50


def client_reads(report: dict, layer: str) -> int:
    return sum(1 for e in report["events"]
               if e["kind"] == "bytes" and e["from"] == "client" and e["layer"] == layer)


def send_one_byte_at_a_time(sock, reader, body: bytes) -> bytes:
    """MAIL, RCPT, DATA, then `body` one byte per send (Nagle off), then the
    end of data; returns the reply to it."""
    for command in (b"MAIL FROM:<a@example.test>\r\n",
                    b"RCPT TO:<b@example.test>\r\n", b"DATA\r\n"):
        sock.sendall(command)
        read_reply(reader)
    send = sock.send
    for i in range(len(body)):
        send(body[i:i + 1])
    sock.sendall(b".\r\n")
    return read_reply(reader)


@pytest.mark.timeout(600)
def test_a_million_one_byte_segments_are_all_read(starttls_server, tmp_path):
    scenario = tmp_path / "plain.smtp"
    scenario.write_text("Summary: plain-text delivery\nCapabilities: PIPELINING\n"
                        "Expect: refuse\nTimeout: 60s\nS: 220 plain\nserve\n")
    server = starttls_server(scenario, sessions=1)
    line = b"y" * 98 + b"\r\n"
    body = line * (PLAIN_SEGMENTS // len(line))
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        read_reply(f)
        s.sendall(b"EHLO c\r\n")
        read_reply(f)
        assert send_one_byte_at_a_time(s, f, body).startswith(b"250")
        s.sendall(b"QUIT\r\n")
        read_reply(f)
        f.close()
    assert server.wait(timeout=300) == 0
    [report] = server.sessions_reports()
    assert_complete(report)
    [message] = report["messages"]
    assert len(message["data"]) == len(body)
    assert not message["over_tls"]
    reads = client_reads(report, "plain")
    print(f"{len(body)} one-byte writes, {reads} reads by the server")
    assert reads > MIN_READS, f"only {reads} reads: the kernel joined the writes"


@pytest.mark.timeout(300)
def test_many_one_byte_tls_records_are_all_read(starttls_server):
    server = starttls_server(harness.scenario_file("control/responder-only.smtp"), sessions=1)
    line = b"y" * 98 + b"\r\n"
    body = line * (TLS_SEGMENTS // len(line))
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        tls = after_tls(s, f, server.cafile)
        f.close()
        tf = tls.makefile("rb")
        tls.sendall(b"EHLO c\r\n")
        read_reply(tf)
        assert send_one_byte_at_a_time(tls, tf, body).startswith(b"250")
        tls.sendall(b"QUIT\r\n")
        read_reply(tf)
        tf.close()
        tls.close()
    assert server.wait(timeout=120) == 0
    [report] = server.sessions_reports()
    assert_complete(report)
    assert report["delivered"]
    [message] = report["messages"]
    assert len(message["data"]) == len(body)
    reads = client_reads(report, "tls-record")
    print(f"{len(body)} one-byte TLS records, {reads} reads by the server")
    assert reads > MIN_READS, f"only {reads} reads: the kernel joined the records"
    assert message["over_tls"]


def test_a_silent_client_fails_with_hang_in_bounded_time(starttls_server, tmp_path):
    scenario = write_scenario(tmp_path, "hotmail-2009", "Timeout: 1s\n")
    server = starttls_server(scenario, sessions=1)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10):
        assert server.wait(timeout=15) == 0, "the server ended the session itself"
        took = time.monotonic() - started
    [report] = server.sessions_reports()
    assert_complete(report)
    assert 0.9 < took < 10
    assert report["verdict"] == "fail"
    assert "hang" in {o["id"] for o in report["oracles"]}


def test_a_client_that_stops_answering_fails_the_run_with_hang(tmp_path):
    """Through the harness, as the suite runs clients: the client connects,
    reads the greeting and then never answers; the scenario's deadline ends
    the session and the run fails with `hang`, however long the client
    would have waited."""
    scenario = write_scenario(tmp_path, "hotmail-2009", "Timeout: 1s\n")
    silent = ("import socket, sys, time\n"
              "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
              "s.recv(100)\n"
              "time.sleep(3)\n")
    client = adapters.command_adapter(f"{{python}} -c {shlex.quote(silent)} {{port}}",
                                      "require-tls", name="silent")
    started = time.monotonic()
    result = running.run(scenario, tmp_path / "work", client, budget=20)
    assert time.monotonic() - started < 20
    assert result.verdict == "fail", result.explain()
    assert "hang" in result.oracles()
