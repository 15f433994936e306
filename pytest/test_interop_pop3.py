"""The reference client against a real POP3 server nobody here wrote: a
private Dovecot (Debian's dovecot-pop3d, pytest/dovecot_private.py) on
127.0.0.2 with its own certificate, a passwd-file user and a Maildir with
one message. The client logs in over verified TLS with STLS and downloads
the message, which is checked against the one in the Maildir; it refuses,
with certificate-rejected (exit 7), the wrong CA or host name, and a wrong
password is auth-failed (exit 12). A session recorded through
`starttls-mock record --protocol pop3` replays with the same dialogue, and
curl's -v output of a session imports to a scenario curl passes.

Every wait has a deadline: Dovecot is ready when a connect succeeds (polled
until a deadline).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import dovecot_private
from dovecot_private import ADDRESS, PASSWORD, SUBJECT, USER, curl_fetch
from smtp_test_server import HOST_NAME, make_pki
from starttls_mock import harness
from test_record import dialogue, import_and_replay, record_and_replay

CLIENT_TIMEOUT = "10"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def dovecot(pki):
    reason = dovecot_private.unavailable("pop3")
    if reason:
        pytest.skip(reason)
    server = dovecot_private.Dovecot(pki.cert, pki.key, protocol="pop3")
    try:
        yield server.start()
    finally:
        server.cleanup()


def pop3_client(port: int, cafile: Path, *extra: str, servername: str = HOST_NAME,
                password: str = PASSWORD, host: str = ADDRESS) -> harness.ClientResult:
    argv = [str(harness.binary("starttls-client")), "--protocol", "pop3",
            "--host", host, "--port", str(port), "--cafile", str(cafile),
            "--servername", servername, "--timeout", CLIENT_TIMEOUT,
            "--auth-user", USER, "--auth-password", password, *extra]
    return harness.run_client(argv, timeout=60)


def explain(result: harness.ClientResult, server: dovecot_private.Dovecot) -> str:
    return (f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}\n"
            f"dovecot log:\n{server.log}")


def test_logs_in_to_dovecot_over_stls_and_downloads_the_message(dovecot, pki, tmp_path):
    before = len(dovecot.logins())
    result = pop3_client(dovecot.port, pki.ca, "--verbose", "--save-messages", str(tmp_path))
    assert result.returncode == 0, explain(result, dovecot)
    assert result.stdout.startswith("logged-in: TLSv1."), result.stdout
    assert "1 messages" in result.stdout and "1 retrieved" in result.stdout, result.stdout
    # What the Maildir holds, as RETR returned it.
    message = (tmp_path / "1.eml").read_bytes()
    assert f"Subject: {SUBJECT}\r\n".encode() in message and message.endswith(b"hello\r\n")
    # Dovecot lists STLS before TLS and SASL PLAIN only over it; the client
    # used what it was told over TLS.
    plain, tls = result.stderr.split("-- TLS handshake --", 1)
    assert "C: STLS" in plain and "C: USER" not in plain and "C: AUTH" not in plain
    assert "AUTH PLAIN <credentials hidden>" in tls or "PASS <password hidden>" in tls
    assert PASSWORD not in result.stderr
    logins = dovecot.logins()[before:]
    assert len(logins) == 1 and f"user=<{USER}>" in logins[0] and ", TLS," in logins[0], \
        dovecot.log


def test_logs_in_with_user_and_pass_when_asked_to(dovecot, pki):
    result = pop3_client(dovecot.port, pki.ca, "--auth-mechanism", "login", "--verbose")
    assert result.returncode == 0, explain(result, dovecot)
    assert "C: USER bob" in result.stderr and "PASS <password hidden>" in result.stderr


@pytest.mark.parametrize("which", ["wrong CA", "wrong host name"])
def test_refuses_dovecot_with_a_certificate_it_cannot_verify(dovecot, pki, which):
    before = len(dovecot.logins())
    if which == "wrong CA":
        result = pop3_client(dovecot.port, pki.self_signed)
    else:
        result = pop3_client(dovecot.port, pki.ca, servername="other.example.test")
    assert result.returncode == 7, explain(result, dovecot)
    assert "certificate-rejected" in result.stderr
    assert len(dovecot.logins()) == before


def test_a_wrong_password_is_auth_failed(dovecot, pki):
    result = pop3_client(dovecot.port, pki.ca, password="not-it")
    assert result.returncode == 12, explain(result, dovecot)
    assert "auth-failed" in result.stderr and "not-it" not in result.stderr


def test_a_recorded_dovecot_session_replays_with_the_same_dialogue(dovecot, pki, tmp_path):
    """Dovecot's answers to CAPA and RETR go on over several lines; the
    recorder frames them by the command they answer, so TLS starts at the
    +OK to STLS and the message's lines are replayed as they came."""
    live, replayed, scenario, _ = record_and_replay(
        dovecot.port, pki, lambda port, ca, *extra: pop3_client(port, ca, *extra,
                                                                host="127.0.0.1"),
        tmp_path, "--verbose", protocol="pop3", upstream_host=ADDRESS)
    assert "Protocol: pop3\nExpect: log-in\n" in scenario, scenario
    assert "C: STLS\nS: +OK" in scenario and "\ntls\nC: CAPA" in scenario, scenario
    assert f"S: Subject: {SUBJECT}" in scenario and "C: RETR 1" in scenario, scenario
    assert PASSWORD not in scenario
    assert dialogue(replayed.stderr) == dialogue(live.stderr)


def test_curl_verbose_output_of_a_dovecot_session_imports_to_a_scenario_curl_passes(
        dovecot, pki, tmp_path):
    """curl -v shows CAPA's lines but not the message RETR brings: the
    imported scenario replays the dialogue up to RETR and the built-in
    responder answers it."""
    url = f"pop3://{HOST_NAME}:{{port}}/1"

    def run_curl(port: int, cafile: Path, host: str) -> harness.ClientResult:
        return curl_fetch(url.format(port=port), port, cafile, host, HOST_NAME)

    live = run_curl(dovecot.port, pki.ca, ADDRESS)
    assert live.returncode == 0, explain(live, dovecot)
    assert SUBJECT in live.stdout
    text = import_and_replay(live.stderr, "pop3",
                             lambda port, ca: run_curl(port, ca, "127.0.0.1"), tmp_path)
    assert "(curl format)" in text and "Protocol: pop3" in text and "\ntls\n" in text, text
    # curl sends its credentials as the answer to the server's "+ ".
    assert "C: AUTH PLAIN\nS: + \n# a secret was sent here" in text, text
    assert PASSWORD not in text and USER not in text, text
    assert "RETR" not in text and "# The source does not show" in text, text
