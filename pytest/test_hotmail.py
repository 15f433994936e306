"""The article's session end to end: the reference client and clients nobody
here wrote deliver over a deferred TLS handshake."""

from __future__ import annotations

import shutil
import smtplib
import ssl

import pytest

from starttls_mock import harness


GREETING_220 = "220 2.0.0 SMTP server ready\r\n"


def events(session, **match):
    return [e for e in session["events"]
            if all(e.get(k) == v for k, v in match.items())]


def check_deferred_handshake(session):
    """The facts every correct client shows on the hotmail scenario."""
    assert session["verdict"] == "pass", session["reasons"]
    assert session["script"] == {"completed": True, "matched": True, "mismatch": None}
    assert session["tls"]["established"]
    assert session["tls"]["sni"] == "mail.example.test"

    log = session["events"]
    sent_220 = next(i for i, e in enumerate(log)
                    if e["kind"] == "bytes" and e["from"] == "server"
                    and e.get("data", "").endswith(GREETING_220))
    first_record = next(i for i, e in enumerate(log)
                        if e["kind"] == "bytes" and e["from"] == "client"
                        and e["layer"] == "tls-record")
    # The whole 220 line, CRLF included, left the server before the client's
    # first TLS byte arrived, and no plaintext came in between.
    assert sent_220 < first_record
    assert log[first_record]["hex"].startswith("16"), "a TLS handshake record"
    between = [e for e in log[sent_220 + 1:first_record]
               if e["kind"] == "bytes" and e["from"] == "client"]
    assert between == []

    # EHLO again, inside TLS, before anything else.
    inside = [e["data"] for e in events(session, kind="bytes", layer="tls", **{"from": "client"})]
    assert inside and inside[0].upper().startswith("EHLO ")

    assert session["delivered"]
    assert all(m["over_tls"] for m in session["messages"])


def test_reference_client_delivers_over_a_deferred_handshake(starttls_server):
    server = starttls_server(harness.scenario_file("hotmail-2009"), sessions=1)
    result = harness.run_client(harness.reference_client(server))
    assert result.returncode == 0, result.stderr
    assert server.wait() == 0
    [session] = server.sessions_reports()
    check_deferred_handshake(session)
    assert "Subject:" in session["messages"][0]["data"]


def test_python_smtplib_delivers_trusting_the_run_ca(starttls_server):
    server = starttls_server(harness.scenario_file("hotmail-2009"), sessions=1)
    context = ssl.create_default_context(cafile=str(server.cafile))
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.example.test",
                      timeout=10) as smtp:
        smtp._host = "mail.example.test"  # the name smtplib checks and sends as SNI
        smtp.ehlo()
        smtp.starttls(context=context)
        smtp.ehlo()
        smtp.sendmail("a@example.test", ["b@example.test"],
                      "Subject: smtplib\r\n\r\nhello\r\n")
    assert server.wait() == 0
    [session] = server.sessions_reports()
    check_deferred_handshake(session)
    assert session["messages"][0]["data"] == "Subject: smtplib\r\n\r\nhello\r\n"


def test_curl_delivers_with_ssl_required(starttls_server, tmp_path):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    message = tmp_path / "message.txt"
    message.write_text("Subject: curl\r\n\r\nhello\r\n")
    server = starttls_server(harness.scenario_file("hotmail-2009"), sessions=1)
    result = harness.run_client([
        curl, "--silent", "--show-error", "--ssl-reqd", "--max-time", "20",
        "--cacert", str(server.cafile),
        "--resolve", f"mail.example.test:{server.port}:127.0.0.1",
        "--mail-from", "a@example.test", "--mail-rcpt", "b@example.test",
        "--upload-file", str(message), f"smtp://mail.example.test:{server.port}/client"])
    assert result.returncode == 0, result.stderr
    assert server.wait() == 0
    [session] = server.sessions_reports()
    check_deferred_handshake(session)


def test_swaks_delivers_with_verification(starttls_server):
    swaks = shutil.which("swaks")
    if swaks is None:
        pytest.skip("swaks is not installed")
    server = starttls_server(harness.scenario_file("hotmail-2009"), sessions=1)
    result = harness.run_client([
        swaks, "--server", "127.0.0.1", "--port", str(server.port),
        "--ehlo", "client.example.test", "--from", "a@example.test",
        "--to", "b@example.test", "--tls", "--tls-verify",
        "--tls-ca-path", str(server.cafile), "--tls-sni", "mail.example.test",
        "--timeout", "20"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert server.wait() == 0
    [session] = server.sessions_reports()
    check_deferred_handshake(session)


def test_client_trusting_another_ca_delivers_nothing(starttls_server):
    other = starttls_server(harness.scenario_file("hotmail-2009"), sessions=1)
    server = starttls_server(harness.scenario_file("hotmail-2009"), sessions=1)
    context = ssl.create_default_context(cafile=str(other.cafile))
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
        smtp._host = "mail.example.test"
        smtp.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError):
            smtp.starttls(context=context)
    assert server.wait() == 0
    [session] = server.sessions_reports()
    assert not session["delivered"]
    assert not session["tls"]["established"]
    assert session["verdict"] == "fail"
    assert "unknown ca" in session["tls"]["error"]


@pytest.mark.parametrize("servername, extra, error", [
    ("other.example.test", [], "hostname mismatch"),
    ("mail.example.test", ["--cafile", "/etc/ssl/certs/ca-certificates.crt"],
     "unable to get local issuer certificate"),
])
def test_reference_client_refuses_a_certificate_it_cannot_verify(
        starttls_server, servername, extra, error):
    server = starttls_server(harness.scenario_file("hotmail-2009"), sessions=1)
    argv = harness.reference_client(server, servername=servername)
    if extra:  # replace the run's CA with one that did not sign the server
        argv[argv.index("--cafile") + 1] = extra[1]
    result = harness.run_client(argv)
    assert result.returncode == 7, result.stderr
    assert result.stderr.startswith("starttls-client: certificate-rejected:")
    assert error in result.stderr
    assert server.wait() == 0
    [session] = server.sessions_reports()
    assert not session["delivered"]
    assert not session["tls"]["established"]
    # The client aborted the handshake itself and sent nothing after it.
    assert not [e for e in session["events"] if e.get("layer") == "tls"]
