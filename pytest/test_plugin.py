"""The pytest plugin end to end: real pytest runs in subprocesses with the
command-line options (--client-cmd, --client, --client-policy, --scenario,
-n, --report-json, --junitxml), the starttls_mock fixture's contract, the
template splitting, and the policy mapping."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from starttls_mock import adapters, deadlines, harness, pins, plugin, policy, running

PYTHON = "/usr/bin/python3"
HERE = Path(__file__).resolve().parent
BAD_CLIENT = HERE / "bad_client.py"
RUN_BUDGET = 100  # seconds for one inner pytest run


def pytest_run(tmp_path: Path, *args: str, cwd: Path = harness.ROOT,
               budget: float = RUN_BUDGET) -> subprocess.CompletedProcess:
    argv = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider",
            "--basetemp", str(tmp_path / "inner"), *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=budget)


def bad_client_cmd(*bugs: str) -> str:
    words = [PYTHON, str(BAD_CLIENT), "--host", "{host}", "--port", "{port}",
             "--cafile", "{cafile}", "--servername", "{servername}",
             "--timeout", "{timeout}", "--from", "{from}", "--to", "{to}",
             "--message", "{message}"]
    for bug in bugs:
        words += ["--bug", bug]
    return shlex.join(words)


def test_a_client_given_only_as_a_command_line_is_judged(tmp_path):
    """--client-cmd with xdist: the buggy client fails exactly the scenarios
    built for its bug, and every report says so."""
    report, junit = tmp_path / "r.json", tmp_path / "junit.xml"
    done = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario", "-n", "2",
                      "--client-cmd", bad_client_cmd("no-hostname-check"),
                      "--scenario", "certificates/wrong-host",
                      "--scenario", "certificates/valid*", "--scenario", "certificates/expired",
                      "--report-json", str(report), "--junitxml", str(junit), "--matrix")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 2 passed" in done.stdout, done.stdout
    # The failure message names expected, observed, the oracles and the evidence.
    assert "expected refuse, observed delivered: fail" in done.stdout
    assert "oracles: proceeded-after-bad-certificate" in done.stdout
    assert "evidence: connection 1 proceeded-after-bad-certificate at event" in done.stdout
    # The matrix.
    assert "certificates/wrong-host.smtp  FAIL" in done.stdout

    doc = json.loads(report.read_text())
    assert doc["client"] == "custom" and doc["policy"] == "require-tls"
    assert doc["command"] == bad_client_cmd("no-hostname-check")
    assert doc["wall_time_s"] > 0 and (doc["passed"], doc["failed"]) == (2, 1)
    by = {r["scenario"]: r for r in doc["results"]}
    assert set(by) == {"certificates/wrong-host.smtp", "certificates/valid.smtp",
                       "certificates/expired.smtp"}
    bad = by["certificates/wrong-host.smtp"]
    assert (bad["verdict"], bad["expected"], bad["observed"]) == ("fail", "refuse", "delivered")
    assert bad["oracles"] == ["proceeded-after-bad-certificate"]
    assert bad["category"] == "certificates" and bad["client_exit"] == 0
    assert bad["protocol"] == "smtp"
    assert bad["evidence"][0]["oracle"] == "proceeded-after-bad-certificate"
    assert isinstance(bad["evidence"][0]["event"], int)
    assert bad["sessions"][0]["events"], "the session's events travel with the result"
    assert by["certificates/expired.smtp"]["verdict"] == "pass"
    assert by["certificates/expired.smtp"]["client_exit"] == 7

    # JUnit: properties per test, and the explanation in the failure text.
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    case = cases["test_scenario[certificates/wrong-host.smtp]"]
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["verdict"] == "fail" and props["expected"] == "refuse"
    assert props["protocol"] == "smtp"
    assert props["oracles"] == "proceeded-after-bad-certificate"
    assert props["summary"].startswith("certificate profile wrong-host")
    failure = case.find("failure")
    assert failure is not None and "expected refuse, observed delivered" in (
        failure.get("message", "") + (failure.text or ""))
    passed = cases["test_scenario[certificates/valid.smtp]"]
    assert passed.find("failure") is None
    assert {p.get("name"): p.get("value") for p in passed.iter("property")}["verdict"] == "pass"


def test_a_built_in_adapter_and_the_opportunistic_policy(tmp_path):
    """--client curl --client-policy opportunistic: curl with --ssl-reqd
    refuses a server without STARTTLS, which an opportunistic client must
    deliver to; the reference client under the same policy delivers."""
    report = tmp_path / "r.json"
    done = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario",
                      "--client", "curl", "--client-policy", "opportunistic",
                      "--scenario", "stripping/starttls-not-advertised",
                      "--report-json", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    [r] = json.loads(report.read_text())["results"]
    assert (r["client"], r["policy"], r["expected"], r["observed"]) == (
        "curl", "opportunistic", "deliver", "refused")
    done = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario",
                      "--client-policy", "opportunistic",
                      "--scenario", "stripping/starttls-not-advertised",
                      "--report-json", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    [r] = json.loads(report.read_text())["results"]
    assert (r["client"], r["expected"], r["observed"], r["verdict"]) == (
        "reference", "deliver", "delivered", "pass")
    # It sent MAIL in plain text, as it promised: that oracle does not count.
    assert r["ignored_oracles"] == ["plaintext-after-refusal"]
    assert r["oracles"] == []


@pytest.mark.parametrize("args, error", [
    (["--client", "no-such-client"], "unknown client 'no-such-client'"),
    (["--client", "curl", "--client-cmd", "x {host}"], "exclude each other"),
    (["--client-cmd", "x --port {prot}"], "unknown placeholder {prot}"),
    (["--client-cmd", "x 'unclosed"], "No closing quotation"),
    (["--client-name", "mine"], "--client-name go with --client-cmd only"),
    (["--client", "curl", "--client-resolve"], "--client-resolve go with --client-cmd only"),
    (["--scenario-jobs", "0"], "--scenario-jobs must be at least 1"),
])
def test_bad_options_are_usage_errors(tmp_path, args, error):
    done = pytest_run(tmp_path, "pytest/test_catalogue.py", "--collect-only", *args,
                      budget=30)
    assert done.returncode == 4, done.stdout + done.stderr
    assert error in done.stderr


def test_scenario_globs_select_and_ids_are_paths(tmp_path):
    done = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario", "--collect-only",
                      "-q", "--scenario", "stripping/starttls-refused-4*",
                      "--scenario", "tls/tls1?-only.smtp", budget=30)
    assert done.returncode == 0, done.stdout + done.stderr
    ids = sorted(line.split("[", 1)[1].rstrip("]") for line in done.stdout.splitlines()
                 if "::test_scenario[" in line)
    assert ids == ["stripping/starttls-refused-421.smtp", "stripping/starttls-refused-454.smtp",
                   "tls/tls10-only.smtp", "tls/tls12-only.smtp"]


def own_scenarios(tmp_path: Path) -> Path:
    """A folder of one's own: an SMTP scenario, a family (one file, three
    protocols) and an IMAP scenario the SMTP client does not speak."""
    folder = tmp_path / "own"
    (folder / "mine").mkdir(parents=True)
    (folder / "mine" / "my-hotmail.smtp").write_text(
        (harness.SCENARIOS / "control/hotmail-2009.smtp").read_text())
    (folder / "mine" / "my-expired.scenario").write_text(
        (harness.SCENARIOS / "certificates/expired.scenario").read_text())
    (folder / "imap-only.imap").write_text(
        (harness.SCENARIOS / "control/deferred-handshake.imap").read_text())
    (folder / "README.md").write_text("not a scenario\n")
    return folder


def test_own_scenarios_run_alongside_or_instead_of_the_catalogue(tmp_path):
    folder = own_scenarios(tmp_path)
    both = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario", "--collect-only",
                      "-q", "--scenarios", str(folder), budget=30)
    assert both.returncode == 0, both.stdout + both.stderr
    ids = [line.split("[", 1)[1].rstrip("]") for line in both.stdout.splitlines()
           if "::test_scenario[" in line]
    assert {"mine/my-hotmail.smtp", "mine/my-expired.smtp",
            "control/hotmail-2009.smtp"} <= set(ids)
    assert not any(i.endswith((".imap", ".pop3", ".md")) for i in ids), ids
    report, junit = tmp_path / "r.json", tmp_path / "junit.xml"
    alone = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario",
                       "--scenarios", str(folder), "--no-catalogue",
                       "--report-json", str(report), "--junitxml", str(junit))
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert "2 passed" in alone.stdout, alone.stdout
    names = sorted(r["scenario"] for r in json.loads(report.read_text())["results"])
    assert names == ["mine/my-expired.smtp", "mine/my-hotmail.smtp"]
    cases = sorted(c.get("name") for c in ET.parse(junit).iter("testcase"))
    assert cases == ["test_scenario[mine/my-expired.smtp]", "test_scenario[mine/my-hotmail.smtp]"]


def test_own_scenarios_are_judged_like_the_catalogues(tmp_path):
    """A client that skips the host name check fails the user's copy of
    certificates/wrong-host as it fails the original."""
    folder = tmp_path / "own"
    folder.mkdir()
    (folder / "their-wrong-host.scenario").write_text(
        (harness.SCENARIOS / "certificates/wrong-host.scenario").read_text())
    done = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario",
                      "--scenarios", str(folder), "--no-catalogue",
                      "--client-cmd", bad_client_cmd("no-hostname-check"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout, done.stdout
    assert "oracles: proceeded-after-bad-certificate" in done.stdout


HOTMAIL = (harness.SCENARIOS / "control/hotmail-2009.smtp").read_text()


# A folder given to --scenarios, as {path under it: content}; None: no
# --scenarios at all, "missing": a folder that does not exist.
@pytest.mark.parametrize("files, error", [
    (None, "--no-catalogue goes with --scenarios DIR only"),
    ("missing", "not a folder of scenarios"),
    ({}, "no scenario files in it"),
    ({"x.smtp": "Protocol: smtp\nbogus line\n"}, "x.smtp:2:1: unknown step"),
    ({"control/hotmail-2009.smtp": HOTMAIL},
     "control/hotmail-2009.smtp also in the built-in catalogue"),
])
def test_bad_scenario_folders_are_usage_errors(tmp_path, files, error):
    folder = tmp_path / "own"
    if isinstance(files, dict):
        folder.mkdir()
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    args = ["--no-catalogue"] + (["--scenarios", str(folder)] if files is not None else [])
    done = pytest_run(tmp_path, "pytest/test_catalogue.py", "--collect-only", *args,
                      budget=30)
    assert done.returncode == 4, done.stdout + done.stderr
    assert error in done.stderr


def client_file(folder: Path, name: str, *bugs: str) -> Path:
    """An adapter file of one's own: bad_client with the given bugs."""
    path = folder / f"{name}.toml"
    path.write_text(f'description = "bad_client {" ".join(bugs)}"\n'
                    f"command = {json.dumps(bad_client_cmd(*bugs))}\n")
    return path


