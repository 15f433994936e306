"""The reference client against real SMTP servers nobody here wrote.

Two servers, each started by the test on loopback with its own generated
certificates: aiosmtpd with STARTTLS (Debian's python3-aiosmtpd) and
Postfix's smtpd (Debian's postfix) in a private configuration directory on a
high port. The client delivers to both with verification on, and refuses
both, with certificate-rejected (exit 7), when given the wrong CA or the
wrong host name. The aiosmtpd and scripted-server tests then cover the
rest of the client's TLS options: AUTH only over TLS, a CA directory, CRLs,
the minimum TLS version, SNI, policies and deadlines.

Every wait has a deadline: servers are ready when a connect succeeds (polled
until a deadline), messages have arrived when a file appears (likewise).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import postfix_private
from smtp_test_server import (HOST_NAME, WAIT, Aiosmtpd, ScriptedServer, greet,
                              make_pki, respond, server_context)
from starttls_mock import harness

EXIT = {"delivered": 0, "usage-error": 2, "protocol-error": 4, "tls-unavailable": 5,
        "certificate-rejected": 7, "handshake-failed": 8, "timeout": 9,
        "auth-failed": 12}

# Per-phase client timeout; generous, since these servers answer at once.
CLIENT_TIMEOUT = "10"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def client(port: int, cafile: Path, *extra: str, servername: str = HOST_NAME,
           budget: float = 60.0) -> harness.ClientResult:
    argv = [str(harness.binary("starttls-client")), "--host", "127.0.0.1",
            "--port", str(port), "--cafile", str(cafile), "--servername", servername,
            "--timeout", CLIENT_TIMEOUT, *extra]
    return harness.run_client(argv, timeout=budget)


def explain(result: harness.ClientResult) -> str:
    return f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"


def wait_until(predicate, what: str, timeout: float = WAIT, interval: float = 0.05):
    """Polls `predicate` until it returns something truthy, or fails the test
    at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# Postfix.
# --------------------------------------------------------------------------

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
DAEMONS = postfix_private.DAEMONS

# Every service Postfix needs to receive a message over SMTP and deliver it
# with virtual(8); none chrooted, so no copy of /etc is needed.
MASTER_CF = "127.0.0.1:{port} inet n - n - - smtpd\n" + postfix_private.UNIX_SERVICES + \
    "virtual   unix  - n n -  - virtual\n"

MAIN_CF = postfix_private.MAIN_CF_COMMON + """\
myhostname = {host}
mydomain = example.test
myorigin = {host}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
# Every recipient at example.test lands in one Maildir, {root}/mail/inbox/.
virtual_mailbox_domains = example.test
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_tls_security_level = may
smtpd_tls_chain_files = {key}, {cert}
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
"""


def free_port() -> int:
    """A port nobody listened on a moment ago. Postfix cannot inherit a
    listening socket, so it is told the number; a lost race is retried."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postfix:
    """A private Postfix instance: `postfix -c DIR start-fg`, its own
    main.cf/master.cf, queue, data and mail directories and log, all under
    one temporary directory; no system mail configuration is read or touched.

    The directory is made with tempfile under /tmp rather than under
    tmp_path: Postfix's daemons drop privileges to the postfix and nobody
    users, who cannot traverse pytest's 0700 base directory."""

    def __init__(self, cert: Path, key: Path):
        self.root = Path(tempfile.mkdtemp(prefix="starttls-postfix-"))
        self.root.chmod(0o755)
        self.conf = self.root / "conf"
        self.conf.mkdir()
        # Root-owned copies: the key must not be readable by everyone.
        shutil.copy(cert, self.conf / "cert.pem")
        shutil.copy(key, self.conf / "key.pem")
        (self.conf / "key.pem").chmod(0o600)
        (self.root / "queue").mkdir()
        (self.root / "data").mkdir()
        postfix_user = pwd.getpwnam("postfix")
        os.chown(self.root / "data", postfix_user.pw_uid, postfix_user.pw_gid)
        nobody = pwd.getpwnam("nobody")
        self.uid, self.gid = nobody.pw_uid, nobody.pw_gid
        (self.root / "mail").mkdir()
        os.chown(self.root / "mail", self.uid, self.gid)
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def _configure(self) -> None:
        (self.conf / "main.cf").write_text(MAIN_CF.format(
            root=self.root, daemons=DAEMONS, host=HOST_NAME, uid=self.uid, gid=self.gid,
            key=self.conf / "key.pem", cert=self.conf / "cert.pem"))
        (self.conf / "master.cf").write_text(MASTER_CF.format(port=self.port))

    def start(self, attempts: int = 3) -> "Postfix":
        for _ in range(attempts):
            self.port = free_port()
            self._configure()
            # Its own session: `postfix stop` signals the master's process
            # group, which must not be ours.
            self.proc = subprocess.Popen(
                [POSTFIX, "-c", str(self.conf), "start-fg"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=open(self.root / "start-fg.err", "wb"), start_new_session=True)
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break  # e.g. the port was taken meanwhile; try another
                if accepts_connections(self.port):
                    return self
                time.sleep(0.05)
            self.stop()
        raise RuntimeError(f"postfix did not start on 127.0.0.1:{self.port}:\n"
                           f"{(self.root / 'start-fg.err').read_text(errors='replace')}"
                           f"\n{self.log}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            subprocess.run([POSTFIX, "-c", str(self.conf), "stop"],
                           capture_output=True, timeout=WAIT)
            try:
                self.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                # The process group this instance was started in, and only it.
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=WAIT)
        self.proc = None

    def delivered(self) -> list[str]:
        """Messages virtual(8) has delivered to the Maildir."""
        new = self.root / "mail" / "inbox" / "new"
        if not new.is_dir():
            return []
        return [p.read_text(errors="replace") for p in sorted(new.iterdir())]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def postfix_unavailable() -> str | None:
    if not Path(POSTFIX).exists() or not Path(DAEMONS, "smtpd").exists():
        return "Debian's postfix package is not installed (tools/install-deps.sh installs it)"
    if os.geteuid() != 0:
        return "Postfix's master(8) must be started as root"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "the postfix user does not exist"
    return None


