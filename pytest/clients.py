"""Client adapters and the catalogue runner behind the pytest plugin.

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
               scenario's own windows (see client_timeout)
    {policy}   require-tls or opportunistic
    {python}   /usr/bin/python3    {harness}  this directory
    {bin}      the build's bin/ (starttls-client)

`run(scenario, work, adapter, policy)` serves one scenario, runs the client,
and returns a Result whose `record()` is one entry of the JSON report.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import shlex
import subprocess
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import harness

HERE = Path(__file__).resolve().parent
ADAPTERS = HERE / "clients"
EXPECTED = HERE / "expected"
PYTHON = "/usr/bin/python3"
POLICIES = ("require-tls", "opportunistic")
PLACEHOLDERS = ("host", "port", "cafile", "servername", "from", "to", "message",
                "message_lf", "timeout", "policy", "python", "harness", "bin")
SENDER = "sender@example.test"
RECIPIENT = "recipient@example.test"

# ---------------------------------------------------------------------------
# Adapters


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

    def __post_init__(self):
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
            out = subprocess.run(shlex.split(self.version_command), capture_output=True,
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


def load_adapter(name: str) -> Adapter:
    path = ADAPTERS / f"{name}.toml"
    if not path.exists():
        raise ValueError(f"unknown client {name!r}; built-in: {', '.join(adapter_names())}")
    data = tomllib.loads(path.read_text())
    return Adapter(name=name, **data)


def command_adapter(template: str, policy: str, name: str = "custom",
                    version_command: str = "", stdin: str = "",
                    resolve: bool = False) -> Adapter:
    return Adapter(name=name, command=template, policy=policy,
                   description=f"--client-cmd {template}", version_command=version_command,
                   stdin=stdin, resolve=resolve)


def expand(template: str, values: dict[str, str]) -> list[str]:
    return [word.format(**values) for word in shlex.split(template)]


# ---------------------------------------------------------------------------
# Deadlines from the scenario

def scripted_pauses(scenario: Path) -> float:
    """The time the scenario keeps a correct client waiting on purpose (its
    delay=, quiet= and drip gap windows), in seconds, as the server's parser
    computes it."""
    return harness.scenario_facts(scenario)["scripted_pauses_s"]


def scenario_timeout(scenario: Path) -> float:
    """The server's Timeout for the scenario (its wait for the client)."""
    return harness.scenario_facts(scenario)["timeout_s"]


def client_timeout(scenario: Path) -> int:
    """The per-step deadline given to the client: twice the scenario's own
    windows plus half a second, at least 1 s, in whole seconds (some clients
    take nothing else), and always well inside the server's Timeout, so a
    correct client gives up before the server calls it a hang."""
    t = max(1, math.ceil(2 * scripted_pauses(scenario) + 0.5))
    return min(t, max(1, int(scenario_timeout(scenario) / 3)))


def client_budget(timeout: int) -> float:
    """How long the harness lets the client run before killing it: the
    reference client's whole-session deadline (4 steps) and 2 s to spare."""
    return 4 * timeout + 2.0


# ---------------------------------------------------------------------------
# Expected outcomes per policy

# What --client-policy opportunistic changes, scenario by scenario:
# (expected outcome, oracles that do not count). Everything else keeps the
# scenario's Expect: and every oracle. The reasoning is in docs/pytest-plugin.md ("Policies").
OPPORTUNISTIC: dict[str, tuple[str, frozenset[str]]] = {
    # STARTTLS not offered: plain text is what an opportunistic client
    # promises, and the message must get through.
    "stripping/starttls-not-advertised.smtp": ("deliver", frozenset({"plaintext-after-refusal"})),
    # EHLO refused: falling back to HELO (and plain text) is a SHOULD of
    # RFC 5321 section 3.2, so giving up is allowed too.
    "stripping/ehlo-refused-500.smtp":
        ("deliver-or-refuse", frozenset({"plaintext-after-refusal"})),
    "stripping/ehlo-refused-helo-accepted.smtp":
        ("deliver-or-refuse", frozenset({"plaintext-after-refusal"})),
    # STARTTLS offered and refused: RFC 3207 section 4 leaves it to the
    # client to go on (in plain text) or to quit.
    **{f"stripping/starttls-refused-{code}.smtp":
       ("deliver-or-refuse", frozenset({"plaintext-after-refusal"}))
       for code in (354, 454, 501, 502, 530)},
    "injection/454-then-injected-success.smtp":
        ("deliver-or-refuse", frozenset({"plaintext-after-refusal"})),
    "injection/220-before-starttls-then-454.smtp":
        ("deliver-or-refuse", frozenset({"plaintext-after-refusal"})),
    # STARTTLS answered with a 2xx that is not 220: no TLS was offered; TLS
    # started anyway is still a finding (tls-without-220).
    **{f"stripping/starttls-answered-{code}.smtp":
       ("deliver-or-refuse", frozenset({"plaintext-after-refusal"}))
       for code in (250, 252)},
    # A failed handshake, then a connection without STARTTLS: RFC 7435
    # fallback to cleartext is allowed.
    "reconnect/alert-then-plain.smtp":
        ("deliver-or-refuse", frozenset({"downgrade-by-reconnect", "plaintext-after-refusal"})),
    "reconnect/reset-then-plain.smtp":
        ("deliver-or-refuse", frozenset({"downgrade-by-reconnect", "plaintext-after-refusal"})),
}

