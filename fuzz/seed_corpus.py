#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the scenario
catalogue and hand-made inputs, or, with --reports, from recorded sessions
only (the session reports `starttls-mock serve` writes to
<run-dir>/sessions.jsonl, to sessions/ with --session-files, or to --report's
file).

    fuzz/seed_corpus.py [--reports DIR]... [--corpus DIR]

Files are named by content hash, so running it again adds only new seeds.
--corpus writes under another folder than fuzz/corpus.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import ssl
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
# Where put() writes; main() sets it from --corpus.
corpus = FUZZ / "corpus"

# The session target's scenarios (session_target.cc) and client kinds.
N_SESSION_SCENARIOS = 14
RAW, HELLO_SLOT, OVER_TLS = 0, 1, 2

CORRECT_CLIENT = (b"EHLO client.example.test\r\nMAIL FROM:<a@example.test>\r\n"
                  b"RCPT TO:<b@example.test>\r\nDATA\r\nSubject: hi\r\n\r\n"
                  b"..dot-stuffed\r\nhello\r\n.\r\nQUIT\r\n")


def put(target: str, data: bytes) -> None:
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def client_hello() -> bytes:
    """A real TLS ClientHello, as Python's OpenSSL sends it."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="mail.example.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def from_scenarios() -> None:
    for path in sorted((ROOT / "scenarios").rglob("*.smtp")):
        text = path.read_bytes()
        put("scenario", text)
        server = [l[3:] for l in text.decode().splitlines() if l.startswith("S: ")]
        client = [l[3:] for l in text.decode().splitlines() if l.startswith("C: ")]
        if server:
            put("reply_parser", b"\x00" + "".join(s + "\r\n" for s in server).encode())
            put("reply_parser", b"\x03" + "".join(s + "\n" for s in server).encode())
        if client:
            put("responder", b"STARTTLS PIPELINING 8BITMIME SIZE 1000\n" +
                "".join(c.replace("*", "x") + "\r\n" for c in client).encode())


def pop3() -> None:
    """The POP3 scenarios' S: lines for the reply reader (byte 0 even; byte
    1: chunk size and which replies are multi-line), their C: lines for the
    responder (byte 0 odd), and a correct client's session."""
    for path in sorted((ROOT / "scenarios").rglob("*.pop3")):
        text = path.read_text()
        server = [l[3:] for l in text.splitlines() if l.startswith("S: ")]
        client = [l[3:] for l in text.splitlines() if l.startswith("C: ")]
        if server:
            put("pop3", b"\x00\x00" + "".join(s + "\r\n" for s in server).encode())
            put("pop3", b"\x00\x06" + "".join(s + "\r\n" for s in server).encode())
        if client:
            put("pop3", b"\x01\x00STLS, USER, SASL PLAIN, TOP, UIDL\n" +
                "".join(c + "\r\n" for c in client).encode())
    put("pop3", b"\x01\x00STLS, USER, SASL PLAIN, TOP, UIDL\n"
        b"CAPA\r\nSTLS\r\nCAPA\r\nAUTH PLAIN\r\nAGJvYgBzZWNyZXQ=\r\nSTAT\r\n"
        b"LIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nRSET\r\nNOOP\r\nQUIT\r\n")
    put("pop3", b"\x01\x00USER\nUSER bob\r\nPASS x\r\nSTAT\r\nRETR 9\r\nAPOP a b\r\n")
    put("pop3", b"\x00\x02+OK hi\r\n+OK list\r\nSTLS\r\n..dot\r\n.\r\n-ERR no\r\n+ \r\n")


def handmade() -> None:
    put("responder", b"STARTTLS\n" + CORRECT_CLIENT)
    put("responder", b"STARTTLS SIZE 10\nEHLO a\r\nSTARTTLS\r\nEHLO a\r\n" +
        CORRECT_CLIENT[len(b"EHLO client.example.test\r\n"):])
    put("responder", b"\nHELO a\r\nRSET\r\nNOOP\r\nVRFY x\r\nSTARTTLS\r\nQUIT\r\n")
    put("reply_parser", b"\x01220-a\r\n220 b\r\n250-x\r\n250 y\r\n221 bye\r\n")
    put("reply_parser", b"\x05354 go ahead\r\n250\r\n")
    hello = client_hello()
    for scenario in range(N_SESSION_SCENARIOS):
        put("session", bytes([scenario, RAW]) + CORRECT_CLIENT)
        put("session", bytes([scenario, RAW]) +
            b"EHLO x\r\nSTARTTLS\r\n" + hello)
        put("session", bytes([scenario, HELLO_SLOT]) + hello)
        put("session", bytes([scenario, OVER_TLS]) + CORRECT_CLIENT)
    put("session", bytes([0, OVER_TLS]) + b"EHLO x\r\nSTARTTLS\r\nQUIT\r\n")
    put("session", bytes([0, RAW]) + b"EHLO x\r\n" + b"A" * 2000 + b"\r\nQUIT\r\n")


