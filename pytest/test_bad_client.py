"""bad_client.py against small servers: correct by default, and each --bug
switch changes what it does on the wire the way the real bug did.

The servers are aiosmtpd (a real SMTP server with STARTTLS) and scripted
servers that hold a reply back to see whether the client acts too early.
A test that expects the client to act waits for it with a long deadline
(WAIT); a test that expects it to wait looks for a short window (QUIET) in
which it must send nothing. A slow machine can only make a test slower,
never flip it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bad_client
from smtp_test_server import (HOST_NAME, WAIT, Aiosmtpd, ScriptedServer, ehlo_reply,
                              greet, make_pki, respond, server_context)
from starttls_mock import harness

CLIENT = Path(__file__).with_name("bad_client.py")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def good_tls(pki):
    return server_context(pki.cert, pki.key)


def client(port: int, pki, *extra: str, bugs=(), servername: str = HOST_NAME,
           timeout: float = WAIT, budget: float = 3 * WAIT) -> harness.ClientResult:
    argv = [sys.executable, str(CLIENT), "--host", "127.0.0.1", "--port", str(port),
            "--cafile", str(pki.ca), "--servername", servername, "--timeout", str(timeout),
            *extra]
    for bug in bugs:
        argv += ["--bug", bug]
    return harness.run_client(argv, timeout=budget)


def assert_delivered(result: harness.ClientResult, over_tls: bool = True) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("delivered: TLSv1" if over_tls else "delivered: plaintext"), \
        result.stdout
    assert result.stderr == ""


def assert_failed(result: harness.ClientResult, name: str, *words: str) -> None:
    """The exit status called `name` and one line on stderr saying so."""
    assert result.returncode == bad_client.EXIT_CODES[name], (result.returncode, result.stderr)
    assert result.stderr.startswith(f"bad_client: {name}: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr
    assert result.stdout == ""


def serve(tls_context, **options):
    """A script: greeting, then an ordinary server."""
    def script(peer):
        greet(peer)
        respond(peer, tls_context, **options)
    return script


def up_to_starttls(peer):
    """Greeting and an EHLO reply offering STARTTLS; reads the STARTTLS."""
    greet(peer)
    assert peer.read_line().startswith("EHLO ")
    peer.send(ehlo_reply(peer, ["PIPELINING", "STARTTLS"]))
    assert peer.read_line() == "STARTTLS"


def first_tls_command(peer) -> str:
    return peer.commands("tls")[0]


@pytest.mark.parametrize("bugs, goes_on", [([], False), (["ignore-greeting-code"], True)])
def test_a_554_greeting_ends_the_session(pki, good_tls, bugs, goes_on):
    """RFC 5321 section 3.1: a 554 greeting says there is no SMTP service.
    The server here serves on regardless; only the buggy client uses it."""
    def script(peer):
        peer.send(f"554 5.3.2 {HOST_NAME} No SMTP service here\r\n")
        respond(peer, good_tls)

    with ScriptedServer(script) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    if goes_on:
        assert_delivered(result)
        assert peer.tls and len(peer.messages) == 1
    else:
        assert_failed(result, "protocol-error", "554")
        assert not peer.tls and peer.messages == []


# --------------------------------------------------------------------------
# The correct client against aiosmtpd.
# --------------------------------------------------------------------------

def test_default_client_delivers_over_starttls_to_aiosmtpd(pki, good_tls, tmp_path):
    message = tmp_path / "message.txt"
    message.write_bytes(b"Subject: hello\n\n.a line that starts with a dot\nbye\n")
    with Aiosmtpd(good_tls) as server:
        result = client(server.port, pki, "--message", str(message),
                        "--from", "a@example.test", "--to", "b@example.test")
    assert_delivered(result)
    [m] = server.messages
    assert m.over_tls
    assert (m.mail_from, m.rcpt_to) == ("a@example.test", ["b@example.test"])
    assert m.data == "Subject: hello\r\n\r\n.a line that starts with a dot\r\nbye\r\n"


def test_default_client_sends_credentials_only_over_tls(pki, good_tls):
    with Aiosmtpd(good_tls) as server:
        result = client(server.port, pki, "--user", "alice", "--password", "s3cret")
    assert_delivered(result)
    assert server.auth == [(True, "alice", "s3cret")]
    assert server.messages[0].over_tls


def test_default_client_refuses_a_server_without_starttls(pki):
    with Aiosmtpd(None) as server:
        result = client(server.port, pki)
    assert_failed(result, "tls-unavailable", "does not offer STARTTLS")
    assert server.messages == []


def test_opportunistic_client_delivers_in_plain_text_without_starttls(pki):
    with Aiosmtpd(None) as server:
        result = client(server.port, pki, "--opportunistic")
    assert_delivered(result, over_tls=False)
    assert [m.over_tls for m in server.messages] == [False]


CERTIFICATE_FAULTS = {
    # name: (certificate the server shows, name the client expects, verifier's words)
    "wrong-host": ("good", "other.example.test", "Hostname mismatch"),
    "untrusted": ("self-signed", HOST_NAME, "self-signed certificate"),
}


def certificate_case(pki, fault):
    cert, servername, words = CERTIFICATE_FAULTS[fault]
    context = (server_context(pki.cert, pki.key) if cert == "good"
               else server_context(pki.self_signed, pki.self_signed_key))
    return context, servername, words


@pytest.mark.parametrize("fault", sorted(CERTIFICATE_FAULTS))
def test_default_client_rejects_a_bad_certificate(pki, fault):
    context, servername, words = certificate_case(pki, fault)
    with Aiosmtpd(context) as server:
        result = client(server.port, pki, servername=servername)
    assert_failed(result, "certificate-rejected", words)
    assert server.messages == []


# --------------------------------------------------------------------------
# Certificate bugs.
# --------------------------------------------------------------------------

@pytest.mark.parametrize("bugs", [["no-verify"]])
@pytest.mark.parametrize("fault", sorted(CERTIFICATE_FAULTS))
def test_no_verify_accepts_any_certificate(pki, fault, bugs):
    context, servername, _ = certificate_case(pki, fault)
    with Aiosmtpd(context) as server:
        result = client(server.port, pki, servername=servername, bugs=bugs)
    assert_delivered(result)
    assert [m.over_tls for m in server.messages] == [True]


@pytest.mark.parametrize("bugs", [["no-hostname-check"]])
@pytest.mark.parametrize("fault, delivers", [("wrong-host", True), ("untrusted", False)])
def test_no_hostname_check_accepts_a_wrong_name_but_still_checks_the_chain(pki, fault, delivers,
                                                                           bugs):
    context, servername, words = certificate_case(pki, fault)
    with Aiosmtpd(context) as server:
        result = client(server.port, pki, servername=servername, bugs=bugs)
    if delivers:
        assert_delivered(result)
        assert len(server.messages) == 1
    else:
        assert_failed(result, "certificate-rejected", words)
        assert server.messages == []


@pytest.mark.parametrize("servername, sni", [(HOST_NAME, HOST_NAME), ("127.0.0.1", None)])
def test_sni_is_the_server_name_unless_it_is_an_ip_literal(pki, good_tls, servername, sni):
    with ScriptedServer(serve(good_tls)) as server:
        result = client(server.port, pki, servername=servername)
        [peer] = server.join()
    assert_delivered(result)
    assert peer.tls
    assert peer.sni == sni


# --------------------------------------------------------------------------
# When the handshake starts: tls-before-220, tls-on-incomplete-220,
# first-line-is-reply.
# --------------------------------------------------------------------------

# The reply to STARTTLS in two parts: the server sends the first, watches the
# client, then sends the second.
STARTTLS_REPLIES = {
    "nothing-yet": (b"", b"220 2.0.0 Ready to start TLS\r\n"),
    "no-crlf": (b"220", b" 2.0.0 Ready to start TLS\r\n"),
    "continuation": (b"220-2.0.0 Ready\r\n", b"220 2.0.0 go ahead\r\n"),
}


@pytest.mark.parametrize("bugs, reply, early", [
    ([], "nothing-yet", False),
    ([], "no-crlf", False),
    ([], "continuation", False),
    (["tls-before-220"], "nothing-yet", True),
    (["tls-on-incomplete-220"], "nothing-yet", False),
    (["tls-on-incomplete-220"], "no-crlf", True),
    (["tls-on-incomplete-220"], "continuation", True),
    (["first-line-is-reply"], "no-crlf", False),
    (["first-line-is-reply"], "continuation", True),
])
def test_handshake_starts_only_after_the_complete_220(pki, good_tls, bugs, reply, early):
    first, rest = STARTTLS_REPLIES[reply]
    seen = {}

    def script(peer):
        up_to_starttls(peer)
        peer.send(first)
        if early:
            seen["early"] = peer.pending(WAIT)  # waits for the client to act
            peer.send(rest)  # in plain text, into the client's handshake
            seen["rest"] = peer.drain_until_closed()
        else:
            seen["quiet"] = peer.quiet()
            peer.send(rest)
            if peer.starttls(good_tls):
                respond(peer, good_tls)

    with ScriptedServer(script) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    if early:
        # A TLS handshake record (ClientHello) before the 220 was complete.
        assert seen["early"][:2] == b"\x16\x03", seen["early"]
        assert_failed(result, "handshake-failed")
        assert not peer.tls and peer.messages == []
    else:
        assert seen["quiet"], "the client sent something before the 220 was complete"
        assert_delivered(result)
        assert [m.over_tls for m in peer.messages] == [True]


@pytest.mark.parametrize("bugs", [["first-line-is-reply"]])
def test_first_line_is_reply_desynchronises_on_a_multi_line_greeting(pki, good_tls, bugs):
    seen = {}

    def script(peer):
        peer.send("220-mail.example.test ESMTP\r\n")
        seen["early"] = peer.read_line()  # EHLO before the greeting ended
        peer.send("220 second line of the greeting\r\n")
        peer.send(ehlo_reply(peer, ["STARTTLS"]))
        respond(peer, good_tls)

    with ScriptedServer(script) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    assert seen["early"].startswith("EHLO ")
    # It took the greeting's second line for the reply to EHLO.
    assert_failed(result, "protocol-error", "EHLO refused: 220 second line")
    assert peer.messages == [] and not peer.tls


def test_default_client_waits_for_the_whole_greeting(pki, good_tls):
    seen = {}

    def script(peer):
        peer.send("220-mail.example.test ESMTP\r\n")
        seen["quiet"] = peer.quiet()
        peer.send("220 second line of the greeting\r\n")
        respond(peer, good_tls)

    with ScriptedServer(script) as server:
        result = client(server.port, pki)
        [peer] = server.join()
    assert seen["quiet"]
    assert_delivered(result)
    assert len(peer.messages) == 1


# --------------------------------------------------------------------------
# What crosses the upgrade: pipeline-after-starttls, keep-plaintext-buffer,
# no-ehlo-after-tls.
# --------------------------------------------------------------------------

@pytest.mark.parametrize("bugs", [[], ["pipeline-after-starttls"]])
def test_pipeline_after_starttls_sends_ehlo_before_the_220(pki, good_tls, bugs):
    seen = {}

    def script(peer):
        up_to_starttls(peer)
        if bugs:
            seen["pipelined"] = peer.pending(WAIT)
            # A server must throw such bytes away (CVE-2011-0411).
            assert peer.read_line().startswith("EHLO ")
        else:
            seen["quiet"] = peer.quiet()
        peer.send("220 2.0.0 Ready to start TLS\r\n")
        if peer.starttls(good_tls):
            respond(peer, good_tls)

    with ScriptedServer(script) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    if bugs:
        assert seen["pipelined"] == b"EHLO localhost\r\n"
    else:
        assert seen["quiet"]
    assert peer.discarded == b""
    # Either way EHLO is the first command over TLS and the mail gets through.
    assert first_tls_command(peer) == "EHLO localhost"
    assert_delivered(result)
    assert [m.over_tls for m in peer.messages] == [True]


@pytest.mark.parametrize("bugs", [[], ["keep-plaintext-buffer"]])
def test_plaintext_injected_after_the_220(pki, good_tls, bugs):
    seen = {}

    def script(peer):
        up_to_starttls(peer)
        # What a man in the middle does: a reply to the EHLO the client will
        # send over TLS, in plain text, in the same segment as the 220.
        peer.send("220 2.0.0 Ready to start TLS\r\n250 injected\r\n")
        seen["next"] = peer.pending(WAIT)
        if seen["next"][:1] != b"\x16" or not peer.starttls(good_tls):
            return
        seen["ehlo"] = peer.read_line()
        # The EHLO is not answered: a client that goes on has read the
        # injected 250 as the reply.
        seen["before_ehlo_reply"] = peer.read_line()

    with ScriptedServer(script) as server:
        result = client(server.port, pki, bugs=bugs)
        server.join()
    if bugs:
        assert seen["ehlo"] == "EHLO localhost"
        assert seen["before_ehlo_reply"] == "MAIL FROM:<sender@example.test>"
    else:
        assert seen["next"] == b"", "the client should close without a handshake"
        assert_failed(result, "unexpected-plaintext", "250 injected")


@pytest.mark.parametrize("bugs, first", [([], "EHLO localhost"),
                                         (["no-ehlo-after-tls"], "MAIL FROM:<sender@example.test>")])
def test_first_command_over_tls(pki, good_tls, bugs, first):
    with ScriptedServer(serve(good_tls)) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    assert_delivered(result)
    assert first_tls_command(peer) == first


@pytest.mark.parametrize("bugs, second", [([], False), (["starttls-again"], True)])
def test_starttls_over_tls_when_the_server_offers_it_again(pki, good_tls, bugs, second):
    offers_again = ("PIPELINING", "STARTTLS")
    with ScriptedServer(serve(good_tls, tls_extensions=offers_again)) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    # The server answers a STARTTLS over TLS 500; the client goes on.
    assert_delivered(result)
    assert ("STARTTLS" in peer.commands("tls")) == second
    assert peer.commands("tls")[0] == "EHLO localhost"


# --------------------------------------------------------------------------
# Falling back to plain text.
# --------------------------------------------------------------------------

@pytest.mark.parametrize("bugs", [["plaintext-fallback"]])
def test_plaintext_fallback_delivers_when_starttls_is_not_offered(pki, bugs):
    with Aiosmtpd(None) as server:
        result = client(server.port, pki, bugs=bugs)
    assert_delivered(result, over_tls=False)
    assert [m.over_tls for m in server.messages] == [False]


REFUSALS = {
    "starttls-454": dict(starttls_reply="454 4.7.0 TLS not available due to temporary reason"),
    "starttls-502": dict(starttls_reply="502 5.5.1 command not implemented"),
    "ehlo-refused": dict(ehlo_refused=True),
}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
@pytest.mark.parametrize("bugs", [[], ["plaintext-fallback"]])
def test_plaintext_fallback_after_a_refusal(pki, good_tls, refusal, bugs):
    with ScriptedServer(serve(good_tls, **REFUSALS[refusal])) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    plain_mail = [c for c in peer.commands("plain") if c.startswith(("MAIL", "RCPT", "DATA"))]
    if bugs:
        assert_delivered(result, over_tls=False)
        assert plain_mail and [m.over_tls for m in peer.messages] == [False]
    else:
        assert_failed(result, "tls-unavailable")
        assert plain_mail == [] and peer.messages == []
        assert peer.commands()[-1] == "QUIT"


@pytest.mark.parametrize("bugs", [[], ["plaintext-fallback"]])
def test_plaintext_fallback_reconnects_after_a_failed_handshake(pki, bugs):
    bad = server_context(pki.self_signed, pki.self_signed_key)
    scripts = [serve(bad)] + ([serve(bad)] if bugs else [])
    with ScriptedServer(*scripts) as server:
        result = client(server.port, pki, bugs=bugs)
        peers = server.join()
        reconnected = server.connection_waiting()
    assert peers[0].tls_error and not peers[0].tls and peers[0].messages == []
    if bugs:
        assert_delivered(result, over_tls=False)
        second = peers[1]
        assert "STARTTLS" not in second.commands()
        assert [m.over_tls for m in second.messages] == [False]
    else:
        assert_failed(result, "certificate-rejected")
        assert not reconnected, "the client came back after the failed handshake"


@pytest.mark.parametrize("bugs", [[], ["trust-on-retry"]])
def test_a_retry_after_a_4xx_checks_the_new_certificate(pki, good_tls, bugs):
    """A 451 to the message: the client tries once more on a new
    connection, where a self-signed certificate waits. Checked as the first
    one was, it is refused; trust-on-retry takes it."""
    bad = server_context(pki.self_signed, pki.self_signed_key)
    deferred = serve(good_tls, message_reply="451 4.3.0 try again later")
    with ScriptedServer(deferred, serve(bad)) as server:
        result = client(server.port, pki, bugs=bugs)
        peers = server.join()
    assert peers[0].tls and [m.over_tls for m in peers[0].messages] == [True]
    if bugs:
        assert_delivered(result)
        assert [m.over_tls for m in peers[1].messages] == [True]
    else:
        assert_failed(result, "certificate-rejected")
        assert peers[1].tls_error and peers[1].messages == []


def test_a_5xx_to_the_message_is_not_retried(pki, good_tls):
    with ScriptedServer(serve(good_tls, message_reply="554 5.6.0 rejected")) as server:
        result = client(server.port, pki)
        peers = server.join()
        came_back = server.connection_waiting()
    assert_failed(result, "message-rejected")
    assert len(peers[0].messages) == 1
    assert not came_back, "the client came back after a permanent refusal"


# --------------------------------------------------------------------------
# Credentials.
# --------------------------------------------------------------------------

BOTH_SIDES_OFFER_AUTH = dict(plain_extensions=("AUTH PLAIN",), tls_extensions=("AUTH LOGIN",))


@pytest.mark.parametrize("bugs, extra, auth", [
    ([], [], []),
    # The mechanism comes from the list offered over TLS, not the first one.
    ([], ["--user", "alice", "--password", "s3cret"], [("tls", "alice", "s3cret")]),
    (["auth-before-tls"], [],
     [("plain", bad_client.LEAKED_USER, bad_client.LEAKED_PASSWORD)]),
])
def test_credentials_travel_only_over_tls(pki, good_tls, bugs, extra, auth):
    with ScriptedServer(serve(good_tls, **BOTH_SIDES_OFFER_AUTH)) as server:
        result = client(server.port, pki, *extra, bugs=bugs)
        [peer] = server.join()
    assert_delivered(result)
    assert peer.auth == auth
    if extra:
        assert "AUTH LOGIN" in peer.commands("tls")


def test_opportunistic_client_does_not_send_credentials_in_plain_text(pki):
    with ScriptedServer(serve(None, plain_extensions=("AUTH PLAIN LOGIN",))) as server:
        result = client(server.port, pki, "--opportunistic", "--user", "alice",
                        "--password", "s3cret")
        [peer] = server.join()
    assert_failed(result, "tls-unavailable", "credentials")
    assert peer.auth == [] and peer.messages == []


# --------------------------------------------------------------------------
# Deadlines and endings.
# --------------------------------------------------------------------------

@pytest.mark.parametrize("bugs", [[], ["no-timeouts"]])
def test_a_stalled_server(pki, bugs):
    seen = {}

    def script(peer):
        greet(peer)
        assert peer.read_line().startswith("EHLO ")
        seen["end"] = peer.drain_until_closed(2 * WAIT)  # never answer

    with ScriptedServer(script) as server:
        # The default client gives up after 0.5 s; the buggy one is still
        # waiting at six times that and is killed. (It never gives up, so a
        # slow machine cannot make it pass.)
        result = client(server.port, pki, bugs=bugs, timeout=0.5,
                        budget=3.0 if bugs else WAIT)
        server.join()
    assert seen["end"] == b""
    if bugs:
        assert result.returncode == -1, result.stderr  # killed by the budget
    else:
        assert_failed(result, "timeout", "reply to EHLO")


@pytest.mark.parametrize("bugs", [[], ["success-after-truncated-data"]])
def test_connection_closed_after_data_without_a_reply(pki, good_tls, bugs):
    with ScriptedServer(serve(good_tls, reply_to_data=False)) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    assert len(peer.messages) == 1  # the server read it, and never said so
    if bugs:
        assert_delivered(result)
        assert "no reply" in result.stdout
    else:
        assert_failed(result, "connection-lost", "end of data")


@pytest.mark.parametrize("bugs", [[], ["accept-tls10"]])
def test_a_tls_1_0_only_server(pki, bugs):
    tls10 = server_context(pki.cert, pki.key, tls10_only=True)
    with ScriptedServer(serve(tls10)) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    if bugs:
        assert_delivered(result)
        assert result.stdout.startswith("delivered: TLSv1 ")
        assert peer.tls_version == "TLSv1"
    else:
        assert_failed(result, "handshake-failed")
        assert not peer.tls and peer.messages == []


@pytest.mark.parametrize("bugs, hello", [([], False), (["tls-on-any-2xx"], True)])
def test_a_250_to_starttls_is_no_go_ahead(pki, bugs, hello):
    def script(peer):
        up_to_starttls(peer)
        peer.send("250 2.0.0 OK\r\n")
        peer.first = peer.pending()

    with ScriptedServer(script) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    assert peer.first.startswith(b"\x16") == hello, peer.first
    assert result.returncode != 0


@pytest.mark.parametrize("bugs, hello", [([], False),
                                         (["unsolicited-220-is-go-ahead"], True)])
def test_an_unsolicited_220_is_no_go_ahead(pki, bugs, hello):
    def script(peer):
        greet(peer)
        assert peer.read_line().startswith("EHLO ")
        peer.send(ehlo_reply(peer, ["STARTTLS"]) + "220 2.0.0 Ready to start TLS\r\n")
        peer.first = peer.pending()

    with ScriptedServer(script) as server:
        result = client(server.port, pki, bugs=bugs)
        [peer] = server.join()
    # The buggy client never sends STARTTLS; its first bytes are a ClientHello.
    assert peer.first.startswith(b"\x16") == hello, peer.first
    assert b"STARTTLS" not in peer.first
    assert result.returncode != 0


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------

@pytest.mark.parametrize("extra, words", [
    (["--bug", "no-such-bug"], "invalid choice"),
    (["--message", "/nonexistent/message.txt"], "cannot read"),
    (["--ehlo", "a\r\nRCPT TO:<x@example.test>"], "line break"),
])
def test_usage_errors(pki, extra, words):
    result = client(1, pki, *extra)
    assert_failed(result, "usage-error", words)


def test_connect_failed(pki):
    with ScriptedServer() as server:
        port = server.port
    result = client(port, pki)  # the listener is closed: nobody is there
    assert_failed(result, "connect-failed")


# Collects this file in a pytest of its own and writes down, for every test
# collected, the switches it runs the client with (its `bugs` parameter).
SWITCHES_SEEN = """
import json, os

