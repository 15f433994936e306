"""Record a real session, replay it, and the client sees the same dialogue.

`starttls-mock record` sits between a client and a real SMTP server started
by the test (aiosmtpd, and Postfix when it can run here), relays the session
and writes it as a scenario. `starttls-mock serve` then plays that scenario
to the same client, which must see the same dialogue, line for line, and
the server's verdict on it must be a pass. `starttls-mock import` is run on
the output of clients nobody here wrote (swaks, curl -v) and on the
article's telnet text.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from smtp_test_server import HOST_NAME
# The real servers and their certificates, as the interop tests start them.
from test_interop import aiosmtpd_server, pki, postfix  # noqa: F401  (fixtures)

from starttls_mock import harness

WAIT = 20.0


class Recorder:
    """One `starttls-mock record` process for one session."""

    def __init__(self, upstream_port: int, upstream_ca: Path, out: Path, *extra: str,
                 timeout: str = "30s", upstream_host: str = "127.0.0.1"):
        self.out = out
        argv = [str(harness.binary("starttls-mock")), "record",
                "--upstream", f"{upstream_host}:{upstream_port}",
                "--upstream-cafile", str(upstream_ca),
                "--upstream-servername", HOST_NAME,
                "--out", str(out), "--run-dir", str(out.parent / "record-run"),
                "--timeout", timeout, *extra]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.port, self.cafile = harness.read_ready_line(self.proc, WAIT)
        except harness.ServerError:
            self.proc.kill()
            self.proc.wait()
            raise

    def wait(self) -> str:
        """Waits for the recorder to write the scenario; returns its text."""
        try:
            _, err = self.proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the recorder did not finish")
        assert self.proc.returncode == 0, err.decode()
        return self.out.read_text()


def reference_client(port: int, cafile: Path, *extra: str) -> harness.ClientResult:
    return harness.run_client([
        str(harness.binary("starttls-client")), "--host", "127.0.0.1",
        "--port", str(port), "--cafile", str(cafile), "--servername", HOST_NAME,
        "--timeout", "10", "--ehlo", "client.example.test", "--verbose", *extra],
        timeout=60)


def swaks(port: int, cafile: Path, *extra: str) -> harness.ClientResult:
    return harness.run_client([
        shutil.which("swaks"), "--server", "127.0.0.1", "--port", str(port),
        "--ehlo", "client.example.test", "--from", "a@example.test",
        "--to", "inbox@example.test", "--tls", "--tls-verify",
        "--tls-ca-path", str(cafile), "--tls-sni", HOST_NAME, "--timeout", "20",
        *extra], timeout=60)


DATE = re.compile(r"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} \w{3} \d{4} "
                  r"\d\d:\d\d(:\d\d)?( [+-]\d{4})?( \([A-Za-z ]+\))?")


def dialogue(transcript: str) -> list[str]:
    """The S:/C: (reference client) or <-/->/<~/~> (swaks) lines of a
    client's transcript, with dates and message ids made neutral, and the
    size of the reference client's message, which holds both (its
    Message-ID ends in the process id, one digit longer past 9999)."""
    lines = []
    for line in transcript.splitlines():
        if not re.match(r"^(S: |C: |-- TLS|<-  |<~  | -> | ~> )", line):
            continue
        line = DATE.sub("<date>", line)
        line = re.sub(r"(?i)^( ~> | -> |C: )Message-Id: .*", r"\1Message-Id: <id>", line)
        line = re.sub(r"^C: <message: \d+ bytes", "C: <message: N bytes", line)
        lines.append(line)
    return lines


def replay(scenario: Path, run_client, work: Path) -> tuple[harness.ClientResult, dict]:
    server = harness.MockServer([scenario], work, sessions=1).start()
    try:
        result = run_client(server.port, server.cafile)
        assert server.wait() == 0, server.stderr
    finally:
        server.kill()
    [session] = server.sessions_reports()
    return result, session


def import_and_replay(transcript: str, protocol: str, run_client, work: Path) -> str:
    """Imports a client's verbose output as a `protocol` session
    (`starttls-mock import`), replays the scenario to the same client, which
    must pass; returns the scenario."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "client.txt").write_text(transcript)
    out = work / f"imported.{protocol}"
    done = harness.run_client([str(harness.binary("starttls-mock")), "import",
                               "--protocol", protocol, str(work / "client.txt"),
                               "--out", str(out)], timeout=60)
    assert done.returncode == 0, done.stderr
    again, session = replay(out, run_client, work / "again")
    assert again.returncode == 0, again.stderr
    assert session["verdict"] == "pass", session["reasons"]
    return out.read_text()