def import_text() -> None:
    """Pasted sessions: the article's telnet text, the scenarios' S:/C:
    lines, and the swaks and curl samples of src/authoring/import_test.cc."""
    auto, telnet, script, swaks, curl = range(5)
    article = ROOT / "src" / "authoring" / "testdata" / "hotmail-2009-article.txt"
    if article.exists():
        put("import", bytes([auto]) + article.read_bytes())
        put("import", bytes([telnet]) + article.read_bytes())
    for path in sorted((ROOT / "scenarios").glob("*/*.smtp"))[::4]:
        lines = [l for l in path.read_text().splitlines() if l.startswith(("S: ", "C: "))]
        put("import", bytes([script]) + "\n".join(lines).encode() + b"\n")
    # The same byte says IMAP when (byte // 5) is odd (fuzz/import_target.cc).
    imap = 5
    for path in sorted((ROOT / "scenarios").glob("*/*.imap"))[::8]:
        lines = [l for l in path.read_text().splitlines() if l.startswith(("S: ", "C: "))]
        put("import", bytes([imap + script]) + "\n".join(lines).encode() + b"\n")
    test = ROOT / "src" / "authoring" / "import_test.cc"
    if test.exists():
        import re
        for name, fmt in (("kSwaks", swaks), ("kCurl", curl)):
            m = re.search(r"constexpr std::string_view %s =\n(.*?);\n" % name,
                          test.read_text(), re.S)
            if m:
                text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
                text = text.encode().decode("unicode_escape").encode()
                put("import", bytes([fmt]) + text)
                put("import", bytes([auto]) + text)


class BadReport(Exception):
    """A report that is not JSON; the message is `file:line:col: why`."""


def parse(text: str, path: Path, line: int = 0):
    """`text` as JSON; `line` is its line in `path` when it is one line of a
    stream (the error's own line otherwise)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise BadReport(f"{path}:{line or e.lineno}:{e.colno}: {e.msg}") from None


def sessions_in(folder: Path):
    """Every session report under `folder`: the lines of each JSON Lines
    stream, each session file, and the sessions of each aggregate report."""
    for path in sorted(folder.rglob("*.json*")):
        if path.suffix == ".jsonl":
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if line.strip():
                    yield parse(line, path, number)
        elif path.suffix == ".json":
            report = parse(path.read_text(), path)
            if isinstance(report, dict):
                yield from report.get("sessions", [report])


def from_reports(sessions: list) -> None:
    """The client's bytes of each recorded session, plain and inside TLS."""
    for session in sessions:
        if "events" not in session:
            continue
        plain = b"".join(e.get("data", "").encode() for e in session["events"]
                         if e.get("from") == "client" and e.get("layer") == "plain")
        inner = b"".join(e.get("data", "").encode() for e in session["events"]
                         if e.get("from") == "client" and e.get("layer") == "tls")
        if inner:
            put("session", bytes([1, OVER_TLS]) + inner)
            put("responder", b"STARTTLS 8BITMIME\n" + inner)
        elif plain:
            put("session", bytes([0, RAW]) + plain)


def main() -> None:
    global corpus
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, action="append", default=[])
    parser.add_argument("--corpus", type=Path, default=corpus)
    args = parser.parse_args()
    corpus = args.corpus
    if not args.reports:
        # The ClientHello differs on every run, so these are written only
        # when no reports are given.
        from_scenarios()
        handmade()
        import_text()
        pop3()
    # Every report is read before the first seed is written: a bad one
    # leaves the corpus as it was.
    try:
        sessions = [s for folder in args.reports for s in sessions_in(folder)]
    except BadReport as e:
        sys.exit(f"seed_corpus.py: {e}")
    from_reports(sessions)


if __name__ == "__main__":
    main()
