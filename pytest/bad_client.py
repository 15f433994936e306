#!/usr/bin/python3
"""bad_client: a STARTTLS SMTP client that is correct unless told otherwise.

It delivers one message the way starttls-client (the reference client) does:
whole replies only, STARTTLS only when offered, the handshake only after the
complete 220, no plaintext carried across the upgrade, chain and host name
verified, EHLO again over TLS, AUTH only over TLS, a deadline on every step.

Each `--bug NAME` switch (repeatable) breaks exactly one of those rules at
the point where real clients have broken it, so that starttls-mock's oracles
can be shown to fire. BUGS below lists them; the comment at each `if bug(...)`
says which real bug it imitates.

    bad_client.py --host H --port P [--cafile FILE] [--servername NAME]
        [--from ADDR] [--to ADDR] [--message FILE] [--ehlo NAME]
        [--timeout SECONDS] [--user NAME --password SECRET]
        [--require-tls | --opportunistic] [--bug NAME]... [--verbose]

On success one line on stdout ("delivered: TLSv1.3 ...: 250 ..."); on failure
one line on stderr ("bad_client: certificate-rejected: ...") and the exit
status of the same name, the codes starttls-client documents.

Standard library only; runs under /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import base64
import re
import socket
import ssl
import sys
import time
import warnings

# Exit codes: the same numbers and names as starttls-client (docs/reference-client.md).
EXIT_CODES = {
    "usage-error": 2,           # bad command line or unreadable input file
    "connect-failed": 3,        # no TCP connection
    "protocol-error": 4,        # malformed or unexpected reply
    "tls-unavailable": 5,       # STARTTLS not offered (TLS required) or refused
    "unexpected-plaintext": 6,  # bytes after the 220 reply to STARTTLS
    "certificate-rejected": 7,  # chain or host name verification failed
    "handshake-failed": 8,      # any other TLS handshake failure
    "timeout": 9,               # a connect, reply or handshake deadline passed
    "connection-lost": 10,      # EOF or reset in the middle of the session
    "message-rejected": 11,     # 4xx/5xx to MAIL, RCPT, DATA or end of data
    "auth-failed": 12,          # AUTH refused, or no mechanism offered over TLS
}

BUGS = {
    "no-verify": "accept any certificate: no chain, no host name check",
    "no-hostname-check": "verify the chain but not the host name",
    "tls-before-220": "start the handshake right after sending STARTTLS, "
                      "without reading the reply",
    "tls-on-incomplete-220": "start the handshake as soon as the received bytes "
                             "begin with 220, before the CRLF or the last line",
    "first-line-is-reply": "take the first line of a multi-line reply as the "
                           "whole reply (EHLO excepted)",
    "pipeline-after-starttls": "send EHLO in the same write as STARTTLS",
    "keep-plaintext-buffer": "keep plaintext received after the 220 and read it "
                             "as replies over TLS",
    "no-ehlo-after-tls": "send MAIL FROM straight after the handshake",
    "tls-on-any-2xx": "start the handshake when STARTTLS is answered with any "
                      "2xx, not only 220",
    "unsolicited-220-is-go-ahead": "take a 220 already received before STARTTLS as "
                                   "the go-ahead and start TLS without sending "
                                   "STARTTLS",
    "starttls-again": "send STARTTLS again over TLS when the EHLO reply over "
                      "TLS offers it",
    "plaintext-fallback": "go on in plain text when STARTTLS is missing or refused, "
                          "reconnect in plain text when the handshake fails",
    "auth-before-tls": "send AUTH PLAIN with test credentials before STARTTLS",
    "no-timeouts": "wait forever for connect, replies and the handshake",
    "success-after-truncated-data": "report success when the connection closes "
                                    "after the final '.' without a reply",
    "accept-tls10": "allow TLS 1.0 at OpenSSL security level 0",
    "ignore-greeting-code": "go on after a greeting of any code, as after 220",
    "trust-on-retry": "on the new connection after a 4xx, accept any certificate, "
                      "as if the first connection's trust carried over",
}

# The credentials auth-before-tls leaks; a test server can recognise them.
LEAKED_USER = "bad-client"
LEAKED_PASSWORD = "plaintext-secret"

READ_SIZE = 4096          # big reads, as most clients do; see StartTls
MAX_LINE = 64 * 1024      # a reply line longer than this is a protocol error
PROG = "bad_client"


class Failure(Exception):
    """Ends the session; `name` is a key of EXIT_CODES."""

    def __init__(self, name: str, message: str, eof: bool = False,
                 temporary: bool = False):
        super().__init__(message)
        self.name = name
        self.code = EXIT_CODES[name]
        self.eof = eof  # the peer closed or reset the connection
        # A 4xx to the transaction: worth one more try on a new connection.
        self.temporary = temporary


class Reconnect(Exception):
    """plaintext-fallback: the handshake failed; start over without TLS."""

    def __init__(self, cause: Failure):
        super().__init__(str(cause))
        self.cause = cause


class Reply:
    def __init__(self, code: int, lines: list[str]):
        self.code = code
        self.lines = lines  # the text after "NNN-" / "NNN "

    def __str__(self) -> str:
        text = " / ".join(line for line in self.lines if line)
        return f"{self.code} {text}".rstrip()


class Options:
    """The parsed command line, plus the set of bugs switched on."""

    def __init__(self, ns: argparse.Namespace):
        self.__dict__.update(vars(ns))
        self.bugs = frozenset(ns.bugs or ())
        self.servername = ns.servername or ns.host

    def bug(self, name: str) -> bool:
        assert name in BUGS, name
        return name in self.bugs


# --------------------------------------------------------------------------
# The connection: a socket (plain, later TLS), a receive buffer, deadlines.
# --------------------------------------------------------------------------

class Connection:
    def __init__(self, sock: socket.socket, opts: Options, retry: bool = False):
        self.sock = sock
        self.opts = opts
        self.retry = retry  # the new connection after a 4xx
        self.buf = bytearray()  # received, not yet consumed
        self.tls: str | None = None  # "TLSv1.3 TLS_AES_256_GCM_SHA384" once up
        # True while the server waits for a command on a connection we still
        # trust, i.e. while a QUIT would be understood.
        self.can_quit = False

    # Deadlines ------------------------------------------------------------

    def deadline(self) -> float | None:
        if self.opts.bug("no-timeouts"):
            # Imitates clients with no read timeout at all (blocking reads on
            # a socket without SO_RCVTIMEO): a server that stalls hangs them.
            return None
        return time.monotonic() + self.opts.timeout

    def _arm(self, deadline: float | None, what: str) -> None:
        if deadline is None:
            self.sock.settimeout(None)
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure("timeout", f"{what}: no answer within {self.opts.timeout:g}s")
        self.sock.settimeout(left)

    # Bytes ----------------------------------------------------------------

    def log(self, line: str) -> None:
        if self.opts.verbose:
            print(line, file=sys.stderr)

    def send(self, data: bytes, what: str, more: bool = False) -> None:
        """more: the next send follows at once; the kernel keeps these bytes
        to go out in the same segment (MSG_MORE)."""
        for line in data.decode("utf-8", "replace").splitlines():
            self.log(f"C: {line}")
        self.can_quit = False
        try:
            self._arm(self.deadline(), what)
            self.sock.sendall(data, socket.MSG_MORE if more else 0)
        except socket.timeout:
            raise Failure("timeout", f"{what}: send did not complete within "
                                     f"{self.opts.timeout:g}s") from None
        except (OSError, ssl.SSLError) as e:
            raise Failure("connection-lost", f"{what}: send failed: {e}", eof=True) from None

    def fill(self, deadline: float | None, what: str) -> None:
        """One read from the socket into the buffer; at least one byte."""
        try:
            self._arm(deadline, what)
            data = self.sock.recv(READ_SIZE)
        except socket.timeout:
            raise Failure("timeout", f"{what}: no answer within "
                                     f"{self.opts.timeout:g}s{self._partial()}") from None
        except ssl.SSLError as e:
            raise Failure("connection-lost", f"{what}: TLS error: {e}", eof=True) from None
        except OSError as e:
            raise Failure("connection-lost", f"{what}: {e}{self._partial()}", eof=True) from None
        if not data:
            raise Failure("connection-lost",
                          f"{what}: connection closed by the server{self._partial()}",
                          eof=True)
        self.buf += data

    def _partial(self) -> str:
        return f" (after {bytes(self.buf)!r})" if self.buf else ""

    def read_line(self, deadline: float | None, what: str) -> str:
        """Consumes one line (CRLF or bare LF) from the buffer, reading more
        only while no complete line is buffered."""
        while (end := self.buf.find(b"\n")) < 0:
            if len(self.buf) > MAX_LINE:
                raise Failure("protocol-error", f"{what}: line longer than {MAX_LINE} bytes")
            self.fill(deadline, what)
        line = bytes(self.buf[:end + 1])
        del self.buf[:end + 1]
        return line.rstrip(b"\r\n").decode("utf-8", "replace")

    # Replies --------------------------------------------------------------

    def read_reply(self, what: str, whole: bool = False) -> Reply:
        """Reads one complete reply: "NNN-text" lines, then "NNN text".

        `whole` forces the correct reading even with first-line-is-reply
        (for EHLO, whose every line the client needs)."""
        deadline = self.deadline()
        code = None
        lines: list[str] = []
        while True:
            line = self.read_line(deadline, what)
            self.log(f"S: {line}")
            m = re.fullmatch(r"([2-5][0-9][0-9])([ -]?)(.*)", line, re.S)
            if m is None or (m.group(2) == "" and m.group(3) != ""):
                raise Failure("protocol-error", f"{what}: malformed reply line {line!r}")
            if code is not None and int(m.group(1)) != code:
                raise Failure("protocol-error",
                              f"{what}: reply code changed from {code} to {m.group(1)}")
            code = int(m.group(1))
            lines.append(m.group(3))
            if m.group(2) != "-":
                break
            if self.opts.bug("first-line-is-reply") and not whole:
                # Imitates clients that read a reply with a single readline()
                # and check its code: "220-" is taken for the whole greeting,
                # "220-" to STARTTLS starts the handshake early, and the
                # remaining lines are read as the replies to later commands.
                break
        self.can_quit = True
        return Reply(code, lines)

    def command(self, line: str, what: str, whole: bool = False) -> Reply:
        self.send(f"{line}\r\n".encode(), what)
        return self.read_reply(f"reply to {what}", whole=whole)

    # TLS --------------------------------------------------------------------

    def context(self) -> ssl.SSLContext:
        # trust-on-retry: imitates clients whose trust decision (a user's
        # exception, a pinned fingerprint) outlives the connection it was
        # made for, so a later, different certificate goes unchecked.
        return tls_context(self.opts,
                           unchecked=self.retry and self.opts.bug("trust-on-retry"))

    def upgrade(self, context: ssl.SSLContext | None = None) -> None:
        """Runs the client handshake on the connected socket (with context,
        if given: one built ahead)."""
        opts = self.opts
        context = context or self.context()
        self.log("-- TLS handshake --")
        try:
            self._arm(self.deadline(), "TLS handshake")
            # server_hostname is the name verified and sent as SNI; the ssl
            # module sends no SNI when it is an IP literal (RFC 6066 section 3)
            # and then checks it against the certificate's IP addresses.
            self.sock = context.wrap_socket(self.sock, server_hostname=opts.servername)
        except ssl.SSLCertVerificationError as e:
            raise Failure("certificate-rejected",
                          f"certificate rejected: {e.verify_message or e.reason}") from None
        except socket.timeout:
            raise Failure("timeout", f"TLS handshake: not done within "
                                     f"{opts.timeout:g}s") from None
        except ssl.SSLError as e:
            raise Failure("handshake-failed", f"TLS handshake failed: {e}") from None
        except OSError as e:
            raise Failure("handshake-failed", f"TLS handshake failed: {e}") from None
        self.tls = f"{self.sock.version()} {self.sock.cipher()[0]}"
        self.log(f"-- TLS established: {self.tls} --")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def tls_context(opts: Options, unchecked: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, host name checked
    if opts.cafile:
        context.load_verify_locations(cafile=opts.cafile)
    else:
        context.load_default_certs()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if opts.bug("accept-tls10"):
        # Imitates clients built against old defaults or configured for
        # "compatibility": TLS 1.0 and SHA-1/weak ciphers still accepted.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if opts.bug("no-hostname-check"):
        # Imitates clients that verify the chain but never compare the name
        # (OpenSSL used without X509_VERIFY_PARAM_set1_host; many STARTTLS
        # clients in the 2021 "Why TLS is better without STARTTLS" study).
        context.check_hostname = False
    if opts.bug("no-verify") or unchecked:
        # Imitates the most common STARTTLS client bug: SSL_VERIFY_NONE, or
        # "ssl.wrap_socket()" without a context; any man in the middle wins.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


# --------------------------------------------------------------------------
# The SMTP dialogue.
# --------------------------------------------------------------------------

def connect(opts: Options, retry: bool = False) -> Connection:
    timeout = None if opts.bug("no-timeouts") else opts.timeout
    try:
        sock = socket.create_connection((opts.host, opts.port), timeout=timeout)
    except socket.timeout:
        raise Failure("timeout", f"connect to {opts.host}:{opts.port}: "
                                 f"not connected within {opts.timeout:g}s") from None
    except OSError as e:
        raise Failure("connect-failed", f"connect to {opts.host}:{opts.port}: {e}") from None
    conn = Connection(sock, opts, retry)
    conn.log(f"-- connected to {opts.host}:{opts.port} --")
    return conn


def ehlo(conn: Connection, opts: Options) -> dict[str, str]:
    """EHLO (HELO when EHLO is refused before TLS); returns the extensions."""
    reply = conn.command(f"EHLO {opts.ehlo}", "EHLO", whole=True)
    if reply.code == 250:
        extensions = {}
        for line in reply.lines[1:]:  # the first line is the greeting
            keyword, _, params = line.partition(" ")
            extensions[keyword.upper()] = params
        return extensions
    if reply.code >= 500 and conn.tls is None:
        # RFC 5321 section 3.2: an old server; HELO offers no extensions, so
        # no STARTTLS either.
        helo = conn.command(f"HELO {opts.ehlo}", "HELO")
        if helo.code == 250:
            return {}
        raise Failure("protocol-error", f"EHLO and HELO refused: {reply}; {helo}")
    raise Failure("protocol-error", f"EHLO refused: {reply}")


def starttls(conn: Connection, opts: Options) -> None:
    """Sends STARTTLS, reads the 220 and runs the handshake."""
    if conn.buf and opts.bug("unsolicited-220-is-go-ahead") \
            and conn.buf.startswith(b"220 "):
        # Imitates Postfix's smtp client as seen on an unsolicited 220: the
        # reply it read is taken as the answer to a STARTTLS still in its
        # output buffer, which never goes out; the ClientHello does.
        conn.read_reply("reply to STARTTLS")
        conn.can_quit = False
        conn.upgrade()
        return
    if conn.buf:
        # A reply already waiting (a 220 sent before the client asked) would
        # be taken as the answer to STARTTLS, and the handshake would start
        # before the server's real 220; the reference client refuses too.
        conn.can_quit = False
        raise Failure("unexpected-plaintext",
                      f"server sent a reply nobody asked for before STARTTLS: "
                      f"{bytes(conn.buf)!r}")
    early_context = None
    if opts.bug("pipeline-after-starttls"):
        # Imitates clients that pipeline across STARTTLS (RFC 3207 section 4.2
        # forbids it): the EHLO goes out in plain text with the STARTTLS; the
        # client sends it again over TLS, assuming the server ignores the
        # first (a CVE-2011-0411 server would not).
        conn.send(f"STARTTLS\r\nEHLO {opts.ehlo}\r\n".encode(), "STARTTLS")
    elif opts.bug("tls-before-220"):
        # Imitates clients that treat STARTTLS as "switch now" and never read
        # its reply: the ClientHello follows STARTTLS at once, and the
        # server's 220 arrives in the middle of the handshake. The context is
        # built first and STARTTLS is held for the ClientHello's segment
        # (MSG_MORE), so the server reads both before it answers: otherwise,
        # on a busy machine, the 220 could leave before the ClientHello
        # arrives, and the wire would not show the bug (catalogue_flips saw
        # it once in 20 x 254 runs).
        early_context = conn.context()
        conn.send(b"STARTTLS\r\n", "STARTTLS", more=True)
    else:
        conn.send(b"STARTTLS\r\n", "STARTTLS")

    if opts.bug("tls-before-220"):
        pass
    elif opts.bug("tls-on-incomplete-220"):
        # Imitates clients that look at the first bytes of what arrived
        # ("220") instead of a complete reply: a 220 without its CRLF, or a
        # "220-" continuation, starts the handshake. What was read is taken
        # as the reply and dropped.
        deadline = conn.deadline()
        while len(conn.buf) < 3:
            conn.fill(deadline, "reply to STARTTLS")
        if conn.buf.startswith(b"220"):
            conn.log(f"S: {bytes(conn.buf)!r} (taken as the 220)")
            conn.buf.clear()
        else:
            check_starttls_reply(conn.read_reply("reply to STARTTLS"))
    else:
        reply = conn.read_reply("reply to STARTTLS")
        if not (opts.bug("tls-on-any-2xx") and 200 <= reply.code < 300):
            # tls-on-any-2xx imitates clients that check the reply class
            # only: a 250 to STARTTLS starts the handshake.
            check_starttls_reply(reply)

    # Until the handshake is done the server expects a ClientHello, not QUIT.
    conn.can_quit = False
    if conn.buf and not opts.bug("keep-plaintext-buffer"):
        # Anything already received after the 220 was sent in plain text, by
        # the server or by a man in the middle; a client that requires TLS
        # must not read it as if it came over TLS. Aborting is the safe
        # choice (discarding would be safe too).
        raise Failure("unexpected-plaintext",
                      f"server sent plaintext after its 220 reply to STARTTLS: "
                      f"{bytes(conn.buf)!r}")
    # keep-plaintext-buffer: imitates curl CVE-2021-22947 and Mutt
    # CVE-2020-14954: the plaintext read-ahead buffer survives the upgrade, so
    # bytes injected after the 220 are read as the first replies over TLS.
    try:
        conn.upgrade(early_context)
    except Failure as failure:
        if opts.bug("plaintext-fallback"):
            # Imitates "opportunistic" clients that retry without TLS after a
            # failed handshake: a man in the middle who breaks the handshake
            # (or presents a bad certificate) gets the mail in plain text.
            raise Reconnect(failure) from None
        raise


def check_starttls_reply(reply: Reply) -> None:
    if reply.code != 220:
        raise Failure("tls-unavailable", f"server answered STARTTLS with {reply}")


def authenticate(conn: Connection, extensions: dict[str, str],
                 user: str, password: str) -> None:
    """AUTH with a mechanism from `extensions` (the post-TLS list)."""
    mechanisms = extensions.get("AUTH", "").upper().split()
    if "PLAIN" in mechanisms:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        reply = conn.command(f"AUTH PLAIN {token}", "AUTH")
    elif "LOGIN" in mechanisms:
        reply = conn.command("AUTH LOGIN", "AUTH")
        for value in (user, password):
            if reply.code != 334:
                break
            reply = conn.command(base64.b64encode(value.encode()).decode(), "AUTH LOGIN")
    else:
        raise Failure("auth-failed",
                      f"no supported AUTH mechanism offered: {mechanisms or 'none'}")
    if reply.code != 235:
        raise Failure("auth-failed", f"authentication rejected: {reply}")


def leak_credentials(conn: Connection) -> None:
    # auth-before-tls: imitates clients that log in as soon as EHLO is
    # answered (or because the pre-TLS EHLO offered AUTH), before STARTTLS:
    # the password crosses the network in clear. The reply is ignored.
    token = base64.b64encode(f"\0{LEAKED_USER}\0{LEAKED_PASSWORD}".encode()).decode()
    reply = conn.command(f"AUTH PLAIN {token}", "AUTH")
    if reply.code == 334:
        conn.command("*", "AUTH cancel")


def check(reply: Reply, expected_class: int, step: str) -> None:
    if reply.code // 100 == expected_class:
        return
    if reply.code >= 400:
        raise Failure("message-rejected", f"{step} rejected: {reply}",
                      temporary=reply.code < 500)
    raise Failure("protocol-error", f"unexpected reply to {step}: {reply}")


def encode_data(message: bytes) -> bytes:
    """CRLF line ends, dot-stuffing, and the final "." line."""
    lines = re.split(rb"\r\n|\r|\n", message)
    if lines and lines[-1] == b"":
        lines.pop()
    out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
    return out + b".\r\n"


def dialogue(conn: Connection, opts: Options, message: bytes, plain_only: bool) -> str:
    """One SMTP session; returns the summary line printed on success.

    `plain_only` is plaintext-fallback's second connection: no STARTTLS."""
    greeting = conn.read_reply("greeting")
    if greeting.code != 220 and not opts.bug("ignore-greeting-code"):
        raise Failure("protocol-error", f"server refused the session: {greeting}")

    extensions = ehlo(conn, opts)
    if opts.bug("auth-before-tls"):
        leak_credentials(conn)

    if plain_only:
        conn.log("-- plaintext-fallback: second connection, no STARTTLS --")
    elif "STARTTLS" in extensions:
        try:
            starttls(conn, opts)
        except Failure as failure:
            if failure.name == "tls-unavailable" and opts.bug("plaintext-fallback"):
                # Imitates clients that treat a refused STARTTLS (454, 502, a
                # stripped 220) as "no TLS here" and carry on in plain text.
                conn.log(f"-- plaintext-fallback: {failure} --")
            else:
                raise
        if conn.tls is not None:
            if opts.bug("no-ehlo-after-tls"):
                # Imitates clients that keep the pre-TLS EHLO state (RFC 3207
                # section 4.2 says to discard it) and go straight on.
                pass
            else:
                extensions = ehlo(conn, opts)
            if opts.bug("starttls-again") and "STARTTLS" in extensions:
                # Imitates clients that decide on STARTTLS from the last EHLO
                # reply alone, without remembering that TLS is already on
                # (RFC 3207 section 4.2: a server must not offer it again,
                # and a client must not send it again).
                again = conn.command("STARTTLS", "second STARTTLS")
                if again.code == 220:
                    raise Failure("protocol-error", f"220 to STARTTLS over TLS: {again}")
    elif opts.bug("plaintext-fallback"):
        # Imitates clients whose "require TLS" only means "use it if offered":
        # a man in the middle strips STARTTLS from the EHLO reply.
        conn.log("-- plaintext-fallback: STARTTLS not offered --")
    elif opts.require_tls:
        raise Failure("tls-unavailable", "server does not offer STARTTLS and TLS is required")
    else:
        conn.log("-- STARTTLS not offered; continuing in plain text --")

    if opts.user is not None:
        if conn.tls is None and not opts.bug("plaintext-fallback"):
            raise Failure("tls-unavailable", "refusing to send credentials without TLS")
        authenticate(conn, extensions, opts.user, opts.password or "")

    check(conn.command(f"MAIL FROM:<{opts.sender}>", "MAIL FROM"), 2, "MAIL FROM")
    check(conn.command(f"RCPT TO:<{opts.recipient}>", "RCPT TO"), 2, "RCPT TO")
    check(conn.command("DATA", "DATA"), 3, "DATA")
    conn.send(encode_data(message), "message")
    try:
        final = conn.read_reply("reply to end of data")
    except Failure as failure:
        if failure.eof and opts.bug("success-after-truncated-data"):
            # Imitates clients that take "the server hung up after the
            # message" as delivery; the message may well be lost.
            return f"{conn.tls or 'plaintext'}: (connection closed, no reply)"
        raise
    check(final, 2, "end of data")
    return f"{conn.tls or 'plaintext'}: {final}"


