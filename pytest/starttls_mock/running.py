"""One way to run a client against a scenario: run() serves the scenario on
a fresh server (or a started one), runs the adapter's client with deadlines
derived from the scenario, stops the server and judges the run under the
client's policy. Its Result's record() is one entry of the JSON report."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from starttls_mock import harness
from starttls_mock.adapters import Adapter, expand, message_text, resolving_argv, values
from starttls_mock.deadlines import client_budget, client_timeout
from starttls_mock.pins import OFF_SCRIPT, label
from starttls_mock.policy import OPPORTUNISTIC, rejudge


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
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def name(self) -> str:
        return harness.relative(self.scenario)

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
            "protocol": harness.scenario_facts(self.scenario)["protocol"],
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


def run_client(argv: list[str], stdin: bytes | None, budget: float) -> harness.ClientResult:
    """harness.run_process: every wait has a deadline, and the client's whole
    process group ends with it."""
    return harness.run_process(argv, stdin, budget)


def run(scenario: Path, work: Path, adapter: Adapter, policy: str | None = None,
        timeout: int | None = None, server: harness.MockServer | None = None,
        budget: float | None = None) -> Result:
    """Serves the scenario on a fresh server (port 0, its own run directory
    under work) unless a started one is given, runs the adapter's client
    against it, stops the server and judges the run under the policy.
    Server-side failures are verdict "error", never a pass.

    timeout: the client's per-step deadline ({timeout}); by default derived
    from the scenario (deadlines.client_timeout). budget: how long the client
    may run before it is killed and judged hung; by default
    deadlines.client_budget(timeout)."""
    policy = policy or adapter.policy
    scenario = Path(scenario)
    name = harness.relative(scenario)
    timeout = timeout or client_timeout(scenario)
    budget = budget or client_budget(timeout)
    work.mkdir(parents=True, exist_ok=True)
    message = work / "message.eml"
    text = message_text()
    message.write_bytes(text.encode())
    message_lf = work / "message-lf.eml"
    message_lf.write_bytes(text.replace("\r\n", "\n").encode())
    started = time.monotonic()
    base = Result(scenario, adapter, policy, "?", "-", "error", [], [], timeout=timeout)
    if server is None:
        # The server's own run deadline: it ends by itself even if this
        # process dies before it can stop it.
        server = harness.MockServer([scenario], work / "server",
                                    extra_args=["--run-timeout", f"{int(budget) + 60}s"])
        try:
            server.start()
        except harness.ServerError as e:
            base.error = str(e)
            return base
    client = None
    try:
        servername = harness.scenario_host(scenario)
        vals = values(server, servername, message, timeout, policy, message_lf,
                      adapter.resolve, adapter.folder)
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
                           and (r["status"] == -1 or not r["reached"]))
                   and not (r["kind"] == "outcome" and r["observed"] == "interrupted")]
        reasons.append(harness.reason(
            "client-hang", f"client hang: the client neither finished nor gave up within "
                           f"{budget:g}s (its per-step deadline was {timeout}s) "
                           f"and was killed", budget_s=budget))
        if not any(s["goal_reached"] for s in judged):
            observed = "hung"
    base.expected, base.observed = expected, observed
    base.verdict = "fail" if reasons else ("off-script" if verdict.off_script else "pass")
    base.off_script = verdict.off_script
    base.reasons, base.sessions, base.ignored = reasons, judged, ignored
    return base