def test_a_client_file_is_held_to_its_own_pins(tmp_path):
    """--record-pins writes what the client did; --pins then passes while it
    does the same, and fails, naming the pin, when its behaviour changes."""
    pins_file = tmp_path / "expected" / "mine.toml"
    scenarios = ["--scenario", "certificates/wrong-host", "--scenario", "certificates/valid",
                 "--scenario", "control/hotmail-2009"]
    buggy = client_file(tmp_path, "mine", "no-hostname-check")
    recorded = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario", "-n", "2",
                          "--client-file", str(buggy), *scenarios,
                          "--record-pins", str(pins_file))
    assert "1 failed, 2 passed" in recorded.stdout, recorded.stdout + recorded.stderr
    written = pins.load_expectations_file(pins_file)["scenarios"]
    assert written == {
        "certificates/valid.smtp": {frozenset()},
        "control/hotmail-2009.smtp": {frozenset()},
        "certificates/wrong-host.smtp": {frozenset({"proceeded-after-bad-certificate",
                                                    "expected refuse, observed delivered"})}}
    held = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario",
                      "--client-file", str(buggy), *scenarios, "--pins", str(pins_file))
    assert held.returncode == 0 and "3 passed" in held.stdout, held.stdout + held.stderr
    # The same client, fixed: a change of behaviour is a failing test.
    (tmp_path / "fixed").mkdir()
    fixed = client_file(tmp_path / "fixed", "mine")
    changed = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario",
                         "--client-file", str(fixed), *scenarios, "--pins", str(pins_file))
    assert changed.returncode == 1 and "1 failed, 2 passed" in changed.stdout, changed.stdout
    assert ("mine on certificates/wrong-host.smtp: pinned ['expected refuse, observed "
            "delivered', 'proceeded-after-bad-certificate'], got pass") in changed.stdout
    # A scenario the file does not pin fails too, saying so.
    unpinned = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario",
                          "--client-file", str(buggy), "--scenario", "certificates/expired",
                          "--pins", str(pins_file))
    assert unpinned.returncode == 1, unpinned.stdout
    assert "certificates/expired.smtp is not pinned: got" in unpinned.stdout


