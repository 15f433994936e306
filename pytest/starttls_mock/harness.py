"""Starts starttls-mock and clients for tests and for `make suite`.

Everything here waits with a deadline: the server's readiness is its READY
line, never a sleep, and every process is killed if it outlives its budget.
"""

from __future__ import annotations

import functools
import json
import os
import re
import selectors
import signal
import subprocess
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from starttls_mock import paths

# The checkout, or where the install put the catalogue (paths.py).
ROOT = paths.ROOT
SCENARIOS = paths.SCENARIOS
FAMILY_SUFFIX = ".scenario"  # a scenario written once for several protocols


def build_dir() -> Path:
    return paths.build_dir()


def read_toml(path: Path) -> dict:
    """A TOML file of the harness's (an adapter, pins); every problem is a
    ValueError naming the file, `file:line:col: ...` for malformed TOML."""
    try:
        return tomllib.loads(Path(path).read_text())
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        text = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(e))
        raise ValueError(f"{path}:{where[1]}:{where[2]}: {text}" if where
                         else f"{path}: {text}") from None


def binary(name: str) -> Path:
    path = build_dir() / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make build` first")
    return path


class ServerError(Exception):
    """The mock server failed; the message carries what it printed."""


def read_ready_line(proc: subprocess.Popen, timeout: float) -> tuple[int, Path]:
    """Reads the `READY port=N cafile=PATH` line that `starttls-mock serve`
    and `record` print once they accept connections; returns (port, cafile).
    Raises ServerError if it does not come within `timeout` seconds or the
    process exits first."""
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise ServerError(f"no READY line within {timeout}s")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                proc.wait(timeout=5)
                err = proc.stderr.read().decode(errors="replace").strip()
                raise ServerError(f"starttls-mock exited with {proc.returncode} "
                                  f"before it was ready: {err}")
            buf += chunk
    line = buf.split(b"\n", 1)[0].decode()
    if not line.startswith("READY "):
        raise ServerError(f"unexpected first line from starttls-mock: {line!r}")
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    return int(fields["port"]), Path(fields["cafile"])


def streamed_sessions(stream: Path) -> list[dict]:
    """The complete session reports of a server's stream (a last line
    without its line feed is still being written), in connection order."""
    try:
        data = stream.read_bytes()
    except FileNotFoundError:
        return []
    complete = data[:data.rfind(b"\n") + 1]
    sessions = [json.loads(line) for line in complete.splitlines() if line]
    return sorted(sessions, key=lambda s: s["connection"])


@dataclass
class MockServer:
    """One `starttls-mock serve` process, listening on an ephemeral port."""

    scenarios: list[Path]
    run_dir: Path
    sessions: int | None = None
    listen: str = "127.0.0.1:0"
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    cafile: Path | None = None
    proc: subprocess.Popen | None = None
    stderr: str = ""

    @property
    def report_path(self) -> Path:
        return self.run_dir / "report.json"

    def start(self, timeout: float = 15.0) -> "MockServer":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        argv = [str(binary("starttls-mock")), "serve", *map(str, self.scenarios),
                "--listen", self.listen, "--run-dir", str(self.run_dir),
                "--report", str(self.report_path), *self.extra_args]
        if self.sessions is not None:
            argv += ["--sessions", str(self.sessions)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.port, self.cafile = read_ready_line(self.proc, timeout)
        except ServerError:
            self.kill()
            raise
        return self

    def wait(self, timeout: float = 30.0) -> int:
        """Waits for the server to exit by itself (after --sessions)."""
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerError(f"starttls-mock did not exit within {timeout}s")
        self.stderr = err.decode(errors="replace")
        return self.proc.returncode

    def stop(self, timeout: float = 15.0) -> int:
        """Asks the server to stop (SIGTERM) and waits for it."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            _, err = self.proc.communicate()
            self.stderr = err.decode(errors="replace")

    @property
    def stream_path(self) -> Path:
        """The JSON Lines stream of the sessions that have ended, appended
        by the server as each one ends (docs/reports.md)."""
        return self.run_dir / "sessions.jsonl"

    def report(self) -> dict:
        """The aggregate report: once the server has exited, the file it
        wrote at its end; while it runs, that file's run facts with the
        sessions streamed so far (complete lines only), in connection
        order."""
        running = self.proc is not None and self.proc.poll() is None
        report = json.loads(self.report_path.read_text())
        if running:
            report["sessions"] = streamed_sessions(self.stream_path)
        return report

    def sessions_reports(self) -> list[dict]:
        return self.report()["sessions"]


@dataclass
class ClientResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float = 0.0  # how long the client ran, start to exit (or kill)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_process(argv: list[str], stdin: bytes | None, timeout: float) -> ClientResult:
    """Runs a client command line (never through a shell) in a session and
    process group of its own, with a deadline. When the deadline passes the
    whole group is killed (returncode -1, stderr ending "killed after Ts"),
    and once the client has exited whatever it left running in its group (a
    wrapper's children) is killed too: nothing outlives the run."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None
                                else subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as e:
        return ClientResult(argv, 127, "", f"cannot run {argv[0]}: {e}")
    killed = False
    started = time.monotonic()
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        # Either the client itself is still running, or it exited and a
        # process it left behind holds its output open.
        killed = proc.poll() is None
        _kill_group(proc.pid)
        out, err = proc.communicate(timeout=10)
    finally:
        _kill_group(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    wall = time.monotonic() - started
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    if killed:
        return ClientResult(argv, -1, stdout, stderr + f"\nkilled after {timeout:g}s", wall)
    return ClientResult(argv, proc.returncode, stdout, stderr, wall)


def run_client(argv: list[str], timeout: float = 30.0) -> ClientResult:
    """Runs a client command line with no input and a deadline (run_process)."""
    return run_process(argv, None, timeout)


def describe_scenarios(paths: list[Path]) -> list[dict]:
    """What the server's own parser says of scenarios (`starttls-mock
    scenario --json`): path, source (the file read), name, summary,
    protocol, host, expect,
    certificate, connections, timeout_s, session_timeout_s and
    scripted_pauses_s. Nothing here reads a scenario file itself."""
    out = subprocess.run([str(binary("starttls-mock")), "scenario", "--json",
                          *map(str, paths)], capture_output=True, timeout=60)
    if out.returncode != 0:
        raise ValueError(out.stderr.decode(errors="replace").strip())
    return json.loads(out.stdout)


def _expand(files: list[Path]) -> list[Path]:
    """Scenario files, each family file (.scenario) replaced by its members."""
    paths: list[Path] = []
    for f in files:
        if f.suffix == FAMILY_SUFFIX:
            paths += [Path(d["path"]) for d in describe_scenarios([f])]
        else:
            paths.append(f)
    return sorted(paths)


@functools.cache
def _scenario_paths() -> list[Path]:
    return _expand(source_files())


@functools.cache
def _catalogue() -> dict[Path, dict]:
    files = scenario_files()
    return {Path(f).resolve(): d for f, d in zip(files, describe_scenarios(files))}


# The scenarios of folders given besides the catalogue (user_scenarios()):
# their facts, read once, and the folders their names are relative to.
_user_facts: dict[Path, dict] = {}
_user_roots: list[Path] = []


def scenario_facts(path: Path) -> dict:
    """describe_scenarios() for one scenario (the catalogue's and each user
    folder's are read once, in one call)."""
    resolved = Path(path).resolve()
    facts = _catalogue().get(resolved) or _user_facts.get(resolved)
    return facts if facts is not None else describe_scenarios([path])[0]


def user_scenarios(folder: Path, protocols: tuple[str, ...] | list[str] | None = None
                   ) -> list[Path]:
    """The scenarios of a folder of one's own, laid out like scenarios/ (every
    file under it but *.md; family files stand for their members), in the
    protocols given. From then on relative() names them by their path under
    the folder. Raises ValueError with the server's `file:line:col: ...`
    when one does not parse, and when a name is also the catalogue's."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder of scenarios")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".md")
    if not files:
        raise ValueError(f"{folder}: no scenario files in it")
    found = _expand(files)
    for p, facts in zip(found, describe_scenarios(found)):
        _user_facts[p.resolve()] = facts
    if folder not in _user_roots:
        _user_roots.append(folder)
    builtin = {p.resolve() for p in _scenario_paths()}
    names = {relative(p) for p in builtin}
    if clash := sorted(relative(p) for p in found
                       if p.resolve() not in builtin and relative(p) in names):
        raise ValueError(f"{folder}: {', '.join(clash)} also in the built-in catalogue; "
                         "rename it (names must be unique in reports and pins)")
    if protocols is None:
        return found
    return [p for p in found if scenario_facts(p)["protocol"] in protocols]


def scenario_host(path: Path) -> str:
    """The identity a scenario's server proves: its Host header, or the
    default. Clients are told to verify this name (or address)."""
    return scenario_facts(path)["host"]


def reference_client(server: MockServer, servername: str = "mail.example.test",
                     extra: list[str] | None = None) -> list[str]:
    return [str(binary("starttls-client")), "--host", "127.0.0.1",
            "--port", str(server.port), "--cafile", str(server.cafile),
            "--servername", servername, "--require-tls",
            *(extra or [])]


def run_reference_sessions(server: MockServer, count: int) -> None:
    """Runs the reference client against `server` `count` times, one after
    the other; each must succeed."""
    for _ in range(count):
        done = run_client(reference_client(server))
        assert done.returncode == 0, done.stderr


def relative(scenario: Path) -> str:
    """A scenario's name as the reports and pins write it: its path under
    scenarios/ or under a folder given to user_scenarios(), or its file name
    for a file elsewhere."""
    scenario = Path(scenario).resolve()
    for root in (SCENARIOS, *_user_roots):
        if scenario.is_relative_to(root):
            return str(scenario.relative_to(root))
    return scenario.name


def scenario_file(name: Path | str) -> Path:
    """A scenario by path, by its name under scenarios/ with or without its
    extension ("control/hotmail-2009", "control/hotmail-2009.smtp"), or by
    a name found once in the catalogue ("hotmail-2009")."""
    path = Path(name)
    if path.exists() or (path.suffix != FAMILY_SUFFIX
                         and path.with_suffix(FAMILY_SUFFIX).is_file()):
        return path  # a file, or a family's member by its name
    wanted = str(name)
    matches = [p for p in scenario_files()
               if wanted in (relative(p), str(Path(relative(p)).with_suffix("")))]
    if not matches and "/" not in wanted:
        matches = [p for p in scenario_files() if wanted in (p.name, p.stem)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise FileNotFoundError(f"scenario {name} is ambiguous: "
                                + ", ".join(relative(m) for m in matches))
    raise FileNotFoundError(f"no scenario {name}")


def source_files() -> list[Path]:
    """The files of the catalogue: every file under scenarios/ but its
    documentation. A family file (.scenario) holds several scenarios."""
    return sorted(p for p in SCENARIOS.rglob("*") if p.is_file() and p.suffix != ".md")


def scenario_files(protocols: tuple[str, ...] | list[str] | None = None) -> list[Path]:
    """The catalogue's scenarios (the extension says the protocol to people:
    .smtp, .imap, .pop3; the `Protocol:` header says it to the parser). A
    family file stands for its members, named by protocol
    (certificates/expired.scenario plays as certificates/expired.smtp,
    .imap and .pop3: paths the binary takes though no such file exists).
    With `protocols`, only the scenarios whose protocol, as the binary reads
    it, is one of them."""
    files = _scenario_paths()
    if protocols is None:
        return files
    return [p for p in files if scenario_facts(p)["protocol"] in protocols]


def reason(kind: str, text: str, **fields) -> dict:
    """A verdict reason as the server's reports carry them: a kind, the
    fields programs read (`oracle` for "oracle", `expected` and `observed`
    for "outcome"; here also "client-exit", "client-hang" and
    "no-connection"), and a sentence for people that nothing parses."""
    return {"kind": kind, **fields, "text": text}


@dataclass
class RunVerdict:
    passed: bool
    observed: str
    reasons: list[dict]   # see reason()
    # Where the client left a connection's script, when no reason failed it:
    # then the run is neither passed nor failed but "off-script".
    off_script: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.reasons:
            return "fail"
        return "off-script" if self.off_script else "pass"


@functools.cache
def oracles() -> tuple[dict, ...]:
    """The oracles (id and rule) in the order findings are reported, as the
    server binary defines them (`starttls-mock oracles --json`): the one
    list, never retyped here."""
    out = subprocess.run([str(binary("starttls-mock")), "oracles", "--json"],
                         capture_output=True, check=True, timeout=30)
    return tuple(json.loads(out.stdout))


def oracle_ids() -> frozenset[str]:
    return frozenset(o["id"] for o in oracles())


@functools.cache
def certificate_profiles() -> tuple[dict, ...]:
    """The certificate catalogue as the binary defines it (`starttls-mock
    certs --list --json`): name, what is wrong, must_be_refused, its good
    twin, and the verify reason and alert a correct client gives."""
    out = subprocess.run([str(binary("starttls-mock")), "certs", "--list", "--json"],
                         capture_output=True, check=True, timeout=30)
    return tuple(json.loads(out.stdout))


def judge_run(sessions: list[dict], client_status: int | None) -> RunVerdict:
    """Combines the server's verdicts on one scenario's sessions with the
    client's exit status: every session must pass, and a client must not
    claim success where it did not reach its goal (SMTP: delivered the
    message; IMAP: logged in), nor failure where it did."""
    reasons, off_script = [], []
    for s in sessions:
        several = len(sessions) > 1
        prefix = f"connection {s['script_connection']}: " if several else ""
        reasons += [{**r, "connection": s["script_connection"], "text": prefix + r["text"]}
                    if several else r for r in s["reasons"]]
        if s.get("verdict") == "off-script":
            off_script.append(prefix + s["off_script"])
    reached = any(s["goal_reached"] for s in sessions)
    goal = sessions[-1]["goal"]  # the protocol's word: "delivered", "logged-in"
    if client_status is not None and (client_status == 0) != reached:
        reasons.append(reason(
            "client-exit", f"the client exited {client_status} but it was "
                           f"{'' if reached else 'not '}{goal}",
            status=client_status, reached=reached, goal=goal))
    observed = goal if reached else sessions[-1]["observed"]
    return RunVerdict(not reasons and not off_script, observed, reasons, off_script)
