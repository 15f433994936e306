"""The reference client against a real IMAP server nobody here wrote: a
private Dovecot (Debian's dovecot-imapd, pytest/dovecot_private.py) on
127.0.0.2 with its own certificate, a passwd-file user and a Maildir with
one message. The client logs in over verified TLS and opens INBOX, and
refuses, with certificate-rejected (exit 7), the wrong CA or host name.
A session recorded through `starttls-mock record --protocol imap` replays
to the reference client with the same dialogue, line for line.

Every wait has a deadline: Dovecot is ready when a connect succeeds (polled
until a deadline).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import dovecot_private
from dovecot_private import ADDRESS, PASSWORD, USER, curl_fetch
from smtp_test_server import HOST_NAME, make_pki
from starttls_mock import harness
from test_record import dialogue, import_and_replay, record_and_replay

CLIENT_TIMEOUT = "10"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def dovecot(pki):
    reason = dovecot_private.unavailable()
    if reason:
        pytest.skip(reason)
    server = dovecot_private.Dovecot(pki.cert, pki.key)
    try:
        yield server.start()
    finally:
        server.cleanup()


def imap_client(port: int, cafile: Path, *extra: str, host: str = ADDRESS,
                servername: str = HOST_NAME) -> harness.ClientResult:
    argv = [str(harness.binary("starttls-client")), "--protocol", "imap",
            "--host", host, "--port", str(port), "--cafile", str(cafile),
            "--servername", servername, "--timeout", CLIENT_TIMEOUT,
            "--auth-user", USER, "--auth-password", PASSWORD, *extra]
    return harness.run_client(argv, timeout=60)


def explain(result: harness.ClientResult, server: dovecot_private.Dovecot) -> str:
    return (f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}\n"
            f"dovecot log:\n{server.log}")


def test_logs_in_to_dovecot_over_starttls_and_opens_inbox(dovecot, pki):
    before = len(dovecot.logins())
    result = imap_client(dovecot.port, pki.ca, "--verbose")
    assert result.returncode == 0, explain(result, dovecot)
    assert result.stdout.startswith("logged-in: TLSv1."), result.stdout
    assert result.stdout.rstrip().endswith("INBOX, 1 messages"), result.stdout
    # Seen from 127.0.0.1, Dovecot hides nothing: LOGINDISABLED before TLS,
    # AUTH=PLAIN only over it, and the client used that.
    transcript = result.stderr
    plain, tls = transcript.split("-- TLS handshake --", 1)
    assert "LOGINDISABLED" in plain and "AUTH=PLAIN" not in plain, transcript
    assert "AUTH=PLAIN" in tls and "AUTHENTICATE PLAIN <credentials hidden>" in tls
    assert PASSWORD not in transcript
    logins = dovecot.logins()[before:]
    assert len(logins) == 1 and f"user=<{USER}>" in logins[0] and ", TLS," in logins[0], \
        dovecot.log


def test_logs_in_with_the_login_command_when_asked_to(dovecot, pki):
    result = imap_client(dovecot.port, pki.ca, "--auth-mechanism", "login", "--verbose")
    assert result.returncode == 0, explain(result, dovecot)
    assert f'LOGIN "{USER}" <password hidden>' in result.stderr


def test_refuses_dovecot_with_the_wrong_ca(dovecot, pki):
    before = len(dovecot.logins())
    result = imap_client(dovecot.port, pki.self_signed)
    assert result.returncode == 7, explain(result, dovecot)
    assert "certificate-rejected" in result.stderr
    assert dovecot.logins()[before:] == []


def test_refuses_dovecot_with_the_wrong_host_name(dovecot, pki):
    before = len(dovecot.logins())
    result = imap_client(dovecot.port, pki.ca, servername="other.example.test")
    assert result.returncode == 7, explain(result, dovecot)
    assert dovecot.logins()[before:] == []


def test_a_wrong_password_is_auth_failed(dovecot, pki):
    argv = [str(harness.binary("starttls-client")), "--protocol", "imap",
            "--host", ADDRESS, "--port", str(dovecot.port), "--cafile", str(pki.ca),
            "--servername", HOST_NAME, "--timeout", CLIENT_TIMEOUT,
            "--auth-user", USER, "--auth-password", "wrong"]
    result = harness.run_client(argv, timeout=60)
    assert result.returncode == 12, explain(result, dovecot)


def test_a_recorded_dovecot_session_replays_with_the_same_dialogue(dovecot, pki, tmp_path):
    live, replayed, scenario, _ = record_and_replay(
        dovecot.port, pki, lambda port, ca, *extra: imap_client(port, ca, *extra,
                                                                host="127.0.0.1"),
        tmp_path, "--verbose", protocol="imap", upstream_host=ADDRESS)
    assert "Protocol: imap\nExpect: log-in\n" in scenario, scenario
    assert "C: AUTHENTICATE PLAIN *" in scenario and "S: $tag OK" in scenario, scenario
    assert PASSWORD not in scenario
    assert dialogue(replayed.stderr) == dialogue(live.stderr)


def test_curl_verbose_output_of_a_dovecot_session_imports_to_a_scenario_curl_passes(
        dovecot, pki, tmp_path):
    """curl -v shows the dialogue but not the message it fetched (a literal):
    the imported scenario replays the dialogue up to that command and the
    built-in responder answers it."""
    url = f"imap://{HOST_NAME}:{{port}}/INBOX;UID=1"

    def run_curl(port: int, cafile: Path, host: str) -> harness.ClientResult:
        return curl_fetch(url.format(port=port), port, cafile, host, HOST_NAME)

    live = run_curl(dovecot.port, pki.ca, ADDRESS)
    assert live.returncode == 0, explain(live, dovecot)
    text = import_and_replay(live.stderr, "imap",
                             lambda port, ca: run_curl(port, ca, "127.0.0.1"), tmp_path)
    assert "(curl format)" in text and "Protocol: imap" in text and "\ntls\n" in text
    assert PASSWORD not in text and "C: AUTHENTICATE PLAIN *" in text, text
