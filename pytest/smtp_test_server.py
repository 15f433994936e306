"""Small SMTP servers for testing SMTP clients from pytest.

- `ScriptedServer`: a thread on 127.0.0.1, port 0, that runs one Python
  function per accepted connection against a `Peer`, the server's end of the
  connection. A script sees every byte: it can send a reply cut anywhere,
  look at what the client sent without consuming it (a ClientHello stays in
  the kernel for the TLS handshake), and watch whether the client sends
  anything within a window. `respond()` plays an ordinary RFC 5321 server for
  the rest of a session.
- `Aiosmtpd`: a real SMTP server (aiosmtpd) with STARTTLS, on port 0.
- `make_pki()`: a test CA, a server certificate signed by it for
  mail.example.test and 127.0.0.1, and a self-signed twin, made with the
  openssl command line.

Every wait has a deadline. WAIT bounds how long a server waits for a client
that should act; it only expires when a test is about to fail. QUIET is the
window in which a correct client must send nothing: a correct client never
sends within it however slow the machine, so a slow machine cannot turn a
pass into a failure. The reverse does not hold: a window can only hide a
fault. A buggy client that waits longer than QUIET before it misbehaves
passes quiet(), so a quiet window proves "nothing within 0.3 s", never
"nothing". Tests wait on events where there are any (pending() waits for
the client's next byte, drain_until_closed() for its close) and use quiet()
only where what is checked is the absence of a byte; the buggy switches
they pair with act at once, so each such test is also shown to fire.
"""

from __future__ import annotations

import base64
import select
import socket
import ssl
import subprocess
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

WAIT = 10.0
QUIET = 0.3
HOST_NAME = "mail.example.test"


# --------------------------------------------------------------------------
# Certificates.
# --------------------------------------------------------------------------

@dataclass
class Pki:
    ca: Path            # what clients trust
    cert: Path          # mail.example.test and 127.0.0.1, signed by ca
    key: Path
    self_signed: Path   # the same names, signed by nobody clients trust
    self_signed_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True,
                   timeout=60)


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=bad_client test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    san = f"subjectAltName=DNS:{HOST_NAME},IP:127.0.0.1"
    (directory / "server.ext").write_text(
        f"{san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n")
    _openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", f"/CN={HOST_NAME}", cwd=directory)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "server.ext",
             "-out", "server.pem", cwd=directory)
    _openssl("req", "-x509", *ec, "-keyout", "self.key", "-out", "self.pem", "-days", "2",
             "-subj", f"/CN={HOST_NAME}", "-addext", san, cwd=directory)
    return Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key",
               directory / "self.pem", directory / "self.key")


