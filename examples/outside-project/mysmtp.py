#!/usr/bin/python3
"""mysmtp: a small SMTP client that requires STARTTLS, the project this
example stands for. It sends one message and exits 0 only when the server
accepted it over TLS with a verified certificate for --servername."""

import argparse
import socket
import ssl
import sys


class Refused(Exception):
    pass


class Conn:
    def __init__(self, sock: socket.socket):
        self.sock, self.buf = sock, b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Refused("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self) -> tuple[int, list[str]]:
        lines = []
        while True:
            line = self.line().decode("ascii", "replace")
            if len(line) < 3 or not line[:3].isdigit():
                raise Refused(f"not a reply: {line!r}")
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines

    def command(self, text: str, want: int) -> list[str]:
        self.sock.sendall(text.encode() + b"\r\n")
        code, lines = self.reply()
        if code != want if want in (220, 354) else code // 100 != want // 100:
            raise Refused(f"{text.split()[0]}: {code} {' '.join(lines)}")
        return lines


def send(args) -> None:
    raw = socket.create_connection((args.host, args.port), timeout=args.timeout)
    conn = Conn(raw)
    code, _ = conn.reply()
    if code != 220:
        raise Refused(f"greeting {code}")
    caps = conn.command("EHLO mysmtp.example.test", 250)
    if "STARTTLS" not in (c.upper() for c in caps):
        raise Refused("no STARTTLS: not sending in plain text")
    conn.command("STARTTLS", 220)
    if conn.buf:  # bytes after the 220 came before TLS: an injection
        raise Refused("data after the STARTTLS reply")
    context = ssl.create_default_context(cafile=args.cafile)
    tls = context.wrap_socket(raw, server_hostname=args.servername)
    conn = Conn(tls)
    conn.command("EHLO mysmtp.example.test", 250)  # forget what came before TLS
    conn.command(f"MAIL FROM:<{args.sender}>", 250)
    conn.command(f"RCPT TO:<{args.to}>", 250)
    conn.command("DATA", 354)
    with open(args.message, "rb") as f:
        body = f.read().replace(b"\r\n.", b"\r\n..")
    tls.sendall(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    code, lines = conn.reply()
    if code != 250:
        raise Refused(f"message: {code} {' '.join(lines)}")
    conn.command("QUIT", 221)


def main() -> int:
    p = argparse.ArgumentParser()
    for name in ("host", "cafile", "servername", "to", "message"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--timeout", type=float, default=10)
    args = p.parse_args()
    try:
        send(args)
    except (OSError, Refused) as e:
        print(f"mysmtp: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
