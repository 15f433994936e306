"""The starttls-mock pytest plugin: fixtures, the catalogue parametrization,
client options and reports. The checkout's conftest.py loads it; other
projects load it with `-p starttls_mock.plugin` (pytest/ on sys.path).

Fixtures (in the style of pytest-httpserver and aiosmtpd's tests):

- `starttls_mock_factory` (session): starts `starttls-mock serve` on
  127.0.0.1 port 0, waits for its READY line (with a deadline, never a
  sleep), and stops whatever is still running at the end of the session.
- `starttls_server` (function): starts any number of servers for the
  test (scenarios, sessions=, listen=, extra_args=), each ready and in its
  own run directory; teardown fails the test on any server-side error.
- `starttls_mock` (function): one server for the test. Serves the
  scenario named by `@pytest.mark.starttls_scenario("control/hotmail-2009")`
  or by indirect parametrization, or whatever the test passes to
  `starttls_mock.serve(path)`; gives the test `host`, `port`, `cafile`,
  `servername` and `report()` / `sessions()`. Teardown stops the server and
  fails the test if it exited with an error or printed anything on stderr.
- `starttls_scenario`: the catalogue parameter (one scenario file per test,
  id = its path under scenarios/, chosen with --scenario GLOB).
- `starttls_client`, `starttls_policy`: the adapter and policy from the
  command line.
- `starttls_result` (function): the catalogue parameter's scenario run
  against the client under the policy (a running.Result). Outside an xdist
  worker the plugin starts these runs as the session starts, up to
  --scenario-jobs at once, slowest first, and the test waits for its own:
  a scenario's waiting on purpose (stalls, quiet windows, delays) costs no
  CPU, so it overlaps the others' work instead of holding a core.
- `starttls_record`: call it with a running.Result to put the run in the
  JSON/HTML reports and its fields in the JUnit properties.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import fnmatch
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from starttls_mock import adapters, deadlines, harness, pins, policy, running

READY_TIMEOUT = 15.0


# ---------------------------------------------------------------------------
# Options


def pytest_addoption(parser):
    g = parser.getgroup("starttls-mock", "starttls-mock catalogue")
    g.addoption("--client", default=None, metavar="NAME",
                help="built-in client adapter (pytest/clients/NAME.toml): "
                     + ", ".join(adapters.adapter_names()) + "; default reference")
    g.addoption("--client-file", default=None, metavar="FILE",
                help="a client adapter of your own: a TOML file with the keys of "
                     "the built-in ones (pytest/clients/*.toml); its name is the "
                     "file's stem")
    g.addoption("--pins", default=None, metavar="FILE",
                help="hold the client to the pins in FILE (what it is known to do, "
                     "scenario by scenario, as --record-pins writes them) instead "
                     "of to passing: a scenario fails when the client does "
                     "anything else")
    g.addoption("--record-pins", default=None, metavar="FILE",
                help="write what the client did on each scenario of this run to "
                     "FILE, as pins for --pins")
    g.addoption("--client-cmd", default=None, metavar="TEMPLATE",
                help="any client as a command line with {host} {port} {cafile} "
                     "{servername} {from} {to} {message} {timeout} (split like a "
                     "shell would, never run through one)")
    g.addoption("--client-name", default=None, metavar="NAME",
                help="with --client-cmd: the client's name in reports (default custom)")
    g.addoption("--client-version-cmd", default=None, metavar="COMMAND",
                help="with --client-cmd: a command that prints the client's version, "
                     "recorded in reports")
    g.addoption("--client-stdin", default=None, choices=("crlf", "lf"),
                help="with --client-cmd: give the client the message on standard "
                     "input, with CRLF or LF line endings")
    g.addoption("--client-protocol", action="append", default=None, metavar="NAME",
                help="with --client-cmd: a protocol the client speaks, as scenarios "
                     "name it (smtp, imap, pop3); repeatable; it is run on those "
                     "scenarios only (default smtp)")
    g.addoption("--client-resolve", action="store_true", default=False,
                help="with --client-cmd: {host} is the scenario's host name, which "
                     "the harness maps to 127.0.0.1 for the client alone (a private "
                     "/etc/hosts in a mount namespace)")
    g.addoption("--client-policy", default=None, choices=policy.POLICIES,
                help="what the client claims to do; expected outcomes follow it "
                     "(default: the adapter's, require-tls for --client-cmd)")
    g.addoption("--client-timeout", default=None, type=int, metavar="S",
                help="per-step deadline for the client (default: from each "
                     "scenario's own windows)")
    g.addoption("--scenario", action="append", default=[], metavar="GLOB",
                help="run only scenarios whose path under scenarios/ matches "
                     "(e.g. 'stripping/*', 'certificates/wrong-host'); repeatable")
    g.addoption("--scenarios", action="append", default=[], metavar="DIR",
                help="also run the scenarios in this folder of your own, laid out "
                     "like scenarios/ (test id: the path under DIR); repeatable")
    g.addoption("--no-catalogue", action="store_true", default=False,
                help="with --scenarios: run only those, not the built-in catalogue")
    g.addoption("--scenario-jobs", default=None, type=int, metavar="N",
                help="catalogue scenarios run at once in this process (default: "
                     f"{SCENARIO_JOBS_PER_CORE} per core; 1: one at a time, as each "
                     "test comes); an xdist worker runs its tests one at a time")
    g.addoption("--report-json", default=None, metavar="FILE",
                help="write the catalogue results as JSON")
    g.addoption("--report-html", default=None, metavar="FILE",
                help="write a self-contained HTML report (matrix and ladders)")
    g.addoption("--matrix", action="store_true", default=False,
                help="print the catalogue matrix at the end")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "starttls_scenario(path): the scenario starttls_mock serves")
    client, cmd = config.getoption("--client"), config.getoption("--client-cmd")
    client_file = config.getoption("--client-file")
    if sum(bool(x) for x in (client, cmd, client_file)) > 1:
        raise pytest.UsageError("--client, --client-file and --client-cmd exclude each other")
    extras = {"--client-name": config.getoption("--client-name"),
              "--client-version-cmd": config.getoption("--client-version-cmd"),
              "--client-stdin": config.getoption("--client-stdin"),
              "--client-resolve": config.getoption("--client-resolve") or None,
              "--client-protocol": config.getoption("--client-protocol")}
    given = [option for option, value in extras.items() if value is not None]
    if given and not cmd:
        raise pytest.UsageError(f"{', '.join(given)} go with --client-cmd only")
    try:
        adapter = adapters.command_adapter(
            cmd, "require-tls", name=extras["--client-name"] or "custom",
            version_command=extras["--client-version-cmd"] or "",
            stdin={"crlf": "message", "lf": "message-lf", None: ""}[extras["--client-stdin"]],
            resolve=bool(extras["--client-resolve"]),
            protocols=tuple(extras["--client-protocol"] or ("smtp",))) if cmd else \
            adapters.load_adapter_file(Path(client_file)) if client_file else \
            adapters.load_adapter(client or "reference")
        config.stash[PINS] = pins.load_expectations_file(Path(config.getoption("--pins"))) \
            if config.getoption("--pins") else None
    except ValueError as e:
        raise pytest.UsageError(str(e))
    policy = config.getoption("--client-policy") or adapter.policy
    scenario_jobs(config)  # a bad --scenario-jobs is a usage error now
    if config.getoption("--no-catalogue") and not config.getoption("--scenarios"):
        raise pytest.UsageError("--no-catalogue goes with --scenarios DIR only")
    try:
        config.stash[OWN_SCENARIOS] = [
            p for folder in config.getoption("--scenarios")
            for p in harness.user_scenarios(Path(folder), adapter.protocols)]
    except ValueError as e:
        raise pytest.UsageError(f"--scenarios: {e}")
    config.stash[ADAPTER] = adapter
    config.stash[POLICY] = policy
    config.stash[RESULTS] = []
    config.stash[STARTED] = (time.monotonic(), datetime.datetime.now(
        datetime.timezone.utc).isoformat(timespec="seconds"))


ADAPTER = pytest.StashKey["adapters.Adapter"]()
POLICY = pytest.StashKey[str]()
RESULTS = pytest.StashKey[list]()
STARTED = pytest.StashKey[tuple]()
AHEAD = pytest.StashKey[dict]()
OWN_SCENARIOS = pytest.StashKey[list]()
PINS = pytest.StashKey["dict | None"]()


def selected_scenarios(config) -> list[Path]:
    """The catalogue's scenarios (unless --no-catalogue) and those of the
    --scenarios folders, in the protocols the client speaks, narrowed by
    --scenario globs (matched with or without the file's extension)."""
    globs = config.getoption("--scenario")
    files = [] if config.getoption("--no-catalogue") else \
        harness.scenario_files(config.stash[ADAPTER].protocols)
    files += [p for p in config.stash[OWN_SCENARIOS] if p not in files]
    if not globs:
        return files
    out = []
    for path in files:
        rel = harness.relative(path)
        if any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(str(Path(rel).with_suffix("")), g)
               for g in globs):
            out.append(path)
    return out