ALLOWED = {"deliver": {"delivered"}, "refuse": {"refused"},
           "deliver-or-refuse": {"delivered", "refused"}}


def relative(scenario: Path) -> str:
    scenario = scenario.resolve()
    if scenario.is_relative_to(harness.SCENARIOS):
        return str(scenario.relative_to(harness.SCENARIOS))
    return scenario.name


def rejudge(sessions: list[dict], scenario: str, policy: str) -> tuple[str, list[dict], list[str]]:
    """The sessions as the policy sees them: (expected, sessions with their
    reasons and oracles re-judged, oracle ids that did not count)."""
    expected = sessions[0]["expected"] if sessions else "?"
    if policy != "opportunistic" or scenario not in OPPORTUNISTIC:
        return expected, sessions, []
    expected, ignored = OPPORTUNISTIC[scenario]
    out, dropped = [], set()
    for s in sessions:
        s = dict(s)
        reasons = []
        for r in s["reasons"]:
            if r["kind"] == "outcome":
                continue
            if r.get("oracle") in ignored:
                dropped.add(r["oracle"])
                continue
            reasons.append(r)
        off_script = s.get("verdict") == "off-script" or bool(s.get("script", {}).get("mismatch"))
        if s["observed"] not in ALLOWED[expected] and not off_script:
            reasons.insert(0, harness.reason(
                "outcome", f"expected the client to {expected}, observed {s['observed']}",
                expected=expected, observed=s["observed"]))
        s["oracles"] = [o for o in s["oracles"] if o["id"] not in ignored]
        s["reasons"] = reasons
        s["expected"] = expected
        if reasons:
            s["verdict"] = "fail"
        elif off_script:
            s["verdict"] = "off-script"
            m = s["script"]["mismatch"]
            s["off_script"] = s.get("off_script") or (
                f"off script: the client sent \"{m['actual']}\" where scenario line "
                f"{m['line']} expected \"{m['expected']}\"")
        else:
            s["verdict"] = "pass"
        out.append(s)
    return expected, out, sorted(dropped)


# ---------------------------------------------------------------------------
# Labels: a run's reasons as short stable strings, for pins

OFF_SCRIPT = "off script"
CLIENT_HANG = "client hang"
NO_CONNECTION = "no connection"


def label(reason: dict) -> str:
    """One reason (harness.reason) as a label, from its kind and fields:
    an oracle id, "expected X, observed Y", "client exited 0, not delivered"
    (or "client exited N, delivered"), "client hang" (killed at its
    deadline) or "no connection". An oracle id the binary does not define,
    or an unknown kind, is an error."""
    kind = reason.get("kind")
    if kind == "oracle":
        if reason["oracle"] not in harness.oracle_ids():
            raise ValueError(f"a finding of an unknown oracle {reason['oracle']!r}: {reason}")
        return reason["oracle"]
    if kind == "outcome":
        return f"expected {reason['expected']}, observed {reason['observed']}"
    if kind == "client-exit":
        return (f"client exited {reason['status']}, delivered" if reason["delivered"]
                else "client exited 0, not delivered")
    if kind == "client-hang":
        return CLIENT_HANG
    if kind == "no-connection":
        return NO_CONNECTION
    raise ValueError(f"a reason of unknown kind: {reason!r}")


# ---------------------------------------------------------------------------
# One run