def server_context(cert: Path, key: Path, tls10_only: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if tls10_only:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


# --------------------------------------------------------------------------
# The scripted server.
# --------------------------------------------------------------------------

@dataclass
class Message:
    mail_from: str
    rcpt_to: list[str]
    data: str
    over_tls: bool


@dataclass
class Peer:
    """The server's end of one connection.

    In plain text it consumes only whole lines from the socket and leaves the
    rest in the kernel, so that a ClientHello sent early is still there for
    the handshake and `pending()` can show it without taking it."""

    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)  # consumed, not yet a line
    tls: bool = False
    tls_version: str | None = None
    tls_error: str | None = None
    sni: str | None = None
    lines: list[tuple[str, str]] = field(default_factory=list)  # (layer, line)
    sent: list[tuple[str, bytes]] = field(default_factory=list)
    discarded: bytes = b""  # plaintext thrown away at the upgrade
    messages: list[Message] = field(default_factory=list)
    auth: list[tuple[str, str, str]] = field(default_factory=list)  # (layer, user, password)

    @property
    def layer(self) -> str:
        return "tls" if self.tls else "plain"

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.sent.append((self.layer, data))
        self.sock.settimeout(WAIT)
        self.sock.sendall(data)

    def commands(self, layer: str | None = None) -> list[str]:
        return [line for lay, line in self.lines if layer in (None, lay)]

    def _peek(self, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        return self.sock.recv(65536, socket.MSG_PEEK)

    def read_line(self, timeout: float = WAIT, record: bool = True) -> str:
        """One line without its CRLF. EOFError when the client closed,
        TimeoutError (socket.timeout) when nothing came in time."""
        sock_deadline = timeout
        while (end := self.buf.find(b"\n")) < 0:
            if self.tls:
                self.sock.settimeout(sock_deadline)
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("client closed the connection")
                self.buf += data
                continue
            data = self._peek(sock_deadline)
            if not data:
                raise EOFError("client closed the connection")
            newline = data.find(b"\n")
            self.buf += self.sock.recv(len(data) if newline < 0 else newline + 1)
        line = bytes(self.buf[:end + 1]).rstrip(b"\r\n").decode("utf-8", "replace")
        del self.buf[:end + 1]
        if record:
            self.lines.append((self.layer, line))
        return line

    def pending(self, timeout: float = WAIT) -> bytes:
        """What the client has sent and no read has consumed, waiting for at
        least one byte; b"" if the client closed first. Consumes nothing in
        plain text."""
        if self.buf:
            return bytes(self.buf)
        if self.tls:
            self.sock.settimeout(timeout)
            data = self.sock.recv(65536)
            self.buf += data
            return data
        return self._peek(timeout)

    def drain_until_closed(self, timeout: float = WAIT) -> bytes:
        """Reads until the client closes (or resets); returns what came."""
        deadline = time.monotonic() + timeout
        data = bytes(self.buf)
        self.buf.clear()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the client did not close within {timeout}s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                return data
            if not chunk:
                return data
            data += chunk

    def quiet(self, window: float = QUIET) -> bool:
        """True if the client sent nothing (and did not close) within window.
        Only a bound: a byte sent after the window is not seen here."""
        if self.buf or (self.tls and self.sock.pending()):
            return False
        readable, _, _ = select.select([self.sock], [], [], window)
        return not readable

    def starttls(self, context: ssl.SSLContext) -> bool:
        """The server's handshake. Plaintext still buffered is discarded, as
        a server must (CVE-2011-0411). False, with tls_error, on failure."""
        self.discarded, self.buf = bytes(self.buf), bytearray()

        def remember_sni(_sslobj, name, _ctx):
            self.sni = name

        context.sni_callback = remember_sni
        try:
            self.sock.settimeout(WAIT)
            self.sock = context.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.tls_error = str(e)
            return False
        self.tls = True
        self.tls_version = self.sock.version()
        return True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def ehlo_reply(peer: Peer, extensions: list[str]) -> str:
    lines = [f"{HOST_NAME} Hello", *extensions, "OK"]
    return "".join(f"250{'-' if i + 1 < len(lines) else ' '}{line}\r\n"
                   for i, line in enumerate(lines))


def respond(peer: Peer, tls_context: ssl.SSLContext | None = None, *,
            plain_extensions: tuple[str, ...] = ("PIPELINING", "8BITMIME"),
            tls_extensions: tuple[str, ...] = ("PIPELINING", "8BITMIME", "AUTH PLAIN LOGIN"),
            starttls_reply: str = "220 2.0.0 Ready to start TLS",
            ehlo_refused: bool = False, reply_to_data: bool = True,
            message_reply: str = "250 2.0.0 queued") -> None:
    """Plays an RFC 5321 server until QUIT, EOF or a failed handshake.

    STARTTLS is offered when `tls_context` is given and TLS is not up yet; it
    is answered with `starttls_reply` and the handshake runs only when that
    is a 220. `ehlo_refused` answers EHLO 502, as a server that only knows
    HELO. Without `reply_to_data` the session ends after the message's final
    "." with no reply; else the "." is answered with `message_reply`. Messages and credentials are recorded on the peer."""
    mail_from, rcpt_to = None, []
    while True:
        try:
            line = peer.read_line()
        except (EOFError, OSError):
            return
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb == "EHLO" and ehlo_refused and not peer.tls:
            peer.send("502 5.5.1 EHLO not implemented\r\n")
        elif verb == "EHLO":
            extensions = list(tls_extensions if peer.tls else plain_extensions)
            if tls_context is not None and not peer.tls:
                extensions.append("STARTTLS")
            peer.send(ehlo_reply(peer, extensions))
        elif verb == "HELO":
            peer.send(f"250 {HOST_NAME}\r\n")
        elif verb == "STARTTLS" and tls_context is not None and not peer.tls:
            peer.send(f"{starttls_reply}\r\n")
            if starttls_reply.startswith("220") and not peer.starttls(tls_context):
                return
        elif verb == "AUTH":
            mechanism, _, initial = arg.partition(" ")
            if mechanism.upper() == "PLAIN":
                if not initial:
                    peer.send("334 \r\n")
                    initial = peer.read_line()
                try:
                    _, user, password = base64.b64decode(initial).decode().split("\0")
                except ValueError:
                    peer.send("501 5.5.2 cannot decode\r\n")
                    continue
            elif mechanism.upper() == "LOGIN":
                peer.send("334 VXNlcm5hbWU6\r\n")
                user = base64.b64decode(peer.read_line()).decode()
                peer.send("334 UGFzc3dvcmQ6\r\n")
                password = base64.b64decode(peer.read_line()).decode()
            else:
                peer.send("504 5.5.4 mechanism not supported\r\n")
                continue
            peer.auth.append((peer.layer, user, password))
            peer.send("235 2.7.0 Authentication successful\r\n")
        elif verb == "MAIL":
            mail_from, rcpt_to = arg, []
            peer.send("250 2.1.0 OK\r\n")
        elif verb == "RCPT":
            rcpt_to.append(arg)
            peer.send("250 2.1.5 OK\r\n")
        elif verb == "DATA":
            peer.send("354 End data with <CR><LF>.<CR><LF>\r\n")
            data = []
            while (text := peer.read_line(record=False)) != ".":
                data.append(text[1:] if text.startswith(".") else text)
            peer.messages.append(Message(mail_from, rcpt_to, "\r\n".join(data) + "\r\n",
                                         peer.tls))
            if not reply_to_data:
                return
            peer.send(f"{message_reply}\r\n")
        elif verb in ("RSET", "NOOP"):
            peer.send("250 2.0.0 OK\r\n")
        elif verb == "QUIT":
            peer.send("221 2.0.0 Bye\r\n")
            return
        else:
            peer.send("500 5.5.2 command not recognized\r\n")


def greet(peer: Peer) -> None:
    peer.send(f"220 {HOST_NAME} ESMTP test server\r\n")


class ScriptedServer:
    """Listens on 127.0.0.1 port 0; runs scripts[k](peer) for connection k.

    `join()` waits for the scripts and raises what any of them raised."""

    def __init__(self, *scripts):
        self.scripts = scripts
        self.peers: list[Peer] = []
        self.error: BaseException | None = None
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.listener.close()
        for peer in self.peers:
            peer.close()

    def _run(self) -> None:
        try:
            for script in self.scripts:
                self.listener.settimeout(WAIT)
                sock, _ = self.listener.accept()
                peer = Peer(sock)
                self.peers.append(peer)
                try:
                    script(peer)
                finally:
                    peer.close()
        except BaseException as e:  # reported by join()
            self.error = e

    def join(self, timeout: float = 2 * WAIT) -> list[Peer]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the server script did not finish"
        if self.error is not None:
            raise self.error
        return self.peers

    def connection_waiting(self) -> bool:
        """True if a further connection is waiting to be accepted."""
        readable, _, _ = select.select([self.listener], [], [], 0)
        return bool(readable)


# --------------------------------------------------------------------------
# aiosmtpd.
# --------------------------------------------------------------------------

class Aiosmtpd:
    """aiosmtpd on 127.0.0.1, port 0, with STARTTLS when given a context.

    Messages land in `messages` with `over_tls`; `auth` records AUTH attempts
    as (over_tls, user, password)."""

    def __init__(self, tls_context: ssl.SSLContext | None = None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[Message] = []
        self.auth: list[tuple[bool, str, str]] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append(Message(
                    envelope.mail_from, list(envelope.rcpt_tos),
                    envelope.content.decode("utf-8", "replace"),
                    session.ssl is not None))
                return "250 2.0.0 queued"

        def authenticator(server, session, envelope, mechanism, auth_data):
            if isinstance(auth_data, LoginPassword):
                outer.auth.append((session.ssl is not None, auth_data.login.decode(),
                                   auth_data.password.decode()))
            return AuthResult(success=True)

        class PortZeroController(Controller):
            # aiosmtpd 1.4 connects to self.port to check that it is up;
            # learn the port the kernel picked first.
            def _trigger_server(self):
                self.port = self.server.sockets[0].getsockname()[1]
                super()._trigger_server()

        self.controller = PortZeroController(
            Handler(), hostname="127.0.0.1", port=0, server_hostname=HOST_NAME,
            tls_context=tls_context, require_starttls=tls_context is not None,
            authenticator=authenticator, ready_timeout=WAIT)

    @property
    def port(self) -> int:
        return self.controller.port

    def __enter__(self) -> "Aiosmtpd":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