def pytest_generate_tests(metafunc):
    if "starttls_scenario" in metafunc.fixturenames:
        scenarios = selected_scenarios(metafunc.config)
        metafunc.parametrize("starttls_scenario", scenarios,
                             ids=[harness.relative(p) for p in scenarios])


def expected_cost(path: Path) -> float:
    """A rough duration, for scheduling the slow scenarios first."""
    waits = harness.scenario_facts(path)["stalls"]
    return deadlines.scripted_pauses(path) + (deadlines.client_timeout(path) if waits else 0)


def pytest_collection_modifyitems(session, config, items):
    """Slow catalogue scenarios first (same order on every xdist worker), so
    that -n N is not left waiting for a stall at the end."""
    slots = [i for i, it in enumerate(items)
             if "starttls_scenario" in getattr(it, "fixturenames", ())
             and hasattr(it, "callspec")]
    ordered = sorted((items[i] for i in slots),
                     key=lambda it: -expected_cost(it.callspec.params["starttls_scenario"]))
    for i, item in zip(slots, ordered):
        items[i] = item


# Catalogue scenarios run at once per core by default. A scenario is mostly
# waiting on purpose; the SMTP catalogue needs about 2.4 s of CPU in all, so
# 8 per core keeps both cores busy without stretching the scenarios' windows
# (bench/RESULTS.md: wall time by --scenario-jobs, and the flip test).
SCENARIO_JOBS_PER_CORE = 8