@pytest.fixture
def postfix(pki):
    reason = postfix_unavailable()
    if reason:
        pytest.skip(reason)
    server = Postfix(pki.cert, pki.key)
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture
def aiosmtpd_server(pki):
    with Aiosmtpd(server_context(pki.cert, pki.key)) as server:
        yield server


# --------------------------------------------------------------------------
# Delivery with verification, and refusal with the wrong CA or host name.
# --------------------------------------------------------------------------

def message_file(tmp_path: Path, marker: str) -> Path:
    path = tmp_path / "message.eml"
    path.write_text(f"From: <sender@example.test>\nTo: <inbox@example.test>\n"
                    f"Subject: interop {marker}\n\n{marker}\n.leading dot\n")
    return path


def test_delivers_to_postfix_over_starttls_with_verification(postfix, pki, tmp_path):
    result = client(postfix.port, pki.ca, "--to", "inbox@example.test",
                    "--message", str(message_file(tmp_path, "postfix-marker")),
                    "--verbose")
    assert result.returncode == 0, explain(result) + postfix.log
    assert result.stdout.startswith("delivered: TLSv1."), result.stdout
    messages = wait_until(postfix.delivered, "Postfix to deliver the message")
    assert len(messages) == 1
    assert "postfix-marker" in messages[0]
    assert "\n.leading dot\n" in messages[0]  # dot-stuffing undone by the server
    # Postfix records the TLS session in its Received header.
    assert "(using TLSv1." in messages[0], messages[0]
    assert "ESMTPS" in messages[0]


def test_delivers_to_postfix_verifying_its_ip_address(postfix, pki):
    result = client(postfix.port, pki.ca, "--to", "inbox@example.test",
                    servername="127.0.0.1")
    assert result.returncode == 0, explain(result) + postfix.log
    wait_until(postfix.delivered, "Postfix to deliver the message")


def test_refuses_postfix_with_the_wrong_ca(postfix, pki):
    result = client(postfix.port, pki.self_signed, "--to", "inbox@example.test")
    assert result.returncode == EXIT["certificate-rejected"], explain(result)
    assert "unable to get local issuer certificate" in result.stderr
    assert postfix.delivered() == []


def test_refuses_postfix_with_the_wrong_host_name(postfix, pki):
    result = client(postfix.port, pki.ca, "--to", "inbox@example.test",
                    servername="other.example.test")
    assert result.returncode == EXIT["certificate-rejected"], explain(result)
    assert "hostname mismatch" in result.stderr
    assert postfix.delivered() == []


def test_delivers_to_aiosmtpd_over_starttls_with_verification(aiosmtpd_server, pki,
                                                               tmp_path):
    result = client(aiosmtpd_server.port, pki.ca,
                    "--message", str(message_file(tmp_path, "aiosmtpd-marker")))
    assert result.returncode == 0, explain(result)
    assert len(aiosmtpd_server.messages) == 1
    message = aiosmtpd_server.messages[0]
    assert message.over_tls
    assert "aiosmtpd-marker" in message.data
    assert "\n.leading dot" in message.data