def record_and_replay(upstream_port: int, pki, run_client, tmp_path: Path,
                      *client_extra: str, protocol: str = "smtp",
                      upstream_host: str = "127.0.0.1"):
    """Records run_client(port, cafile, *client_extra) through `starttls-mock
    record --protocol protocol` to the upstream, then replays the scenario
    to the same client, which must pass the whole script; returns (live
    run, replayed run, scenario text, replayed session)."""
    out = tmp_path / f"recorded.{protocol}"
    recorder = Recorder(upstream_port, pki.ca, out, "--protocol", protocol,
                        upstream_host=upstream_host)
    live = run_client(recorder.port, recorder.cafile, *client_extra)
    assert live.returncode == 0, live.stdout + live.stderr
    scenario = recorder.wait()
    replayed, session = replay(out,
                               lambda p, ca: run_client(p, ca, *client_extra),
                               tmp_path / "replay")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert session["verdict"] == "pass", session["reasons"]
    assert session["script"]["matched"] and session["script"]["completed"], session["ended"]
    return live, replayed, scenario, session


def test_the_reference_client_gets_the_same_dialogue_from_a_recording_of_aiosmtpd(
        aiosmtpd_server, pki, tmp_path):
    live, replayed, scenario, session = record_and_replay(
        aiosmtpd_server.port, pki, reference_client, tmp_path)
    assert len(aiosmtpd_server.messages) == 1 and aiosmtpd_server.messages[0].over_tls
    assert re.search(r"\nC: STARTTLS\nS: 220 [^\n]*\ntls\n", scenario), scenario
    assert "C: EHLO *\n" in scenario
    assert dialogue(live.stderr) == dialogue(replayed.stderr)
    assert session["delivered"] and session["messages"][0]["over_tls"]


def test_swaks_gets_the_same_dialogue_from_a_recording_of_aiosmtpd(
        aiosmtpd_server, pki, tmp_path):
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed")
    live, replayed, scenario, _ = record_and_replay(
        aiosmtpd_server.port, pki, swaks, tmp_path)
    # swaks' Date: header, the date in its Subject and its Message-Id change
    # from run to run: the recording matches them with wildcards.
    assert "C: Date: *\n" in scenario and "C: Subject: test *\n" in scenario
    assert dialogue(live.stdout) == dialogue(replayed.stdout)


def test_the_reference_client_gets_the_same_dialogue_from_a_recording_of_postfix(
        postfix, pki, tmp_path):
    live, replayed, scenario, _ = record_and_replay(
        postfix.port, pki, reference_client, tmp_path,
        "--to", "inbox@example.test")
    assert re.search(r"^S: 220 .*ESMTP", scenario, re.M), scenario
    assert dialogue(live.stderr) == dialogue(replayed.stderr)


def test_swaks_gets_the_same_dialogue_from_a_recording_of_postfix(
        postfix, pki, tmp_path):
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed")
    live, replayed, _, _ = record_and_replay(postfix.port, pki, swaks, tmp_path)
    assert dialogue(live.stdout) == dialogue(replayed.stdout)


def test_auth_secrets_are_never_written_and_the_recording_still_replays(
        aiosmtpd_server, pki, tmp_path):
    password = tmp_path / "password"
    password.write_text("correct horse\n")
    live, replayed, scenario, _ = record_and_replay(
        aiosmtpd_server.port, pki, reference_client, tmp_path,
        "--auth-user", "alice", "--auth-password-file", str(password))
    assert aiosmtpd_server.auth == [(True, "alice", "correct horse")]
    assert "C: AUTH PLAIN *\n" in scenario
    secret = base64.b64encode(b"\0alice\0correct horse").decode()
    assert secret not in scenario and "correct horse" not in scenario
    assert dialogue(live.stderr) == dialogue(replayed.stderr)