def scenario_jobs(config) -> int:
    jobs = config.getoption("--scenario-jobs")
    if jobs is None:
        jobs = SCENARIO_JOBS_PER_CORE * (os.cpu_count() or 1)
    if jobs < 1:
        raise pytest.UsageError("--scenario-jobs must be at least 1")
    return jobs


def run_item(config, item, work: Path) -> running.Result:
    """The run behind an item's `starttls_result`."""
    return running.run(item.callspec.params["starttls_scenario"], work,
                       config.stash[ADAPTER], config.stash[POLICY],
                       timeout=config.getoption("--client-timeout"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session):
    """Starts the catalogue's runs ahead of their tests, up to --scenario-jobs
    at once, in the items' order (slowest first); each test then waits for
    its own. Not in an xdist worker, which is given its tests one by one and
    cannot know which are its own, nor with --collect-only."""
    config = session.config
    config.stash[AHEAD] = {}
    jobs = scenario_jobs(config)
    adapter = config.stash[ADAPTER]
    runnable = not (adapter.requires and not shutil.which(adapter.requires))
    items = [it for it in getattr(session, "items", [])
             if "starttls_result" in getattr(it, "fixturenames", ())
             and hasattr(it, "callspec")]
    if (jobs == 1 or not items or not runnable or hasattr(config, "workerinput")
            or config.option.collectonly):
        yield
        return
    base = config._tmp_path_factory.mktemp("starttls-ahead")  # noqa: SLF001
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs,
                                                 thread_name_prefix="starttls")
    for i, item in enumerate(items):
        config.stash[AHEAD][item.nodeid] = pool.submit(
            run_item, config, item, base / f"{i:04}")
    try:
        yield
    finally:
        # Runs not yet started are dropped (-x, an interrupt); those running
        # end by their own deadlines.
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------
# Fixtures


class MockFactory:
    """Starts starttls-mock servers; each gets its own port and run directory."""

    def __init__(self, base: Path):
        self.base = base
        self.servers: list[harness.MockServer] = []

    def start(self, *scenarios: Path | str, sessions: int | None = None,
              run_dir: Path | None = None, listen: str = "127.0.0.1:0",
              extra_args: list[str] | None = None,
              ready_timeout: float = READY_TIMEOUT) -> harness.MockServer:
        paths = [harness.scenario_file(s) for s in scenarios]
        run_dir = run_dir or self.base / f"server{len(self.servers)}"
        server = harness.MockServer(paths, run_dir, sessions=sessions, listen=listen,
                                    extra_args=list(extra_args or []))
        self.servers.append(server)
        return server.start(timeout=ready_timeout)

    def stop_all(self) -> None:
        for server in self.servers:
            if server.proc is not None and server.proc.poll() is None:
                server.stop()