def test_refuses_aiosmtpd_with_the_wrong_ca(aiosmtpd_server, pki):
    result = client(aiosmtpd_server.port, pki.self_signed)
    assert result.returncode == EXIT["certificate-rejected"], explain(result)
    assert "unable to get local issuer certificate" in result.stderr
    assert aiosmtpd_server.messages == []


def test_refuses_aiosmtpd_with_the_wrong_host_name(aiosmtpd_server, pki):
    result = client(aiosmtpd_server.port, pki.ca, servername="other.example.test")
    assert result.returncode == EXIT["certificate-rejected"], explain(result)
    assert "hostname mismatch" in result.stderr
    assert aiosmtpd_server.messages == []


def test_refuses_aiosmtpd_with_the_wrong_ip_address(aiosmtpd_server, pki):
    result = client(aiosmtpd_server.port, pki.ca, servername="127.0.0.2")
    assert result.returncode == EXIT["certificate-rejected"], explain(result)
    assert "IP address mismatch" in result.stderr


# --------------------------------------------------------------------------
# AUTH.
# --------------------------------------------------------------------------

def test_auth_goes_over_tls_and_the_secret_is_never_printed(aiosmtpd_server, pki,
                                                            tmp_path):
    password = tmp_path / "password"
    password.write_text("correct horse\n")
    result = client(aiosmtpd_server.port, pki.ca, "--auth-user", "alice",
                    "--auth-password-file", str(password), "--verbose")
    assert result.returncode == 0, explain(result)
    assert aiosmtpd_server.auth == [(True, "alice", "correct horse")]
    assert "correct horse" not in result.stdout + result.stderr
    assert "C: AUTH PLAIN <credentials hidden>" in result.stderr


def test_auth_login_when_asked_for(aiosmtpd_server, pki):
    result = client(aiosmtpd_server.port, pki.ca, "--auth-user", "bob",
                    "--auth-password", "hunter2", "--auth-mechanism", "login",
                    "--verbose")
    assert result.returncode == 0, explain(result)
    assert aiosmtpd_server.auth == [(True, "bob", "hunter2")]
    assert "hunter2" not in result.stderr
    assert "C: <password hidden>" in result.stderr


def test_opportunistic_client_never_sends_credentials_in_plain_text():
    with Aiosmtpd() as server:  # no STARTTLS at all
        result = client(server.port, Path("/dev/null"), "--policy", "opportunistic",
                        "--auth-user", "alice", "--auth-password", "secret")
    assert result.returncode == EXIT["tls-unavailable"], explain(result)
    assert server.auth == [] and server.messages == []


def test_opportunistic_client_delivers_in_plain_text_without_starttls():
    with Aiosmtpd() as server:
        result = client(server.port, Path("/dev/null"), "--policy", "opportunistic")
    assert result.returncode == 0, explain(result)
    assert result.stdout.startswith("delivered: plaintext")
    assert [m.over_tls for m in server.messages] == [False]


def test_require_tls_is_the_default_and_refuses_a_server_without_starttls():
    with Aiosmtpd() as server:
        result = client(server.port, Path("/dev/null"))
    assert result.returncode == EXIT["tls-unavailable"], explain(result)
    assert server.messages == []


# --------------------------------------------------------------------------
# Trust material, CRLs, versions, SNI.
# --------------------------------------------------------------------------

def test_a_ca_directory_is_as_good_as_a_ca_file(aiosmtpd_server, pki, tmp_path):
    cadir = tmp_path / "cadir"
    cadir.mkdir()
    shutil.copy(pki.ca, cadir / "ca.pem")
    subprocess.run(["openssl", "rehash", str(cadir)], check=True, capture_output=True,
                   timeout=30)
    argv = [str(harness.binary("starttls-client")), "--host", "127.0.0.1",
            "--port", str(aiosmtpd_server.port), "--capath", str(cadir),
            "--servername", HOST_NAME, "--timeout", CLIENT_TIMEOUT]
    result = harness.run_client(argv)
    assert result.returncode == 0, explain(result)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    shutil.copy(pki.self_signed, wrong / "self.pem")
    subprocess.run(["openssl", "rehash", str(wrong)], check=True, capture_output=True,
                   timeout=30)
    argv[argv.index(str(cadir))] = str(wrong)
    result = harness.run_client(argv)
    assert result.returncode == EXIT["certificate-rejected"], explain(result)


