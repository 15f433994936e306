#!/usr/bin/python3
"""bad_pop3_client: a POP3 STLS client with switchable bugs, to prove that
the harness catches each POP3 bug class on the wire.

    bad_pop3_client.py --host H --port P [--cafile FILE] [--servername NAME]
        [--timeout SECONDS] [--bug NAME]...

Without switches it is a correct client that requires TLS: it reads the
+OK greeting, asks CAPA, sends STLS only when CAPA lists it, waits for its
+OK, verifies the certificate and host name, forgets what it read before
TLS, asks CAPA again over TLS, then logs in (AUTH PLAIN when CAPA offers
SASL PLAIN, else USER and PASS), STAT, RETR 1 and QUIT. Exit status 0 when
it logged in over TLS; otherwise one line on stderr and 1 (protocol error,
timeout), 5 (STLS not offered or refused), 7 (the certificate did not
verify) or 8 (another TLS failure).

Standard library only; runs under /usr/bin/python3.
"""

from __future__ import annotations

import base64
import sys

from line_client import Failure, LineClient, main as run_main

PROG = "bad_pop3_client"

BUGS = {
    "plaintext-login": "log in with USER and PASS in plain text when STLS is "
                       "missing or refused, or CAPA refused",
    "early-tls": "start the TLS handshake right after sending STLS, without "
                 "waiting for its +OK",
    "no-verify": "accept any certificate",
    "stale-capabilities": "log in over TLS with the capabilities CAPA gave "
                          "before TLS instead of asking again",
    "buffered-after-tls": "keep what was read with the +OK to STLS and read "
                          "it as answers over TLS",
    "apop-before-tls": "log in with APOP in plain text before STLS, as the "
                       "greeting's timestamp invites",
    "err-greeting": "go on after a -ERR greeting as after +OK",
}

MULTI_LINE = {"CAPA", "RETR", "TOP"}


class Client(LineClient):
    def reply(self, verb: str) -> tuple[bool, list[str]]:
        """One reply: whether it is +OK, and for a multi-line command its
        lines up to the "." (stuffing undone). A SASL challenge is +OK with
        no lines."""
        status = self.line()
        ok = status.upper().startswith("+OK") or status.startswith("+ ")
        if not ok and not status.upper().startswith("-ERR"):
            raise Failure(1, f"not a POP3 reply: {status}")
        lines = []
        if ok and verb in MULTI_LINE and not status.startswith("+ "):
            while (line := self.line()) != ".":
                lines.append(line[1:] if line.startswith(".") else line)
        return ok, lines

    def command(self, text: str, wait: bool = True) -> tuple[bool, list[str]]:
        self.sock.sendall(f"{text}\r\n".encode())
        if not wait:
            return True, []
        return self.reply(text.split(" ", 1)[0].upper())

    def capabilities(self) -> set[str] | None:
        """CAPA's keywords, SASL's mechanisms as SASL=MECH; None when
        refused."""
        ok, lines = self.command("CAPA")
        if not ok:
            return None
        caps = set()
        for line in lines:
            words = line.upper().split()
            if words:
                caps.add(words[0])
                if words[0] == "SASL":
                    caps |= {f"SASL={m}" for m in words[1:]}
        return caps

    def log_in_and_read(self, caps: set[str] | None) -> None:
        if caps is not None and "SASL=PLAIN" in caps:
            plain = base64.b64encode(b"\0bob\0secret").decode()
            ok, _ = self.command(f"AUTH PLAIN {plain}")
        else:
            ok, _ = self.command("USER bob")
            if ok:
                ok, _ = self.command("PASS secret")
        if not ok:
            raise Failure(1, "log-in refused")
        self.read()

    def read(self) -> None:
        ok, _ = self.command("STAT")
        if not ok:
            raise Failure(1, "STAT refused")
        self.command("RETR 1")
        self.command("QUIT")

    def run(self) -> int:
        ok, _ = self.reply("")
        if not ok and "err-greeting" not in self.bugs:
            raise Failure(1, "the server refused the session")
        if "apop-before-tls" in self.bugs:
            ok, _ = self.command("APOP bob " + "0123456789abcdef" * 2)
            if ok:
                self.read()
                return 0
        caps = self.capabilities()
        if caps is None or "STLS" not in caps:
            if "plaintext-login" in self.bugs:
                self.log_in_and_read(caps)
                return 0
            raise Failure(5, "CAPA refused or without STLS")
        if "early-tls" in self.bugs:
            self.command("STLS", wait=False)
            self.tls()
        else:
            ok, _ = self.command("STLS")
            if not ok:
                if "plaintext-login" in self.bugs:
                    self.log_in_and_read(caps)
                    return 0
                raise Failure(5, "STLS refused")
            self.tls()
        if "stale-capabilities" not in self.bugs:
            # With buffered-after-tls, what came behind the +OK to STLS is
            # read first, as the answer to this CAPA.
            caps = self.capabilities()
        self.log_in_and_read(caps)
        return 0


def main() -> int:
    return run_main(PROG, BUGS, Client)


if __name__ == "__main__":
    sys.exit(main())