@pytest.mark.parametrize("content, args, error", [
    ('command = "x {host}"\nbogus = 1\n', [], "mine.toml: unknown key 'bogus'"),
    ('command = \n', [], "mine.toml:1:11: Invalid value"),
    ('policy = "require-tls"\n', [], "mine.toml: no 'command'"),
    ('command = "x {hots}"\n', [], "mine.toml: unknown placeholder {hots}"),
    ('command = "x {host}"\n', ["--client", "curl"], "exclude each other"),
    ('command = "x {host}"\n', ["--pins", "/nonexistent/pins.toml"],
     "/nonexistent/pins.toml: No such file or directory"),
    ('command = "x {host}"\n', ["--pins", "BAD_PINS"], "bad-pins.toml:2:12: Invalid value"),
])
def test_bad_client_files_and_pins_are_usage_errors(tmp_path, content, args, error):
    (tmp_path / "mine.toml").write_text(content)
    bad_pins = tmp_path / "bad-pins.toml"
    bad_pins.write_text('[scenarios]\n"a.smtp" = \n')
    args = [str(bad_pins) if a == "BAD_PINS" else a for a in args]
    done = pytest_run(tmp_path, "pytest/test_catalogue.py", "--collect-only",
                      "--client-file", str(tmp_path / "mine.toml"), *args, budget=30)
    assert done.returncode == 4, done.stdout + done.stderr
    assert error in done.stderr


