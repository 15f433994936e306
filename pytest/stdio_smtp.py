#!/usr/bin/python3
"""stdio_smtp: sends one message through a command that speaks SMTP on its
standard input and output once TLS is up (openssl s_client -starttls smtp
-quiet), one command at a time, waiting for each reply.

    stdio_smtp.py --timeout S --from A --to B --message FILE -- COMMAND...

After the command's own STARTTLS dialog it sends EHLO, MAIL, RCPT, DATA,
the message and QUIT, each after the complete reply to the one before,
and stops at the first reply it did not want. Exit status: 0 when the
message was accepted, 1 when a reply refused it or the command ended
first, 9 when a reply did not come within S seconds (the command is
killed). Standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import subprocess
import sys
import time

PROG = "stdio_smtp"


class Timeout(Exception):
    pass


class Closed(Exception):
    pass


class Peer:
    def __init__(self, proc: subprocess.Popen, timeout: float):
        self.proc = proc
        self.timeout = timeout
        self.buf = b""
        self.sel = selectors.DefaultSelector()
        self.sel.register(proc.stdout, selectors.EVENT_READ)

    def line(self, deadline: float) -> bytes:
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                raise Timeout()
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise Closed(self.buf.decode(errors="replace"))
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def reply(self) -> tuple[int, str]:
        """A complete reply: lines up to the one with a blank after the code."""
        deadline = time.monotonic() + self.timeout
        lines = []
        while True:
            line = self.line(deadline).decode(errors="replace")
            if not re.match(r"^\d{3}[ -]", line + " "):
                continue  # s_client's own chatter, if any
            lines.append(line)
            if len(line) == 3 or line[3] == " ":
                return int(line[:3]), "\n".join(lines)

    def send(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise Closed("the command stopped reading")


def drive(prog: str, command: list[str], timeout: float, dialogue) -> int:
    """Runs `command` and `dialogue(peer)` over its standard input and
    output; returns the dialogue's status (0 or 1), 9 when a reply did not
    come within `timeout` (the command is killed), or 1 when the command
    ended first. Never leaves the command running."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    peer = Peer(proc, timeout)
    status = 1
    try:
        status = dialogue(peer)
    except Timeout:
        print(f"{prog}: no reply within {timeout:g}s", file=sys.stderr)
        status = 9
    except Closed as e:
        print(f"{prog}: {command[0]} ended: {str(e)[-200:]!r}", file=sys.stderr)
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            proc.wait(timeout=1 if status != 9 else 0.01)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return status


def log_in_step_by_step(prog: str, description: str, argv: list[str], steps, answer,
                        accepted, done: str, farewell: str) -> int:
    """The main of the mailbox wrappers (stdio_imap, stdio_pop3): parses
    --timeout, --user, --password and the command, then over the command's
    standard input and output sends each line of steps(user, password) as
    (name, line) after `answer(peer, line, deadline_s)`, the status line
    answering the one before, was `accepted`; prints `done` once all were,
    and says `farewell` (its answer not awaited past the timeout). A refusal
    is its line on stderr and status 1; see drive() for the rest."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--user", default="bob")
    p.add_argument("--password", default="secret")
    p.add_argument("command", nargs="+")
    args = p.parse_args(argv)

    def dialogue(peer: Peer) -> int:
        for name, line in steps(args.user, args.password):
            peer.send(f"{line}\r\n".encode())
            status = answer(peer, line, args.timeout)
            if not accepted(status):
                print(f"{prog}: {name} answered {status!r}", file=sys.stderr)
                return 1
        print(done)
        peer.send(f"{farewell}\r\n".encode())
        try:
            answer(peer, farewell, args.timeout)
        except (Timeout, Closed):
            pass
        return 0

    return drive(prog, args.command, args.timeout, dialogue)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", dest="recipient", required=True)
    p.add_argument("--message", required=True)
    p.add_argument("--ehlo", default="client.example.test")
    p.add_argument("command", nargs="+")
    args = p.parse_args(argv)
    body = open(args.message, "rb").read()
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    body = re.sub(rb"(?m)^\.", b"..", body)
    steps = [(f"EHLO {args.ehlo}\r\n".encode(), 250),
             (f"MAIL FROM:<{args.sender}>\r\n".encode(), 250),
             (f"RCPT TO:<{args.recipient}>\r\n".encode(), 250),
             (b"DATA\r\n", 354),
             (body + b".\r\n", 250)]

    def dialogue(peer: Peer) -> int:
        for data, want in steps:
            peer.send(data)
            code, text = peer.reply()
            if code != want:
                print(f"{PROG}: {data.split(b' ')[0].strip().decode()} answered {text!r}",
                      file=sys.stderr)
                return 1
        print("delivered")
        peer.send(b"QUIT\r\n")
        try:
            peer.reply()
        except (Timeout, Closed):
            pass
        return 0

    return drive(PROG, args.command, args.timeout, dialogue)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