def server_problems(servers: list[harness.MockServer]) -> list[str]:
    """Stops the servers still running; says which ones exited with an error
    or printed anything on stderr (a server-side error fails the test)."""
    problems = []
    for server in servers:
        if server.proc is None:
            continue
        code = server.stop() if server.proc.poll() is None else server.proc.returncode
        if code != 0 or server.stderr.strip():
            problems.append(f"starttls-mock exited {code}: {server.stderr.strip()}")
    return problems


class StarttlsMock:
    """What a test gets from the `starttls_mock` fixture."""

    host = "127.0.0.1"

    def __init__(self, factory: MockFactory, run_dir: Path):
        self._factory = factory
        self._run_dir = run_dir
        self.server: harness.MockServer | None = None
        self.scenario: Path | None = None

    def serve(self, scenario: Path | str, sessions: int | None = None) -> "StarttlsMock":
        if self.server is not None:
            raise RuntimeError("starttls_mock serves one scenario per test")
        self.scenario = harness.scenario_file(scenario)
        self.server = self._factory.start(self.scenario, sessions=sessions,
                                          run_dir=self._run_dir)
        return self

    def _started(self) -> harness.MockServer:
        if self.server is None:
            raise RuntimeError("starttls_mock: call serve(scenario) first")
        return self.server

    @property
    def port(self) -> int:
        return self._started().port

    @property
    def cafile(self) -> Path:
        return self._started().cafile

    @property
    def servername(self) -> str:
        return harness.scenario_host(self.scenario)

    @property
    def report_path(self) -> Path:
        return self._started().report_path

    def wait(self, timeout: float = 30.0) -> int:
        """Waits for a server started with sessions=N to exit by itself."""
        return self._started().wait(timeout)

    def stop(self) -> int:
        return self._started().stop()

    def report(self) -> dict:
        return self._started().report()

    def sessions(self) -> list[dict]:
        return self.report()["sessions"]


@pytest.fixture(scope="session")
def starttls_mock_factory(tmp_path_factory):
    factory = MockFactory(tmp_path_factory.mktemp("starttls-mock"))
    yield factory
    factory.stop_all()


@pytest.fixture
def starttls_server(starttls_mock_factory, tmp_path):
    """Starts any number of servers for one test: call it with scenarios
    (and sessions=, listen=, extra_args=) to get a ready harness.MockServer,
    each in its own run directory under the test's tmp_path. Teardown stops
    them and fails the test if any exited with an error or printed anything
    on stderr."""
    servers: list[harness.MockServer] = []

    def start(*scenarios: Path | str, **options) -> harness.MockServer:
        options.setdefault("run_dir", tmp_path / f"run{len(servers)}")
        server = starttls_mock_factory.start(*scenarios, **options)
        servers.append(server)
        return server

    yield start
    if problems := server_problems(servers):
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def starttls_mock(request, starttls_mock_factory, tmp_path):
    mock = StarttlsMock(starttls_mock_factory, tmp_path / "starttls-mock")
    marker = request.node.get_closest_marker("starttls_scenario")
    scenario = getattr(request, "param", None) or (marker.args[0] if marker else None)
    if scenario is not None:
        mock.serve(scenario)
    yield mock
    if mock.server is not None and (problems := server_problems([mock.server])):
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def starttls_client(request) -> adapters.Adapter:
    adapter = request.config.stash[ADAPTER]
    if adapter.requires and not shutil.which(adapter.requires):
        pytest.skip(f"{adapter.requires} is not installed")
    return adapter


@pytest.fixture
def starttls_policy(request) -> str:
    return request.config.stash[POLICY]


@pytest.fixture
def starttls_timeout(request) -> int | None:
    return request.config.getoption("--client-timeout")


@pytest.fixture
def starttls_result(request, starttls_scenario, starttls_client, tmp_path) -> running.Result:
    """The catalogue scenario's run against the client (running.run): the one
    started ahead by the plugin, waited for within the run's own budget, or,
    if none was, run now."""
    ahead = request.config.stash.get(AHEAD, {}).get(request.node.nodeid)
    if ahead is None:
        return run_item(request.config, request.node, tmp_path)
    timeout = request.config.getoption("--client-timeout") or \
        deadlines.client_timeout(starttls_scenario)
    # The run's own deadlines (the client's budget, the server's stop) end it
    # well inside this; a run that outlives it is a harness error.
    return ahead.result(timeout=deadlines.client_budget(timeout) + 120)


