#!/usr/bin/python3
"""poplib_client: Python's poplib as a POP3 STLS client that requires TLS.

    poplib_client.py --host H --port P [--cafile FILE] [--servername NAME]
        [--timeout SECONDS] [--user NAME] [--password SECRET]

It does what an application using poplib correctly does: stls() with a
verifying context (ssl.create_default_context: chain and host name checked
against --servername; stls() asks CAPA first and refuses to go on when STLS
is not listed), then USER and PASS, STAT, RETR of the first message and
QUIT. Without a context, poplib's stls() would verify nothing. Exit status 0
only when it logged in and retrieved; otherwise one line on stderr and:

    1  any other failure (protocol error, connection lost, timeout, ...)
    5  STLS not offered or refused
    7  the certificate did not verify
    8  any other TLS handshake failure

Standard library only; runs under /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import poplib
import socket
import ssl
import sys

PROG = "poplib_client"


def session(args: argparse.Namespace) -> int:
    context = ssl.create_default_context(cafile=args.cafile)
    pop = poplib.POP3(args.host, args.port, timeout=args.timeout)
    # poplib verifies the name it connected to; the client was told another.
    pop.host = args.servername or args.host
    try:
        pop.stls(context=context)
    except poplib.error_proto as e:
        if "STLS" in str(e) or "-ERR" in str(e):
            print(f"{PROG}: STLS not offered or refused: {e}", file=sys.stderr)
            return 5
        raise
    pop.user(args.user)
    pop.pass_(args.password)
    count, _ = pop.stat()
    if count < 1:
        print(f"{PROG}: the maildrop is empty", file=sys.stderr)
        return 1
    _, lines, octets = pop.retr(1)
    pop.quit()
    print(f"retrieved message 1 of {count}: {octets} octets, {len(lines)} lines")
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
    except (poplib.error_proto, OSError, socket.timeout, EOFError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
