"""Client adapters: how a client is run against a scenario.

An adapter is a small declarative TOML file in pytest/clients/: the command
template, the policy the client claims, how to read its exit status, and,
for clients that read the message from standard input, that it should be
given. `--client-cmd` builds the same thing from a command line.

A template is split like a shell would split it (shlex), then each word is
formatted with the placeholders; nothing ever goes through a shell, so a
value with blanks stays one argument. Placeholders:

    {host} {port} {cafile} {servername} {from} {to}
    {message}     a file holding the message, CRLF line endings
    {message_lf}  the same message with LF line endings
    {timeout}  per-step deadline for the client, whole seconds, from the
               scenario's own windows (deadlines.client_timeout)
    {policy}   require-tls or opportunistic
    {python}   /usr/bin/python3    {harness}  pytest/ (the helper clients)
    {bin}      the build's bin/ (starttls-client)
    {here}     the adapter file's folder (--client-file; for --client-cmd
               the current directory); also in version_command
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass, fields
from pathlib import Path

from starttls_mock import harness, paths
from starttls_mock.policy import POLICIES

# pytest/: the adapters' TOML files and the helper clients they run.
HERE = paths.HARNESS
ADAPTERS = HERE / "clients"
PYTHON = "/usr/bin/python3"
PLACEHOLDERS = ("host", "port", "cafile", "servername", "from", "to", "message",
                "message_lf", "timeout", "policy", "python", "harness", "bin", "here")
SENDER = "sender@example.test"
RECIPIENT = "recipient@example.test"


@dataclass
class Adapter:
    name: str
    command: str
    policy: str = "require-tls"
    # "zero-is-delivered": exit 0 claims delivery, anything else claims
    # failure (judged against the server). "ignored": the exit status says
    # nothing about delivery (openssl s_client), so it is not judged.
    exit_status: str = "zero-is-delivered"
    # "" (nothing), "message" (the message on stdin, CRLF line endings) or
    # "message-lf" (LF line endings)
    stdin: str = ""
    version_command: str = ""    # prints the client's version (recorded in reports)
    requires: str = ""           # an executable that must exist, else skip
    description: str = ""
    # The client connects to the scenario's host name, which the harness
    # maps to 127.0.0.1 for it alone (see resolving_argv): {host} is then
    # that name. For clients that verify the name they connect to and
    # cannot be told another.
    resolve: bool = False
    # The protocols the client speaks: it is run on the scenarios of these
    # (their `Protocol:`), and on no other.
    protocols: tuple[str, ...] = ("smtp",)
    # False for a client held to passing every scenario (the reference
    # client) instead of to pins of what it does (pytest/expected/).
    pinned: bool = True
    # {here} in its command lines: the adapter file's folder (not a key of
    # the file), so that a project's client and its adapter can sit side by
    # side wherever the project is checked out; for --client-cmd, the
    # current directory.
    folder: str = "."

    def __post_init__(self):
        self.protocols = tuple(self.protocols)
        if not self.protocols or not all(isinstance(p, str) and p for p in self.protocols):
            raise ValueError(f"{self.name}: protocols {self.protocols!r}")
        if self.policy not in POLICIES:
            raise ValueError(f"{self.name}: policy {self.policy!r} is not one of {POLICIES}")
        if self.exit_status not in ("zero-is-delivered", "ignored"):
            raise ValueError(f"{self.name}: exit_status {self.exit_status!r}")
        if self.stdin not in ("", "message", "message-lf"):
            raise ValueError(f"{self.name}: stdin {self.stdin!r}")
        check_template(self.command)

    def version(self) -> str:
        if not self.version_command:
            return ""
        try:
            # Only {here} is replaced: dpkg-query's own ${Version} stays.
            here = str(Path(self.folder).resolve())
            argv = [w.replace("{here}", here) for w in shlex.split(self.version_command)]
            out = subprocess.run(argv, capture_output=True,
                                 stdin=subprocess.DEVNULL, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"unknown ({e})"
        text = (out.stdout or out.stderr).decode(errors="replace").strip()
        return text.splitlines()[0] if text else ""


def check_template(template: str) -> None:
    """Refuses a template that does not split or names an unknown placeholder."""
    words = shlex.split(template)
    if not words:
        raise ValueError("the client command is empty")
    for word in words:
        for name in re.findall(r"(?<!\{)\{([^{}]*)\}", word):
            if name not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {{{name}}} in {word!r}; "
                                 f"known: {', '.join(PLACEHOLDERS)}")


def adapter_names() -> list[str]:
    return sorted(p.stem for p in ADAPTERS.glob("*.toml"))


def pinned_adapter_names() -> list[str]:
    """The built-in clients held to their pins (test_clients.py,
    record_expectations.py)."""
    return [name for name in adapter_names() if load_adapter(name).pinned]


def load_adapter(name: str) -> Adapter:
    path = ADAPTERS / f"{name}.toml"
    if not path.exists():
        raise ValueError(f"unknown client {name!r}; built-in: {', '.join(adapter_names())}")
    return load_adapter_file(path)


def load_adapter_file(path: Path) -> Adapter:
    """An adapter from any TOML file with the built-in ones' keys (a
    project's own client, `--client-file`); its name is the file's stem, and
    `{here}` in its command lines is the file's folder.
    Every problem is a ValueError naming the file (`file:line:col: ...`
    when the TOML itself is malformed)."""
    path = Path(path)
    data = harness.read_toml(path)
    known = {f.name for f in fields(Adapter)} - {"name", "folder"}
    if unknown := sorted(set(data) - known):
        raise ValueError(f"{path}: unknown key {unknown[0]!r} "
                         f"(keys: {', '.join(sorted(known))})")
    if "command" not in data:
        raise ValueError(f"{path}: no 'command' (the client's command line template)")
    try:
        return Adapter(name=path.stem, folder=str(path.resolve().parent), **data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def command_adapter(template: str, policy: str, name: str = "custom",
                    version_command: str = "", stdin: str = "",
                    resolve: bool = False, protocols: tuple[str, ...] = ("smtp",)) -> Adapter:
    return Adapter(name=name, command=template, policy=policy,
                   description=f"--client-cmd {template}", version_command=version_command,
                   stdin=stdin, resolve=resolve, protocols=protocols)


def expand(template: str, values: dict[str, str]) -> list[str]:
    return [word.format(**values) for word in shlex.split(template)]


def message_text(sender: str = SENDER, recipient: str = RECIPIENT) -> str:
    return (f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: starttls-mock suite\r\n"
            f"Message-ID: <{time.time_ns()}@starttls-mock.test>\r\n\r\n"
            f"Sent by the starttls-mock pytest suite.\r\n")


def values(server: harness.MockServer, servername: str, message: Path, timeout: int,
           policy: str, message_lf: Path | None = None, resolve: bool = False,
           here: str = ".") -> dict[str, str]:
    return {"host": servername if resolve and not is_ip(servername) else "127.0.0.1",
            "port": str(server.port), "cafile": str(server.cafile),
            "servername": servername, "from": SENDER, "to": RECIPIENT,
            "message": str(message), "message_lf": str(message_lf or message),
            "timeout": str(timeout), "policy": policy,
            "python": PYTHON, "harness": str(HERE),
            "bin": str(harness.build_dir() / "bin"), "here": str(Path(here).resolve())}


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


# Runs the rest of argv with a private /etc/hosts (argv[0] of the shell is
# the hosts file). Only this fixed script goes through a shell; the client's
# own words are passed on as "$@", never interpreted.
_BIND_HOSTS = 'mount --bind "$0" /etc/hosts && exec "$@"'


def resolving_argv(argv: list[str], servername: str, work: Path) -> list[str]:
    """argv run in a mount namespace of its own whose /etc/hosts maps
    `servername` to 127.0.0.1, so that a client connecting to the name
    reaches the mock; the machine's /etc/hosts is untouched. Root uses a
    mount namespace; anyone else a user namespace as well."""
    if is_ip(servername):
        return argv
    hosts = work / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n::1 localhost\n127.0.0.1 {servername}\n")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--mount", "--propagation", "private", "--",
            "/bin/sh", "-c", _BIND_HOSTS, str(hosts), *argv]