# --- the fixtures, used by a test file of another project (-p starttls_mock.plugin)

INNER_TESTS = '''
import subprocess, pytest

@pytest.mark.starttls_scenario("control/hotmail-2009")
def test_marker_serves_and_hands_out_the_address(starttls_mock):
    assert starttls_mock.host == "127.0.0.1" and starttls_mock.port > 0
    assert starttls_mock.cafile.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert starttls_mock.servername == "mail.example.test"
    argv = [BIN + "/starttls-client", "--host", starttls_mock.host,
            "--port", str(starttls_mock.port), "--cafile", str(starttls_mock.cafile),
            "--servername", starttls_mock.servername, "--timeout", "5"]
    assert subprocess.run(argv, timeout=30).returncode == 0
    starttls_mock.stop()
    [session] = starttls_mock.sessions()
    assert session["verdict"] == "pass" and session["delivered"]

def test_serve_by_name(starttls_mock):
    starttls_mock.serve("stripping/starttls-not-advertised.smtp", sessions=1)
    assert starttls_mock.port > 0

def test_server_error_fails_the_test(starttls_mock):
    starttls_mock.serve("control/hotmail-2009")
    starttls_mock.server.proc.kill()

def test_readiness_has_a_deadline(starttls_mock_factory):
    from starttls_mock import harness
    with pytest.raises(harness.ServerError, match="no READY line within"):
        starttls_mock_factory.start("control/hotmail-2009", ready_timeout=0.000001)
'''


