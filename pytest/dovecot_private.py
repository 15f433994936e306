"""A private Dovecot IMAP or POP3 server for the interop tests: Debian's
dovecot-imapd or dovecot-pop3d started in the foreground (`dovecot -F -c FILE`) with its own
configuration, certificate, passwd-file user, Maildir, run and state
directories and log, all under one temporary directory; nothing of the
system's configuration is read or touched.

It listens on 127.0.0.2. Dovecot treats a client whose address equals the
server's as secure (plaintext LOGIN allowed, LOGINDISABLED hidden, even with
ssl = required); a client connecting to 127.0.0.2 comes from 127.0.0.1, so
it sees what a remote client sees.
"""

from __future__ import annotations

import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
ADDRESS = "127.0.0.2"
USER, PASSWORD = "bob", "s3cret-8e1f"


def curl_fetch(url: str, port: int, cafile: Path, host: str, host_name: str):
    """curl -v fetching `url` (its host and port are host_name and `port`,
    resolved to `host`) as USER with STARTTLS required; a
    harness.ClientResult, or a skip when curl is not installed."""
    import pytest
    from starttls_mock import harness
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    return harness.run_client([
        curl, "-sv", "--ssl-reqd", "--cacert", str(cafile),
        "--resolve", f"{host_name}:{port}:{host}", "--user", f"{USER}:{PASSWORD}",
        url], timeout=60)
SUBJECT = "dovecot interop"

CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = {protocol}
listen = {address}
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = {address}
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {address}
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
"""


def unavailable(protocol: str = "imap") -> str | None:
    """Why a private Dovecot serving `protocol` (imap, pop3) cannot run
    here, or None."""
    if not Path(DOVECOT).exists() or not Path(f"/usr/lib/dovecot/{protocol}-login").exists():
        return (f"Debian's dovecot-{protocol}d is not installed "
                "(tools/install-deps.sh installs it)")
    if os.geteuid() != 0:
        return "Dovecot's master must be started as root"
    for user in ("dovecot", "dovenull", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"the {user} user does not exist"
    try:
        with socket.socket() as s:
            s.bind((ADDRESS, 0))
    except OSError as e:
        return f"cannot bind {ADDRESS}: {e}"
    return None


def free_port() -> int:
    """A port nobody listened on at 127.0.0.2 a moment ago; Dovecot is told
    the number, and a lost race is retried."""
    with socket.socket() as s:
        s.bind((ADDRESS, 0))
        return s.getsockname()[1]


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((ADDRESS, port), timeout=1):
            return True
    except OSError:
        return False


class Dovecot:
    """One private instance. The directory is made with tempfile under /tmp
    (mode 0755): Dovecot's login and mail processes run as dovenull and
    nobody, who cannot traverse pytest's 0700 base directory."""

    def __init__(self, cert: Path, key: Path, wait: float = 10.0, protocol: str = "imap"):
        self.wait = wait
        self.protocol = protocol
        self.root = Path(tempfile.mkdtemp(prefix="starttls-dovecot-"))
        self.root.chmod(0o755)
        for d in ("run", "state", "home"):
            (self.root / d).mkdir()
        shutil.copy(cert, self.root / "cert.pem")
        shutil.copy(key, self.root / "key.pem")
        (self.root / "key.pem").chmod(0o600)
        nobody = pwd.getpwnam("nobody")
        gid = grp.getgrgid(nobody.pw_gid).gr_gid
        (self.root / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{nobody.pw_uid}:{gid}::{self.root}/home\n")
        maildir = self.root / "mail" / USER
        for d in ("new", "cur", "tmp"):
            (maildir / d).mkdir(parents=True)
        (maildir / "new" / "1.starttls-mock").write_bytes(
            f"From: <sender@example.test>\r\nTo: <{USER}@example.test>\r\n"
            f"Subject: {SUBJECT}\r\n\r\nhello\r\n".encode())
        for path in [self.root / "mail", self.root / "home", *(self.root / "mail").rglob("*")]:
            os.chown(path, nobody.pw_uid, gid)
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, attempts: int = 3) -> "Dovecot":
        for _ in range(attempts):
            self.port = free_port()
            conf = self.root / "dovecot.conf"
            conf.write_text(CONF.format(
                root=self.root, address=ADDRESS, protocol=self.protocol,
                imap_port=self.port if self.protocol == "imap" else 0,
                pop3_port=self.port if self.protocol == "pop3" else 0))
            self.proc = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=open(self.root / "dovecot.err", "wb"),
                start_new_session=True)
            deadline = time.monotonic() + self.wait
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break  # e.g. the port was taken meanwhile; try another
                if accepts_connections(self.port):
                    return self
                time.sleep(0.05)
            self.stop()
        raise RuntimeError(f"dovecot did not start on {ADDRESS}:{self.port}:\n"
                           f"{(self.root / 'dovecot.err').read_text(errors='replace')}\n"
                           f"{self.log}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.wait)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=self.wait)
        self.proc = None

    def logins(self) -> list[str]:
        """The log's successful logins ("Login: user=<bob>, method=PLAIN,
        ..., TLS, ...")."""
        return [line for line in self.log.splitlines()
                if f"{self.protocol}-login: Info: Login:" in line]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