def test_sessions_in_turn_replay_on_their_own_connections_in_order(
        aiosmtpd_server, pki, tmp_path):
    out = tmp_path / "two.smtp"
    recorder = Recorder(aiosmtpd_server.port, pki.ca, out, "--sessions", "2")
    first = ("--to", "first@example.test")
    second = ("--to", "second@example.test")
    live = [reference_client(recorder.port, recorder.cafile, *first),
            reference_client(recorder.port, recorder.cafile, *second)]
    assert [r.returncode for r in live] == [0, 0], live[1].stderr
    scenario = recorder.wait()
    assert len(aiosmtpd_server.messages) == 2
    assert scenario.count("\nconnection\n") == 1, scenario
    before, after = scenario.split("\nconnection\n")
    assert "first@example.test" in before and "second@example.test" in after
    assert before.count("\ntls\n") == 1 and after.count("\ntls\n") == 1

    server = harness.MockServer([out], tmp_path / "replay", sessions=2).start()
    try:
        replayed = [reference_client(server.port, server.cafile, *first),
                    reference_client(server.port, server.cafile, *second)]
        assert server.wait() == 0, server.stderr
    finally:
        server.kill()
    assert [r.returncode for r in replayed] == [0, 0], replayed[1].stderr
    for was, now in zip(live, replayed):
        assert dialogue(was.stderr) == dialogue(now.stderr)
    sessions = server.sessions_reports()
    assert [s["verdict"] for s in sessions] == ["pass", "pass"], sessions
    assert all(s["script"]["completed"] for s in sessions)


def test_a_recording_of_several_sessions_that_times_out_writes_nothing(
        aiosmtpd_server, pki, tmp_path):
    out = tmp_path / "r.smtp"
    recorder = Recorder(aiosmtpd_server.port, pki.ca, out, "--sessions", "2",
                        timeout="1s")
    assert reference_client(recorder.port, recorder.cafile).returncode == 0
    # Nobody comes for the second session.
    _, err = recorder.proc.communicate(timeout=WAIT)
    assert recorder.proc.returncode == 1
    assert "session 2: the session did not end within 1000 ms" in err.decode()
    assert not out.exists()


def test_delays_are_kept_when_asked_for(aiosmtpd_server, pki, tmp_path):
    recorder = Recorder(aiosmtpd_server.port, pki.ca, tmp_path / "r.smtp",
                        "--delays", "0ms")
    assert reference_client(recorder.port, recorder.cafile).returncode == 0
    assert "write delay=" in recorder.wait()


def test_a_wrong_upstream_ca_fails_the_recording_and_writes_nothing(
        aiosmtpd_server, pki, tmp_path):
    out = tmp_path / "r.smtp"
    recorder = Recorder(aiosmtpd_server.port, pki.self_signed, out)
    result = reference_client(recorder.port, recorder.cafile)
    assert result.returncode != 0
    _, err = recorder.proc.communicate(timeout=WAIT)
    assert recorder.proc.returncode == 1
    assert "TLS with the upstream" in err.decode()
    assert not out.exists()


def test_record_needs_an_upstream_and_an_out_file():
    done = subprocess.run([str(harness.binary("starttls-mock")), "record",
                           "--out", "x.smtp"], capture_output=True, timeout=WAIT)
    assert done.returncode == 2
    assert b"--upstream" in done.stderr


# --- import ------------------------------------------------------------------

def run_import(source: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(harness.binary("starttls-mock")), "import",
                           str(source), "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=WAIT)


def test_swaks_output_imports_to_a_scenario_that_gives_swaks_the_same_dialogue(
        tmp_path):
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed")
    first, _ = replay(harness.SCENARIOS / "control" / "hotmail-2009.smtp", swaks,
                      tmp_path / "first")
    assert first.returncode == 0, first.stdout
    (tmp_path / "swaks.txt").write_text(first.stdout)
    done = run_import(tmp_path / "swaks.txt", tmp_path / "swaks.smtp")
    assert done.returncode == 0, done.stderr
    again, session = replay(tmp_path / "swaks.smtp", swaks, tmp_path / "again")
    assert session["verdict"] == "pass", session["reasons"]
    assert dialogue(first.stdout) == dialogue(again.stdout)


def test_curl_verbose_output_imports_to_a_scenario_curl_delivers_to(tmp_path):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    message = tmp_path / "message.txt"
    message.write_text("Subject: curl\r\n\r\nhello\r\n")

    def run_curl(port, cafile):
        return harness.run_client([
            curl, "-sv", "--ssl-reqd", "--cacert", str(cafile),
            "--resolve", f"{HOST_NAME}:{port}:127.0.0.1",
            "--mail-from", "a@example.test", "--mail-rcpt", "b@example.test",
            "-T", str(message), f"smtp://{HOST_NAME}:{port}"], timeout=60)

    first, _ = replay(harness.SCENARIOS / "control" / "hotmail-2009.smtp", run_curl,
                      tmp_path / "first")
    assert first.returncode == 0, first.stderr
    (tmp_path / "curl.txt").write_text(first.stderr)
    done = run_import(tmp_path / "curl.txt", tmp_path / "curl.smtp")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "curl.smtp").read_text()
    assert "(curl format)" in text and "tls\n" in text
    again, session = replay(tmp_path / "curl.smtp", run_curl, tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert session["verdict"] == "pass", session["reasons"]


ARTICLE = harness.ROOT / "src" / "authoring" / "testdata" / "hotmail-2009-article.txt"


def test_the_articles_telnet_text_imports_to_the_hotmail_scenario(tmp_path):
    """The session as the article published it: the prompt line, blank
    lines, no-break spaces (src/authoring/testdata)."""
    assert ARTICLE.read_text().startswith("\n\u00a0\n\n>telnet smtp.live.com 587\n\n220 ")
    committed = (harness.SCENARIOS / "control" / "hotmail-2009.smtp").read_text()
    summary = re.search(r"^Summary: (.*)$", committed, re.M).group(1)
    done = run_import(ARTICLE, tmp_path / "h.smtp", "--summary", summary,
                      "--host", "mail.example.test")
    assert done.returncode == 0, done.stderr

    def steps(text):
        return [l for l in text.splitlines() if not l.startswith("#")]
    assert steps((tmp_path / "h.smtp").read_text()) == steps(committed)


def test_the_articles_text_replays_as_smtp_live_com_and_the_reference_client_delivers(
        tmp_path):
    done = run_import(ARTICLE, tmp_path / "article.smtp")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "article.smtp").read_text()
    assert "\nHost: smtp.live.com\n" in text and "ready at  Mon" in text, text
    server = harness.MockServer([tmp_path / "article.smtp"], tmp_path / "server",
                                sessions=1).start()
    try:
        client = harness.run_client(harness.reference_client(server, "smtp.live.com"))
        assert server.wait() == 0, server.stderr
    finally:
        server.kill()
    assert client.returncode == 0, client.stdout + client.stderr
    [session] = server.sessions_reports()
    assert (session["verdict"], session["observed"]) == ("pass", "delivered"), session["reasons"]
    assert session["script"]["matched"] and session["script"]["completed"]