def quit_politely(conn: Connection) -> None:
    if not conn.can_quit:
        return
    try:
        conn.command("QUIT", "QUIT")
    except Failure as failure:
        conn.log(f"-- ignored: {failure} --")


def session(opts: Options, message: bytes, plain_only: bool = False,
            retry: bool = False) -> str:
    conn = connect(opts, retry)
    try:
        result = dialogue(conn, opts, message, plain_only)
        quit_politely(conn)
        return result
    except Failure:
        quit_politely(conn)
        raise
    finally:
        conn.close()


def attempt(opts: Options, message: bytes, retry: bool = False) -> str:
    try:
        return session(opts, message, retry=retry)
    except Reconnect as reconnect:
        if opts.verbose:
            print(f"-- plaintext-fallback: {reconnect.cause}; reconnecting --",
                  file=sys.stderr)
        return session(opts, message, plain_only=True, retry=retry)


def deliver(opts: Options, message: bytes) -> str:
    """One attempt, and one more on a new connection after a 4xx to the
    transaction, as MTAs retry deferred mail: the new connection gets the
    same checks (trust-on-retry drops them)."""
    try:
        return attempt(opts, message)
    except Failure as failure:
        if not failure.temporary:
            raise
        if opts.verbose:
            print(f"-- {failure}; trying again on a new connection --", file=sys.stderr)
        return attempt(opts, message, retry=True)


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2, like starttls-client
        raise Failure("usage-error", message)