@dataclass
class Result:
    scenario: Path
    adapter: Adapter
    policy: str
    expected: str
    observed: str
    verdict: str                 # pass, fail or error
    reasons: list[dict]          # harness.reason()
    sessions: list[dict]
    ignored: list[str] = field(default_factory=list)
    client: harness.ClientResult | None = None
    timeout: int = 0
    duration_s: float = 0.0
    summary: str = ""
    error: str = ""
    # Where the client left the script (verdict "off-script": not judged).
    off_script: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return relative(self.scenario)

    def oracles(self) -> list[str]:
        return sorted({o["id"] for s in self.sessions for o in s["oracles"]})

    def labels(self) -> set[str]:
        if self.verdict == "error":
            return {"error"}
        out = {label(r) for r in self.reasons}
        if self.verdict == "off-script":
            out.add(OFF_SCRIPT)
        return out

    def evidence(self) -> list[dict]:
        out = []
        for s in self.sessions:
            for o in s["oracles"]:
                for e in o.get("evidence") or [{}]:
                    out.append({"connection": s["connection"], "oracle": o["id"],
                                "message": o["message"], **e})
        return out

    def explain(self) -> str:
        """Expected, observed, the oracles, the evidence and the client's
        last words: a failure message that explains itself."""
        lines = [f"{self.name} ({self.summary})" if self.summary else self.name,
                 f"  client {self.adapter.name} ({self.policy}), timeout {self.timeout}s",
                 f"  expected {self.expected}, observed {self.observed}: {self.verdict}"]
        if self.error:
            lines.append(f"  error: {self.error}")
        for r in self.reasons:
            lines.append(f"  - {r['text']}")
        for r in self.off_script:
            lines.append(f"  - {r}")
        lines.append(f"  oracles: {', '.join(self.oracles()) or 'none'}"
                     + (f" (not counted under {self.policy}: {', '.join(self.ignored)})"
                        if self.ignored else ""))
        for e in self.evidence():
            lines.append(f"  evidence: connection {e['connection']} {e['oracle']} at event "
                         f"{e.get('event')} t={e.get('t')}s offset {e.get('offset')}: "
                         f"{e.get('detail', '')}")
        if self.client is not None:
            tail = head_and_tail(self.client.stderr.strip() or self.client.stdout.strip(), 200)
            lines.append(f"  client exit {self.client.returncode}: {tail}")
            lines.append(f"  command: {shlex.join(self.client.argv)}")
        return "\n".join(lines)

    def record(self, with_sessions: bool = True) -> dict:
        """One entry of the JSON report."""
        out = {
            "scenario": self.name,
            "category": Path(self.name).parent.name or "",
            "summary": self.summary,
            "client": self.adapter.name,
            "policy": self.policy,
            "expected": self.expected,
            "observed": self.observed,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "off_script": self.off_script,
            "labels": sorted(self.labels()),
            "oracles": self.oracles(),
            "ignored_oracles": self.ignored,
            "client_exit": self.client.returncode if self.client else None,
            "client_stderr": head_and_tail(self.client.stderr) if self.client else "",
            "client_timeout_s": self.timeout,
            "client_wall_s": round(self.client.wall_s, 3) if self.client else None,
            "duration_s": round(self.duration_s, 3),
            "evidence": self.evidence(),
            "error": self.error,
        }
        if with_sessions:
            out["sessions"] = self.sessions
        return out


def head_and_tail(text: str, keep: int = 1000) -> str:
    """The first and the last `keep` characters of a long text, with what was
    left out in between said: a client's first error is often its cause."""
    if len(text) <= 2 * keep:
        return text
    return (f"{text[:keep]}\n[... {len(text) - 2 * keep} characters left out ...]\n"
            f"{text[-keep:]}")


def message_text(sender: str = SENDER, recipient: str = RECIPIENT) -> str:
    return (f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: starttls-mock suite\r\n"
            f"Message-ID: <{time.time_ns()}@starttls-mock.test>\r\n\r\n"
            f"Sent by the starttls-mock pytest suite.\r\n")


def values(server: harness.MockServer, servername: str, message: Path, timeout: int,
           policy: str, message_lf: Path | None = None, resolve: bool = False) -> dict[str, str]:
    return {"host": servername if resolve and not is_ip(servername) else "127.0.0.1",
            "port": str(server.port), "cafile": str(server.cafile),
            "servername": servername, "from": SENDER, "to": RECIPIENT,
            "message": str(message), "message_lf": str(message_lf or message),
            "timeout": str(timeout), "policy": policy,
            "python": PYTHON, "harness": str(HERE),
            "bin": str(harness.build_dir() / "bin")}


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


def run_client(argv: list[str], stdin: bytes | None, budget: float) -> harness.ClientResult:
    """harness.run_process: every wait has a deadline, and the client's whole
    process group ends with it."""
    return harness.run_process(argv, stdin, budget)


