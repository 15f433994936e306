#!/usr/bin/python3
"""aiosmtplib_client: aiosmtplib (Debian's python3-aiosmtplib) sending one
message the way its documentation shows, with STARTTLS required.

    aiosmtplib_client.py --host NAME --port P --cafile FILE [--timeout S]
        [--from ADDR] [--to ADDR] < message

The client connects to --host by name and verifies that name (the adapter
has the harness map it to 127.0.0.1), trusts only --cafile, and reads the
RFC 5322 message from standard input. Exit status 0 only when aiosmtplib
reports the message sent; otherwise one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import ssl
import sys

import aiosmtplib


async def send(args: argparse.Namespace, message: bytes) -> None:
    context = ssl.create_default_context(cafile=args.cafile)
    await aiosmtplib.send(email.message_from_bytes(message), hostname=args.host,
                          port=args.port, start_tls=True, tls_context=context,
                          timeout=args.timeout, sender=args.sender,
                          recipients=[args.recipient])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--from", dest="sender", default="sender@example.test")
    p.add_argument("--to", dest="recipient", default="recipient@example.test")
    args = p.parse_args()
    try:
        asyncio.run(send(args, sys.stdin.buffer.read()))
    except Exception as e:  # every failure is one line and exit status 1
        print(f"aiosmtplib_client: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print("sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