def pytest_collection_finish(session):
    seen = [[item.nodeid, item.callspec.params["bugs"]] for item in session.items
            if "bugs" in getattr(getattr(item, "callspec", None), "params", {})]
    with open(os.environ["SWITCHES_SEEN"], "w") as out:
        json.dump(seen, out)
"""


def collected_switches(tmp_path: Path) -> dict[str, list[str]]:
    """switch -> the ids of the collected tests that run the client with it."""
    (tmp_path / "switches_seen.py").write_text(SWITCHES_SEEN)
    out = tmp_path / "seen.json"
    env = dict(os.environ, SWITCHES_SEEN=str(out),
               PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path),
                                                        os.environ.get("PYTHONPATH")])))
    done = subprocess.run(["/usr/bin/python3", "-m", "pytest", "--collect-only", "-q",
                           "-p", "switches_seen", "-p", "no:cacheprovider", __file__],
                          cwd=Path(__file__).parent.parent, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    by_switch: dict[str, list[str]] = {}
    for nodeid, bugs in json.loads(out.read_text()):
        for bug in bugs:
            by_switch.setdefault(bug, []).append(nodeid)
    return by_switch


def test_every_bug_switch_is_run_by_a_collected_test(tmp_path):
    seen = collected_switches(tmp_path)
    assert set(seen) <= set(bad_client.BUGS), set(seen) - set(bad_client.BUGS)
    assert [bug for bug in bad_client.BUGS if bug not in seen] == []