@pytest.fixture(scope="module")
def crl_pki(tmp_path_factory):
    """The catalogue's `revoked` and `not-revoked` profiles: a chain under
    the catalogue's root, and a crl.pem with the root's and the
    intermediate's CRLs."""
    out = tmp_path_factory.mktemp("crl") / "certs"
    subprocess.run([str(harness.binary("starttls-mock")), "certs", "--out", str(out),
                    "--profile", "revoked", "--profile", "not-revoked"],
                   check=True, capture_output=True, timeout=60)
    return out


@pytest.mark.parametrize("profile, crl, expected", [
    ("revoked", True, "certificate-rejected"),
    ("not-revoked", True, "delivered"),
    ("revoked", False, "delivered"),  # CRL checking is opt-in
])
def test_crl_checking(crl_pki, profile, crl, expected):
    leaf = crl_pki / profile
    context = server_context(leaf / "chain.pem", leaf / "key.pem")
    with Aiosmtpd(context) as server:
        extra = ["--crl", str(leaf / "crl.pem")] if crl else []
        result = client(server.port, crl_pki / "ca.pem", *extra)
    assert result.returncode == EXIT[expected], explain(result)
    if expected == "certificate-rejected":
        assert "certificate revoked" in result.stderr


def test_a_crl_file_without_crls_is_a_usage_error(aiosmtpd_server, pki):
    result = client(aiosmtpd_server.port, pki.ca, "--crl", str(pki.ca))
    assert result.returncode == EXIT["usage-error"], explain(result)


def test_min_tls_1_3_refuses_a_tls_1_2_server(pki):
    context = server_context(pki.cert, pki.key)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with Aiosmtpd(context) as server:
        result = client(server.port, pki.ca, "--min-tls", "1.3")
        assert result.returncode == EXIT["handshake-failed"], explain(result)
        result = client(server.port, pki.ca, "--min-tls", "1.2")
        assert result.returncode == 0, explain(result)
        assert result.stdout.startswith("delivered: TLSv1.2 ")


@pytest.mark.parametrize("servername, sni", [(HOST_NAME, HOST_NAME),
                                              ("127.0.0.1", None)])
def test_sni_is_sent_for_a_host_name_and_never_for_an_ip_address(pki, servername, sni):
    context = server_context(pki.cert, pki.key)
    with ScriptedServer(lambda peer: (greet(peer), respond(peer, context))) as server:
        result = client(server.port, pki.ca, servername=servername)
        peers = server.join()
    assert result.returncode == 0, explain(result)
    assert peers[0].sni == sni


# --------------------------------------------------------------------------
# Deadlines and options.
# --------------------------------------------------------------------------

def test_a_server_that_never_greets_is_a_greeting_timeout():
    def silent(peer):
        peer.drain_until_closed()

    with ScriptedServer(silent) as server:
        start = time.monotonic()
        result = client(server.port, Path("/dev/null"), "--greeting-timeout", "0.3")
        elapsed = time.monotonic() - start
        server.join()
    assert result.returncode == EXIT["timeout"], explain(result)
    assert "greeting" in result.stderr
    assert elapsed < float(CLIENT_TIMEOUT)


def test_the_session_deadline_bounds_a_server_that_trickles_replies(pki):
    def trickle(peer):
        greet(peer)
        peer.read_line()
        for line in ["250-mail.example.test\r\n"] * 1000:
            if not peer.quiet(0.1):
                return
            try:
                peer.send(line)
            except OSError:
                return

    with ScriptedServer(trickle) as server:
        start = time.monotonic()
        result = client(server.port, pki.ca, "--reply-timeout", "5",
                        "--session-timeout", "0.8")
        elapsed = time.monotonic() - start
        server.join()
    assert result.returncode == EXIT["timeout"], explain(result)
    assert "session deadline" in result.stderr
    assert elapsed < 5


@pytest.mark.parametrize("argv", [
    ["--policy", "sometimes"],
    ["--min-tls", "1.1"],
    ["--auth-password", "x"],                      # without a user
    ["--auth-user", "alice"],                      # without a password
    ["--policy", "opportunistic", "--require-tls"],
])
def test_bad_options_are_usage_errors(argv):
    result = harness.run_client([str(harness.binary("starttls-client")), "--host",
                                 "127.0.0.1", "--port", "1", *argv])
    assert result.returncode == EXIT["usage-error"], explain(result)
    assert result.stderr.startswith("starttls-client: usage-error:")