def test_the_fixtures_from_another_project(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_inner.py").write_text(
        f"BIN = {str(harness.build_dir() / 'bin')!r}\n" + INNER_TESTS)
    env_args = ["-p", "starttls_mock.plugin", "-c", "/dev/null", "--rootdir", str(project),
                "-p", "no:xdist", "-v", str(project / "test_inner.py")]
    argv = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider",
            "--basetemp", str(tmp_path / "inner"), *env_args]
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True,
                          timeout=RUN_BUDGET, env={"PYTHONPATH": str(HERE),
                                                   "PATH": "/usr/bin:/bin"})
    out = done.stdout + done.stderr
    assert "test_marker_serves_and_hands_out_the_address PASSED" in out, out
    assert "test_serve_by_name PASSED" in out, out
    assert "test_readiness_has_a_deadline PASSED" in out, out
    # The killed server fails its test at teardown, saying why.
    assert "test_server_error_fails_the_test ERROR" in out, out
    assert "starttls-mock exited -9" in out, out
    assert done.returncode == 1


# --- units


def test_a_template_splits_like_a_shell_and_never_runs_one():
    argv = adapters.expand("client --to {to} --msg '{message}' 'a b' $HOME;true",
                          {"to": "x y@example.test", "message": "/tmp/m e"})
    assert argv == ["client", "--to", "x y@example.test", "--msg", "/tmp/m e", "a b",
                    "$HOME;true"]


def test_client_timeouts_come_from_the_scenario():
    t = deadlines.client_timeout
    # A scenario that stalls: the deadline is how long a correct client
    # takes to give up, so it stays tight.
    assert t(harness.SCENARIOS / "timing/stall-after-ehlo.smtp") == 1
    assert t(harness.SCENARIOS / "timing/greeting-delayed.smtp") == 3   # delay=1s
    # One that never stalls: at least the floor that a busy machine needs.
    assert t(harness.SCENARIOS / "ordering/ehlo-first-over-tls.smtp") == \
        deadlines.UNHELD_STEP_FLOOR_S
    assert t(harness.SCENARIOS / "timing/slow-ehlo-reply-after-tls.smtp") == \
        deadlines.UNHELD_STEP_FLOOR_S
    assert deadlines.scripted_pauses(harness.SCENARIOS / "ordering/starttls-reply-held.smtp") \
        == pytest.approx(0.25)
    # The server's Timeout stays far above every client deadline.
    for path in harness.scenario_files():
        assert deadlines.client_budget(t(path)) < deadlines.scenario_timeout(path) * 2, path


def test_what_the_binary_says_of_a_scenario_drives_the_schedule():
    facts = harness.scenario_facts
    assert facts(harness.SCENARIOS / "timing/stall-after-ehlo.smtp")["stalls"] is True
    assert facts(harness.SCENARIOS / "control/hotmail-2009.smtp")["stalls"] is False
    # A scenario that holds a client until its deadline is scheduled first.
    assert plugin.expected_cost(harness.SCENARIOS / "timing/stall-after-ehlo.smtp") > \
        plugin.expected_cost(harness.SCENARIOS / "control/hotmail-2009.smtp")