def default_message(opts: Options) -> bytes:
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    return (f"Date: {date}\r\n"
            f"From: <{opts.sender}>\r\n"
            f"To: <{opts.recipient}>\r\n"
            f"Subject: bad_client test\r\n"
            f"Message-ID: <{time.time_ns()}@bad-client.test>\r\n"
            f"\r\n"
            f"This message was sent by bad_client ({', '.join(sorted(opts.bugs)) or 'no bugs'}).\r\n"
            ).encode()


def parse(argv: list[str]) -> Options:
    bug_help = "; ".join(f"{name}: {what}" for name, what in BUGS.items())
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--cafile", help="PEM file of trusted CAs (default: system store)")
    p.add_argument("--servername", help="name to verify and send as SNI (default: --host)")
    p.add_argument("--from", dest="sender", default="sender@example.test")
    p.add_argument("--to", dest="recipient", default="recipient@example.test")
    p.add_argument("--message", help="RFC 5322 message file (default: a generated one)")
    p.add_argument("--ehlo", default="localhost")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds for the connect, each reply and the handshake")
    p.add_argument("--user", help="AUTH over TLS with this user (PLAIN or LOGIN)")
    p.add_argument("--password")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--require-tls", dest="require_tls", action="store_true", default=True,
                     help="fail unless STARTTLS succeeds (the default)")
    tls.add_argument("--opportunistic", dest="require_tls", action="store_false",
                     help="plain text when the server does not offer STARTTLS")
    p.add_argument("--bug", dest="bugs", action="append", choices=sorted(BUGS), metavar="NAME",
                   help=bug_help)
    p.add_argument("--verbose", action="store_true", help="the transcript on stderr")
    ns = p.parse_args(argv)
    if not 0 < ns.port < 65536:
        raise Failure("usage-error", f"--port {ns.port} out of range")
    if not ns.timeout > 0:
        raise Failure("usage-error", "--timeout must be positive")
    for what in ("sender", "recipient", "ehlo", "user", "password"):
        value = getattr(ns, what)
        if value is not None and re.search(r"[\r\n]", value):
            raise Failure("usage-error", f"{what} contains a line break: {value!r}")
    return Options(ns)


def main(argv: list[str]) -> int:
    try:
        opts = parse(argv)
        if opts.message:
            try:
                with open(opts.message, "rb") as f:
                    message = f.read()
            except OSError as e:
                raise Failure("usage-error", f"cannot read {opts.message}: {e}") from None
        else:
            message = default_message(opts)
        summary = deliver(opts, message)
    except Failure as failure:
        text = str(failure).replace("\n", " ")
        print(f"{PROG}: {failure.name}: {text}", file=sys.stderr)
        return failure.code
    print(f"delivered: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
