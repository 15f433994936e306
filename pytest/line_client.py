"""What the misbehaving IMAP and POP3 clients share: a line-oriented
connection with a deadline on every read, the TLS upgrade with its two
switchable bugs (no-verify, buffered-after-tls), and the command line.

Standard library only; runs under /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import time
from typing import Callable


class Failure(Exception):
    """Ends the run: `status` is the exit status, the message its line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class LineClient:
    """A connection to args.host:args.port; every wait is bounded by
    args.timeout. Subclasses speak the protocol; `bugs` holds the --bug
    switches."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.bugs = set(args.bugs)
        self.sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
        self.buffer = b""

    def line(self) -> str:
        """The server's next line, without its CRLF."""
        deadline = time.monotonic() + self.args.timeout
        while b"\r\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(1, "timeout waiting for the server")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                raise Failure(1, "timeout waiting for the server") from None
            if not data:
                raise Failure(1, "the server closed the connection")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def tls(self) -> None:
        """The TLS handshake on this connection: exit 7 for a certificate
        that does not verify (unless no-verify), 8 for any other failure.
        What arrived before it is dropped (unless buffered-after-tls)."""
        ctx = ssl.create_default_context(cafile=self.args.cafile)
        if "no-verify" in self.bugs:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.sock.settimeout(self.args.timeout)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_hostname=self.args.servername)
        except ssl.SSLCertVerificationError as e:
            raise Failure(7, f"certificate rejected: {e.verify_message}") from None
        except (ssl.SSLError, OSError) as e:
            raise Failure(8, f"TLS handshake failed: {e}") from None
        if "buffered-after-tls" not in self.bugs:
            self.buffer = b""


def main(prog: str, bugs: dict[str, str],
         client: Callable[[argparse.Namespace], LineClient]) -> int:
    """Parses the command line (--host, --port, --cafile, --servername,
    --timeout, --bug NAME...), runs client(args).run() and turns a Failure
    or a socket error into its line on stderr and exit status."""
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--cafile")
    p.add_argument("--servername")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--bug", dest="bugs", action="append", default=[], choices=sorted(bugs))
    args = p.parse_args()
    args.servername = args.servername or args.host
    try:
        return client(args).run()
    except Failure as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return e.status
    except OSError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