TYPED = [["EHLO me"], ["MAIL FROM:<a@example.test>"], ["rcpt TO:<b@example.test>"],
         ["DATA"], ["Subject: typed into s_client", "", "hello", "."], ["QUIT"]]


def test_s_client_output_as_a_terminal_shows_it_imports_and_replays_to_the_same_session(
        tmp_path):
    """openssl s_client -starttls smtp -crlf, typed into as a person would:
    the report becomes comments, the dialogue over TLS the script's TLS
    part, and s_client's own plain-text part stands in before `tls`. The
    scenario then plays the same session to s_client again."""
    from s_client_terminal import s_client_session

    def session_through(scenario: Path, work: Path) -> tuple[str, dict]:
        server = harness.MockServer([scenario], work, sessions=1).start()
        try:
            shown = s_client_session(server.port, server.cafile, HOST_NAME, TYPED)
            assert server.wait() == 0, server.stderr
        finally:
            server.kill()
        [session] = server.sessions_reports()
        return shown, session

    first, _ = session_through(harness.SCENARIOS / "control" / "hotmail-2009.smtp",
                               tmp_path / "first")
    assert "CONNECTED(" in first and "EHLO me\n" in first and "250 2.1.0" in first, first
    (tmp_path / "s_client.txt").write_text(first)
    done = run_import(tmp_path / "s_client.txt", tmp_path / "s_client.smtp")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "s_client.smtp").read_text()
    assert "(s_client format)" in text and "# s_client: Verify return code: 0 (ok)" in text
    assert "# s_client:  0 s:O = starttls-mock test PKI, CN = mail.example.test" in text
    assert "S: 220 2.0.0 Ready to start TLS\ntls\nC: EHLO *\n" in text, text
    assert "C: rcpt TO:<b@example.test>\n" in text and "C: hello\n" in text, text
    again, session = session_through(tmp_path / "s_client.smtp", tmp_path / "again")
    assert session["verdict"] == "pass", session["reasons"]
    assert session["script"]["matched"] and session["script"]["completed"], session["ended"]

    def dialogue(shown: str) -> list[str]:
        return [line for line in shown.split("---\n")[-1].splitlines()
                if re.match(r"^\d{3}[ -]", line)]
    assert dialogue(again) == dialogue(first)


def test_an_ambiguous_transcript_is_refused_with_its_line_and_nothing_written(tmp_path):
    source = tmp_path / "pasted.txt"
    source.write_text("220 mail.example.test ESMTP\nEHLO a\n250-first\nSTARTTLS\n")
    out = tmp_path / "out.smtp"
    done = run_import(source, out)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{source}:4:1: a client line inside the "
                                  "multi-line reply begun on line 3")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()