def run(scenario: Path, work: Path, adapter: Adapter, policy: str | None = None,
        timeout: int | None = None, server: harness.MockServer | None = None) -> Result:
    """Serves the scenario on a fresh server (port 0, its own run directory
    under work) unless a started one is given, runs the adapter's client
    against it, stops the server and judges the run under the policy.
    Server-side failures are verdict "error", never a pass."""
    policy = policy or adapter.policy
    scenario = Path(scenario)
    name = relative(scenario)
    timeout = timeout or client_timeout(scenario)
    budget = client_budget(timeout)
    work.mkdir(parents=True, exist_ok=True)
    message = work / "message.eml"
    text = message_text()
    message.write_bytes(text.encode())
    message_lf = work / "message-lf.eml"
    message_lf.write_bytes(text.replace("\r\n", "\n").encode())
    started = time.monotonic()
    base = Result(scenario, adapter, policy, "?", "-", "error", [], [], timeout=timeout)
    if server is None:
        server = harness.MockServer([scenario], work / "server")
        try:
            server.start()
        except harness.ServerError as e:
            base.error = str(e)
            return base
    client = None
    try:
        servername = harness.scenario_host(scenario)
        vals = values(server, servername, message, timeout, policy, message_lf,
                      adapter.resolve)
        argv = expand(adapter.command, vals)
        if adapter.resolve:
            argv = resolving_argv(argv, servername, work)
        stdin = {"message": text.encode(),
                 "message-lf": text.replace("\r\n", "\n").encode()}.get(adapter.stdin)
        client = run_client(argv, stdin, budget)
    finally:
        code = server.stop()
    base.client = client
    base.duration_s = time.monotonic() - started
    if code != 0 or server.stderr.strip():
        base.error = f"starttls-mock exited {code}: {server.stderr.strip()}"
        return base
    sessions = server.sessions_reports()
    base.summary = sessions[0]["summary"] if sessions else ""
    if not sessions:
        base.reasons = [harness.reason(
            "no-connection", f"the client never connected: {client.stderr.strip()[-300:]}")]
        base.expected = OPPORTUNISTIC.get(name, ("?",))[0] if policy == "opportunistic" \
            else "?"
        base.observed = "no-connection"
        base.verdict = "fail"
        return base
    expected, judged, ignored = rejudge(sessions, name, policy)
    status = client.returncode if adapter.exit_status == "zero-is-delivered" else None
    verdict = harness.judge_run(judged, status)
    reasons = list(verdict.reasons)
    observed = verdict.observed
    if client.returncode == -1 and client.stderr.endswith(f"killed after {budget:g}s"):
        # The client, not the harness, hung: it outlived its deadline.
        # Its exit status and the interrupted session are the kill's doing.
        reasons = [r for r in reasons
                   if not (r["kind"] == "client-exit"
                           and (r["status"] == -1 or not r["delivered"]))
                   and not (r["kind"] == "outcome" and r["observed"] == "interrupted")]
        reasons.append(harness.reason(
            "client-hang", f"client hang: the client neither finished nor gave up within "
                           f"{budget:g}s (4 times its per-step deadline of {timeout}s, and 2s) "
                           f"and was killed", budget_s=budget))
        if observed != "delivered":
            observed = "hung"
    base.expected, base.observed = expected, observed
    base.verdict = "fail" if reasons else ("off-script" if verdict.off_script else "pass")
    base.off_script = verdict.off_script
    base.reasons, base.sessions, base.ignored = reasons, judged, ignored
    return base


# ---------------------------------------------------------------------------
# Pinned expectations: pytest/expected/<client>.toml

PASS = "pass"


def expectations_path(client: str) -> Path:
    return EXPECTED / f"{client}.toml"


def load_expectations(client: str) -> dict:
    """{"version": ..., "command": ..., "scenarios": {scenario: alternatives}}:
    each pin is a set of allowed label sets (the empty set is a pass). A
    scenario whose outcome depends on scheduling is pinned as
    `{ any = ["pass", ["oracle"]] }`, and any other outcome still fails."""
    data = tomllib.loads(expectations_path(client).read_text())

    def one(value) -> frozenset:
        return frozenset() if value == PASS else frozenset(value)

    pins = {}
    for scenario, value in data.get("scenarios", {}).items():
        if isinstance(value, dict):
            pins[scenario] = frozenset(one(v) for v in value["any"])
        else:
            pins[scenario] = frozenset({one(value)})
    return {"version": data.get("version", ""), "command": data.get("command", ""),
            "scenarios": pins}


def show_pin(alternatives) -> str:
    out = [sorted(a) if a else PASS for a in sorted(alternatives, key=sorted)]
    return str(out[0]) if len(out) == 1 else "any of " + str(out)


def toml_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_expectations(client: str, version: str, command: str,
                       results: dict[str, set[frozenset[str]]], header: str = "") -> Path:
    """results: scenario -> the label sets seen (more than one: unstable)."""
    def one(labels) -> str:
        return toml_string(PASS) if not labels else \
            "[" + ", ".join(toml_string(x) for x in sorted(labels)) + "]"

    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += [f"# Recorded with: pytest/record_expectations.py {client}",
              "# A scenario with { any = [...] } gave different outcomes from run to run.",
              "", f"version = {toml_string(version)}", f"command = {toml_string(command)}",
              "", "[scenarios]"]
    for scenario in sorted(results):
        seen = sorted(results[scenario], key=sorted)
        value = one(seen[0]) if len(seen) == 1 else \
            "{ any = [" + ", ".join(one(x) for x in seen) + "] }"
        lines.append(f"{toml_string(scenario)} = {value}")
    path = expectations_path(client)
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
