#!/usr/bin/python3
"""aiosmtpd with STARTTLS, for bench/run.sh: the Python server one would
otherwise script. Prints "READY port=<n>" and serves until SIGTERM.

Usage: bench/aiosmtpd_server.py CHAIN KEY [PORT]
"""

from __future__ import annotations

import asyncio
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


async def main() -> None:
    chain, key = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(chain, key)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Sink(), hostname="mail.example.test", tls_context=context,
                     require_starttls=False, ident="aiosmtpd bench"),
        host="127.0.0.1", port=port, backlog=4096)
    print(f"READY port={server.sockets[0].getsockname()[1]}", flush=True)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