def test_the_collected_catalogue_runs_the_slow_scenarios_first(tmp_path):
    done = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [line.split("[", 1)[1].rstrip("]") for line in done.stdout.splitlines()
           if line.startswith("pytest/test_catalogue.py::test_scenario[")]
    assert len(ids) == len(harness.scenario_files(adapters.load_adapter("reference").protocols))
    costs = [plugin.expected_cost(harness.SCENARIOS / i) for i in ids]
    assert costs == sorted(costs, reverse=True)
    assert costs[0] > costs[-1] == 0
    # Not the order they were found in.
    assert ids != sorted(ids)


AHEAD_SCENARIOS = ("certificates/wrong-host", "certificates/valid", "certificates/expired",
                   "timing/stall-after-ehlo", "stripping/starttls-not-advertised",
                   "field/*-cve-*")


def catalogue_verdicts(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    report = tmp_path / "r.json"
    selection = [a for s in AHEAD_SCENARIOS for a in ("--scenario", s)]
    done = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario", *selection,
                      "--client-cmd", bad_client_cmd("no-hostname-check"),
                      "--report-json", str(report), *args)
    assert report.exists(), done.stdout + done.stderr
    doc = json.loads(report.read_text())
    return done, {r["scenario"]: (r["verdict"], r["expected"], r["observed"], r["oracles"])
                  for r in doc["results"]}


def test_scenarios_run_ahead_are_judged_as_when_run_one_at_a_time(tmp_path):
    """--scenario-jobs N starts the runs ahead of their tests (each gets a
    directory under the run's starttls-ahead); --scenario-jobs 1 runs each
    in its own test: the same verdicts, the failure included."""
    ahead, by_ahead = catalogue_verdicts(tmp_path / "ahead", "--scenario-jobs", "6")
    alone, by_alone = catalogue_verdicts(tmp_path / "alone", "--scenario-jobs", "1")
    assert ahead.returncode == alone.returncode == 1, ahead.stdout + alone.stdout
    assert by_ahead == by_alone
    assert by_ahead["certificates/wrong-host.smtp"][:3] == ("fail", "refuse", "delivered")
    assert len(by_ahead) > 5
    ran_ahead = list((tmp_path / "ahead" / "inner").glob("starttls-ahead0/*"))
    assert len(ran_ahead) == len(by_ahead)
    assert not list((tmp_path / "alone" / "inner").glob("starttls-ahead*"))