@pytest.fixture
def starttls_pins(request):
    """With --pins FILE: a function that fails the test when a run does not
    do what the file pins for its scenario (pins.mismatch); without, None."""
    expected = request.config.stash.get(PINS, None)
    if expected is None:
        return None

    def check(result: running.Result) -> None:
        pinned = expected["scenarios"].get(result.name)
        if why := pins.mismatch(result, pinned, lambda: expected):
            pytest.fail(why, pytrace=False)
    return check


@pytest.fixture
def starttls_record(request):
    """Records a running.Result for the reports and JUnit properties."""
    def record(result: running.Result) -> None:
        rec = result.record()
        request.node.starttls_record = rec
        props = request.node.user_properties
        for key in ("scenario", "protocol", "client", "policy", "expected", "observed",
                    "verdict", "client_exit", "duration_s"):
            props.append((key, rec[key]))
        props.append(("oracles", " ".join(rec["oracles"])))
        props.append(("summary", rec["summary"]))
    return record


# ---------------------------------------------------------------------------
# Collecting results (on the xdist controller too: the record travels on the
# report) and writing the reports


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    rec = getattr(item, "starttls_record", None)
    if rec is not None and report.when == "call":
        report.starttls = rec


def pytest_runtest_logreport(report):
    rec = getattr(report, "starttls", None)
    if rec is None:
        return
    config = _config
    if config is not None:
        if report.failed and rec["verdict"] in ("pass", "off-script"):
            rec = dict(rec, verdict="fail")
        config.stash[RESULTS].append(rec)


_config = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    global _config
    _config = session.config


def report_document(config) -> dict:
    adapter = config.stash[ADAPTER]
    started, started_at = config.stash[STARTED]
    results = sorted(config.stash[RESULTS], key=lambda r: r["scenario"])
    return {
        "client": adapter.name,
        "command": adapter.command,
        "version": adapter.version(),
        "policy": config.stash[POLICY],
        "started_at": started_at,
        "wall_time_s": round(time.monotonic() - started, 3),
        "workers": os.environ.get("PYTEST_XDIST_WORKER_COUNT")
        or str(getattr(config.option, "numprocesses", None) or 0),
        "passed": sum(r["verdict"] == "pass" for r in results),
        "failed": sum(r["verdict"] not in ("pass", "off-script") for r in results),
        "off_script": sum(r["verdict"] == "off-script" for r in results),
        "results": results,
    }


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller writes the reports
    if not config.stash.get(RESULTS, None):
        return
    doc = None
    if target := config.getoption("--record-pins"):
        write_pins(config, Path(target))
    for option, write in (("--report-json", write_json), ("--report-html", write_html)):
        target = config.getoption(option)
        if target:
            doc = doc or report_document(config)
            write(Path(target), doc)


def write_pins(config, path: Path) -> None:
    """--record-pins: each scenario's labels in this run as its pin. The
    file is written whole, or not at all."""
    adapter = config.stash[ADAPTER]
    seen = {r["scenario"]: {frozenset(r["labels"])} for r in config.stash[RESULTS]}
    pins.write_expectations(
        adapter.name, adapter.version(), adapter.command, seen,
        header=f"{adapter.name}: {adapter.description}".rstrip(": "), path=path,
        recorded_with=f"pytest --record-pins {path.name} (one run; review before "
                      "committing)")


def write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")


def write_html(path: Path, doc: dict) -> None:
    from starttls_mock import report_html
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html.render([doc]))


def matrix_lines(results: list[dict]) -> list[str]:
    headers = ("scenario", "verdict", "expected", "observed", "oracles / reasons")
    rows = []
    for r in sorted(results, key=lambda r: r["scenario"]):
        detail = ", ".join(r["labels"]) if r["verdict"] != "pass" else ""
        rows.append((r["scenario"], r["verdict"].upper() if r["verdict"] != "pass"
                     else "pass", r["expected"], r["observed"], detail))
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(4)]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[4]
            for row in [headers, *rows]]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = config.stash.get(RESULTS, None)
    if not results or not config.getoption("--matrix"):
        return
    adapter = config.stash[ADAPTER]
    terminalreporter.section(f"starttls-mock: {adapter.name} ({config.stash[POLICY]})")
    for line in matrix_lines(results):
        terminalreporter.write_line(line)
