#!/usr/bin/python3
"""imaplib_client: Python's imaplib as an IMAP STARTTLS client that requires
TLS.

    imaplib_client.py --host H --port P [--cafile FILE] [--servername NAME]
        [--timeout SECONDS] [--user NAME] [--password SECRET]

It does what an application using imaplib correctly does: STARTTLS with a
verifying context (ssl.create_default_context: chain and host name checked
against --servername; imaplib asks for the capabilities again after it),
then LOGIN, SELECT INBOX, FETCH of the first message and LOGOUT. It refuses
to go on when STARTTLS is missing or refused. Exit status 0 only when it
logged in and fetched; otherwise one line on stderr and:

    1  any other failure (protocol error, connection lost, timeout, ...)
    5  STARTTLS not offered or refused
    7  the certificate did not verify
    8  any other TLS handshake failure

Standard library only; runs under /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import imaplib
import socket
import ssl
import sys

PROG = "imaplib_client"


def session(args: argparse.Namespace) -> int:
    context = ssl.create_default_context(cafile=args.cafile)
    imap = imaplib.IMAP4(args.host, args.port, timeout=args.timeout)
    # imaplib verifies the name it connected to; the client was told another.
    imap.host = args.servername or args.host
    if "STARTTLS" not in imap.capabilities:
        print(f"{PROG}: the server does not offer STARTTLS", file=sys.stderr)
        imap.logout()
        return 5
    try:
        imap.starttls(ssl_context=context)
    except imaplib.IMAP4.error as e:
        print(f"{PROG}: STARTTLS refused: {e}", file=sys.stderr)
        return 5
    imap.login(args.user, args.password)
    typ, _ = imap.select("INBOX")
    if typ != "OK":
        print(f"{PROG}: SELECT INBOX: {typ}", file=sys.stderr)
        return 1
    typ, data = imap.fetch("1", "(RFC822)")
    if typ != "OK" or not data or not isinstance(data[0], tuple):
        print(f"{PROG}: FETCH 1: {typ}", file=sys.stderr)
        return 1
    imap.logout()
    print(f"fetched {len(data[0][1])} bytes")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(prog=PROG)
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--cafile")
    p.add_argument("--servername")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--user", default="bob")
    p.add_argument("--password", default="secret")
    args = p.parse_args()
    try:
        return session(args)
    except ssl.SSLCertVerificationError as e:
        print(f"{PROG}: certificate rejected: {e.verify_message}", file=sys.stderr)
        return 7
    except ssl.SSLError as e:
        print(f"{PROG}: TLS handshake failed: {e}", file=sys.stderr)
        return 8
    except (imaplib.IMAP4.error, OSError, socket.timeout, EOFError) as e:
        print(f"{PROG}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