def test_an_xdist_worker_runs_its_scenarios_in_their_tests(tmp_path):
    done, verdicts = catalogue_verdicts(tmp_path, "-n", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert verdicts["certificates/wrong-host.smtp"][0] == "fail"
    assert not list((tmp_path / "inner").glob("**/starttls-ahead*"))


def test_a_scenario_is_found_by_path_by_catalogue_name_or_by_unique_file_name(tmp_path):
    hotmail = harness.SCENARIOS / "control" / "hotmail-2009.smtp"
    assert harness.scenario_file("control/hotmail-2009") == hotmail
    assert harness.scenario_file("control/hotmail-2009.smtp") == hotmail
    assert harness.scenario_file("hotmail-2009") == hotmail
    assert harness.scenario_file(hotmail) == hotmail
    with pytest.raises(FileNotFoundError, match="no scenario nowhere/gone"):
        harness.scenario_file("nowhere/gone")
    # Without its extension a name that two protocols share is refused.
    with pytest.raises(FileNotFoundError, match="ambiguous: control/responder-only.imap, "
                                                "control/responder-only.pop3, "
                                                "control/responder-only.smtp"):
        harness.scenario_file("control/responder-only")


def test_the_servers_of_one_test_each_get_a_port_and_a_run_directory(starttls_server):
    one = starttls_server("control/hotmail-2009", sessions=1)
    two = starttls_server("hotmail-2009", listen="[::1]:0")
    assert one.port > 0 and two.port > 0 and one.run_dir != two.run_dir
    assert two.listen == "[::1]:0"


def outcome(expected, observed):
    return harness.reason("outcome", f"expected the client to {expected}, observed {observed}",
                          expected=expected, observed=observed)


def oracle(o):
    return harness.reason("oracle", f"{o}: message", oracle=o)


def session(expected="refuse", observed="delivered", oracles=("plaintext-after-refusal",)):
    reasons = ([outcome(expected, observed)]
               if observed not in policy.allowed(expected, "delivered") else [])
    reasons += [oracle(o) for o in oracles]
    return {"expected": expected, "observed": observed, "delivered": observed == "delivered",
            "goal": "delivered", "goal_reached": observed == "delivered",
            "reasons": reasons, "script_connection": 1, "connection": 1,
            "oracles": [{"id": o, "message": "m", "evidence": []} for o in oracles]}


def test_an_expectation_allows_its_goal_refusal_or_both_whatever_the_protocol():
    assert policy.allowed("deliver", "delivered") == {"delivered"}
    assert policy.allowed("log-in-or-refuse", "logged-in") == {"logged-in", "refused"}
    assert policy.allowed("refuse", "logged-in") == {"refused"}


def test_opportunistic_policy_rejudges_stripping():
    name = "stripping/starttls-not-advertised.smtp"
    expected, [s], ignored = policy.rejudge([session()], name, "opportunistic")
    assert (expected, s["reasons"], ignored) == ("deliver", [], ["plaintext-after-refusal"])
    # Giving up is wrong for a client that promised plain text.
    expected, [s], _ = policy.rejudge([session(observed="refused", oracles=())], name,
                                       "opportunistic")
    assert s["reasons"] == [outcome("deliver", "refused")]
    # Other oracles still count.
    _, [s], _ = policy.rejudge([session(oracles=("plaintext-after-refusal",
                                                  "credentials-in-plaintext"))],
                                name, "opportunistic")
    assert s["reasons"] == [oracle("credentials-in-plaintext")]
    # Under require-tls nothing changes.
    _, [s], ignored = policy.rejudge([session()], name, "require-tls")
    assert len(s["reasons"]) == 2 and ignored == []
    # Nor for a scenario the policy does not concern.
    _, [s], _ = policy.rejudge([session(oracles=("plaintext-after-refusal",))],
                                "ordering/starttls-reply-held.smtp", "opportunistic")
    assert len(s["reasons"]) == 2


def test_every_opportunistic_entry_names_a_scenario():
    catalogue = {harness.relative(p) for p in harness.scenario_files(("smtp",))}
    assert set(policy.OPPORTUNISTIC) <= catalogue
    assert {n for n in catalogue if n.startswith("stripping/")} <= set(policy.OPPORTUNISTIC)


@pytest.mark.parametrize("reason, label", [
    ({**outcome("refuse", "delivered"), "connection": 2}, "expected refuse, observed delivered"),
    (harness.reason("client-exit", "words", status=0, reached=False, goal="delivered"),
     "client exited 0, not delivered"),
    (harness.reason("client-exit", "words", status=3, reached=True, goal="delivered"),
     "client exited 3, delivered"),
    (harness.reason("client-exit", "words", status=0, reached=False, goal="logged-in"),
     "client exited 0, not logged-in"),
    (oracle("tls-without-220"), "tls-without-220"),
    (oracle("hang"), "hang"),
    (harness.reason("client-hang", "words", budget_s=6), "client hang"),
    (harness.reason("no-connection", "words"), "no connection"),
])
def test_reasons_become_labels_from_their_fields_not_their_text(reason, label):
    assert pins.label(reason) == label


@pytest.mark.parametrize("reason", [
    oracle("no-such-oracle"),
    harness.reason("something-new", "the server said"),
    {"text": "hang: a sentence alone"},
])
def test_an_unknown_oracle_or_kind_is_an_error_not_silently_labelled(reason):
    with pytest.raises(ValueError):
        pins.label(reason)


def test_the_servers_reasons_carry_kind_oracle_and_outcome(tmp_path):
    # A client that connects and closes at once: refused where delivery is
    # expected, and the hotmail scenario needs nothing more to fail it.
    factory = plugin.MockFactory(tmp_path)
    try:
        server = factory.start("control/hotmail-2009", sessions=1)
        socket.create_connection(("127.0.0.1", server.port), timeout=10).close()
        assert server.wait() == 0
        [session] = server.sessions_reports()
    finally:
        factory.stop_all()
    assert session["reasons"][0] == outcome("deliver", "refused")
    assert [pins.label(r) for r in session["reasons"]] == ["expected deliver, observed refused"]


def test_factory_servers_get_their_own_ports(tmp_path):
    factory = plugin.MockFactory(tmp_path)
    try:
        a = factory.start("control/hotmail-2009")
        b = factory.start("control/hotmail-2009")
        assert a.port != b.port and a.run_dir != b.run_dir
    finally:
        factory.stop_all()
    assert a.proc.returncode == 0 and b.proc.returncode == 0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))


