#!/usr/bin/python3
"""bad_imap_client: an IMAP STARTTLS client with switchable bugs, to prove
that the harness catches each IMAP bug class on the wire.

    bad_imap_client.py --host H --port P [--cafile FILE] [--servername NAME]
        [--timeout SECONDS] [--bug NAME]...

Without switches it is a correct client that requires TLS: it reads the
greeting, refuses a PREAUTH greeting, asks CAPABILITY, sends STARTTLS only
when offered, waits for the tagged OK, verifies the certificate and host
name, forgets what it read before TLS, asks CAPABILITY again over TLS, then
logs in (AUTHENTICATE PLAIN when offered, else LOGIN unless LOGINDISABLED),
selects INBOX and logs out. Exit status 0 when it logged in over TLS; otherwise one line on stderr
and 1 (protocol error, timeout), 5 (STARTTLS not offered or refused) or 7
(the certificate did not verify), 8 (another TLS failure).

Standard library only; runs under /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import base64
import sys

from line_client import Failure, LineClient, main as run_main

PROG = "bad_imap_client"

BUGS = {
    "plaintext-login": "log in without TLS when STARTTLS is missing or refused",
    "early-tls": "start the TLS handshake right after sending STARTTLS, "
                 "without waiting for the tagged OK",
    "preauth-select": "take a PREAUTH greeting and open INBOX in plain text",
    "no-verify": "accept any certificate",
    "stale-capabilities": "log in over TLS with the capabilities learned "
                          "before TLS (also with the answer to STARTTLS) "
                          "instead of asking again",
    "buffered-after-tls": "keep what was read with the tagged OK to STARTTLS "
                          "and read it as responses over TLS",
    "tls-on-untagged-ok": "take an untagged OK after STARTTLS as its answer "
                          "and start TLS",
}


def announced(lines: list[str]) -> set[str]:
    """The capabilities in untagged CAPABILITY responses and CAPABILITY
    response codes among `lines`, merged."""
    caps = set()
    for line in lines:
        upper = line.upper()
        if upper.startswith("* CAPABILITY "):
            caps |= set(upper.split()[2:])
        elif "[CAPABILITY " in upper:
            caps |= set(upper.split("[CAPABILITY ", 1)[1].split("]", 1)[0].split())
    return caps


class Client(LineClient):
    def __init__(self, args: argparse.Namespace):
        super().__init__(args)
        self.tag = 0

    def command(self, text: str, wait: bool = True,
                continuation: str | None = None) -> tuple[str, list[str]]:
        """Sends a tagged command; returns its tagged status and the lines
        before it and the tagged line itself. Literals in responses are read
        whole; `continuation` answers a "+" continuation request. An
        untagged BYE ends the session (but for LOGOUT, which it answers)."""
        self.tag += 1
        tag = f"b{self.tag}"
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        if not wait:
            return "", []
        untagged = []
        while True:
            line = self.line()
            if line.startswith("+") and continuation is not None:
                self.sock.sendall(f"{continuation}\r\n".encode())
                continue
            if line.upper().startswith("* BYE") and text != "LOGOUT":
                raise Failure(1, f"the server said goodbye: {line}")
            if line.endswith("}") and "{" in line:
                size = int(line[line.rindex("{") + 1:-1])
                while len(self.buffer) < size:
                    data = self.sock.recv(4096)
                    if not data:
                        raise Failure(1, "the server closed the connection")
                    self.buffer += data
                self.buffer = self.buffer[size:]
            if line.startswith(tag + " "):
                return line.split(" ", 2)[1].upper(), untagged + [line]
            untagged.append(line)

    def capabilities(self) -> set[str]:
        """What CAPABILITY answers: every list in its untagged CAPABILITY
        responses and CAPABILITY response codes, merged."""
        status, lines = self.command("CAPABILITY")
        if status != "OK":
            raise Failure(1, f"CAPABILITY: {status}")
        return announced(lines)

    def log_in_and_read(self, caps: set[str]) -> None:
        if "AUTH=PLAIN" in caps:
            plain = base64.b64encode(b"\0bob\0secret").decode()
            status, _ = self.command("AUTHENTICATE PLAIN", continuation=plain)
        elif "LOGINDISABLED" in caps and "plaintext-login" not in self.bugs:
            raise Failure(5, "LOGINDISABLED and no mechanism to log in with")
        else:
            status, _ = self.command("LOGIN bob secret")
        if status != "OK":
            raise Failure(1, f"log-in: {status}")
        self.read()

    def read(self) -> None:
        status, _ = self.command("SELECT INBOX")
        if status != "OK":
            raise Failure(1, f"SELECT: {status}")
        self.command("LOGOUT")

    def run(self) -> int:
        greeting = self.line()
        if greeting.upper().startswith("* PREAUTH"):
            if "preauth-select" in self.bugs:
                self.read()
                return 0
            raise Failure(5, "PREAUTH greeting: no way to start TLS")
        caps = self.capabilities()
        if "STARTTLS" not in caps:
            if "plaintext-login" in self.bugs:
                self.log_in_and_read(caps)
                return 0
            raise Failure(5, "the server does not offer STARTTLS")
        if "early-tls" in self.bugs:
            self.command("STARTTLS", wait=False)
            self.tls()
        elif "tls-on-untagged-ok" in self.bugs:
            self.command("STARTTLS", wait=False)
            while not self.line().upper().split(" ", 2)[1:2] == ["OK"]:
                pass
            self.tls()
        else:
            status, answer = self.command("STARTTLS")
            # What came with the answer is as stale as the rest.
            caps |= announced(answer)
            if status != "OK":
                if "plaintext-login" in self.bugs:
                    self.log_in_and_read(caps)
                    return 0
                raise Failure(5, f"STARTTLS refused: {status}")
            self.tls()
        if "stale-capabilities" not in self.bugs:
            caps = self.capabilities()
        self.log_in_and_read(caps)
        return 0


def main() -> int:
    return run_main(PROG, BUGS, Client)


if __name__ == "__main__":
    sys.exit(main())