# A client that writes what it was given to a file and exits 3: the test
# reads what the harness handed it (argv, standard input, the name it
# resolved), not whether it delivered.
PROBE = ("import socket, sys, json; "
         "data = sys.stdin.buffer.read(); "
         "open(sys.argv[1], 'w').write(json.dumps(dict(host=sys.argv[2], "
         "resolved=socket.gethostbyname(sys.argv[2]), "
         "stdin_crlf=data.count(b'\\r\\n'), stdin_lf=data.count(b'\\n'), "
         "message_lf=open(sys.argv[3], 'rb').read().count(b'\\r')))); "
         "sys.exit(3)")


def probe(tmp_path: Path, **options) -> tuple[dict, running.Result]:
    out = tmp_path / "probe.json"
    template = shlex.join([PYTHON, "-c", PROBE, str(out), "{host}", "{message_lf}"])
    adapter = adapters.command_adapter(template, "require-tls", **options)
    result = running.run(harness.SCENARIOS / "control" / "hotmail-2009.smtp",
                         tmp_path / "work", adapter)
    return json.loads(out.read_text()), result


def test_a_command_line_client_gets_the_address_by_default(tmp_path):
    seen, result = probe(tmp_path)
    assert seen["host"] == "127.0.0.1"
    assert seen["stdin_lf"] == 0, "no message on standard input unless asked"
    assert seen["message_lf"] == 0, "{message_lf} has no CR"
    assert result.client.returncode == 3


@pytest.mark.skipif(os.geteuid() != 0 and not Path("/proc/sys/kernel/unprivileged_userns_clone")
                    .exists(), reason="needs root or unprivileged user namespaces")
def test_resolve_maps_the_scenarios_host_name_for_the_client_alone(tmp_path):
    seen, _ = probe(tmp_path, resolve=True)
    assert seen["host"] == "mail.example.test"
    assert seen["resolved"] == "127.0.0.1"
    # The machine's own resolver knows nothing of it.
    with pytest.raises(OSError):
        socket.gethostbyname("mail.example.test")


@pytest.mark.parametrize("stdin, crlf", [("message", True), ("message-lf", False)])
def test_the_message_on_standard_input_with_either_line_ending(tmp_path, stdin, crlf):
    seen, _ = probe(tmp_path, stdin=stdin)
    assert seen["stdin_lf"] > 3
    assert (seen["stdin_crlf"] == seen["stdin_lf"]) == crlf


def test_a_command_line_client_has_the_name_and_version_it_is_given(tmp_path):
    report = tmp_path / "r.json"
    done = pytest_run(tmp_path, "pytest/test_catalogue.py::test_scenario",
                      "--client-cmd", bad_client_cmd(), "--client-name", "my-client",
                      "--client-version-cmd", "echo my-client 1.2.3",
                      "--scenario", "control/hotmail-2009", "--report-json", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(report.read_text())
    assert (doc["client"], doc["version"]) == ("my-client", "my-client 1.2.3")
    assert doc["results"][0]["client"] == "my-client"
