"""Every bad input is one line on stderr and a non-zero exit, before anything
is served or written: 2 for bad usage or a malformed file, 1 for a server
that cannot run where it was told to (docs/command-line.md, "serve"). The
malformed-scenario cases are in test_server_lifecycle.py, the certificate
command's in test_certs_cli.py."""

from __future__ import annotations

import socket
import subprocess

import pytest

from starttls_mock import harness


HOTMAIL = harness.SCENARIOS / "control" / "hotmail-2009.smtp"


def run(*argv, timeout=30):
    return subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def mock(*args):
    return run(harness.binary("starttls-mock"), *args)


def one_line(done) -> str:
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("args, status, words", [
    ([], 2, "subcommand"),
    (["frob"], 2, 'unknown subcommand "frob"'),
    (["serve"], 2, "scenario"),
    (["serve", HOTMAIL, "--frob"], 2, "--frob"),
    (["serve", HOTMAIL, "--sessions", "x"], 2, "--sessions"),
    (["serve", HOTMAIL, "--sessions", "0"], 2, "--sessions: Value 0 not in range 1 to"),
    (["serve", HOTMAIL, "--threads", "0"], 2, "--threads"),
    (["serve", HOTMAIL, "--session-timeout", "10"], 2,
     '--session-timeout: must be a duration such as 30s or 250ms, not "10"'),
    (["serve", HOTMAIL, "--run-timeout", "0s"], 2,
     '--run-timeout: must be a duration such as 30s or 250ms, not "0s"'),
    (["serve", "/nonexistent/x.smtp"], 2, "/nonexistent/x.smtp: no such file"),
    (["serve", harness.SCENARIOS], 2, f"{harness.SCENARIOS}: a directory, not a scenario file"),
    (["serve", "control/no-such-scenario"], 2,
     f"control/no-such-scenario: no such file, here or in the catalogue ({harness.SCENARIOS})"),
    (["scenario"], 2, "name a scenario, or give --catalogue"),
    (["scenario", "certificates/expired.nntp"], 2, "no such file, here or in the catalogue"),
])
def test_bad_usage_and_unreadable_scenarios(tmp_path, args, status, words):
    done = mock(*args, "--run-dir", tmp_path / "run") if args[:1] == ["serve"] and len(args) > 1 \
        else mock(*args)
    assert done.returncode == status
    assert done.stdout == ""
    assert words in one_line(done)
    assert not (tmp_path / "run").exists()


def test_a_catalogue_named_by_the_environment_must_exist(tmp_path):
    missing = tmp_path / "no-catalogue"
    done = subprocess.run([str(harness.binary("starttls-mock")), "scenario", "--catalogue"],
                          capture_output=True, text=True, timeout=30,
                          env={"STARTTLS_MOCK_SCENARIOS": str(missing), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert done.stdout == ""
    assert one_line(done) == (f"starttls-mock: {missing}: cannot read the catalogue: "
                              "No such file or directory")


def test_a_run_directory_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = mock("serve", HOTMAIL, "--run-dir", blocker / "run")
    assert done.returncode == 1
    assert done.stdout == "", "nothing is served"
    assert "--run-dir" in one_line(done)


def test_an_unwritable_report_is_refused_before_serving(tmp_path):
    done = mock("serve", HOTMAIL, "--run-dir", tmp_path / "run",
                "--report", tmp_path, "--sessions", "1")
    assert done.returncode == 1
    assert done.stdout == "", "no READY line: nothing is served"
    assert str(tmp_path) in one_line(done)
    assert not (tmp_path / "run").exists(), "the run directory it made is gone"


def test_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = mock("serve", HOTMAIL, "--run-dir", tmp_path / "run",
                    "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "cannot listen" in one_line(done)
    assert not (tmp_path / "run").exists(), "nothing is written"


def test_a_run_directory_it_creates_is_the_owners_alone(tmp_path):
    run_dir = tmp_path / "new" / "run"
    proc = subprocess.Popen([str(harness.binary("starttls-mock")), "serve", str(HOTMAIL),
                             "--run-dir", str(run_dir)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        harness.read_ready_line(proc, timeout=15)
        assert (run_dir.stat().st_mode & 0o777) == 0o700
        keys = list((run_dir / "pki").rglob("*key*.pem"))
        assert keys
        assert all((k.stat().st_mode & 0o777) == 0o600 for k in keys)
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    assert proc.returncode == 0


@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.0.1:70000", "nohost:25", "[::1:25"])
def test_a_malformed_listen_address(tmp_path, listen):
    done = mock("serve", HOTMAIL, "--run-dir", tmp_path / "run", "--listen", listen)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "--listen" in one_line(done)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, status, words", [
    (["import", "/nonexistent/t.txt"], 2, "/nonexistent/t.txt: cannot read"),
    (["import", "{transcript}", "--format", "frob"], 2,
     '--format must be auto, telnet, script, swaks, curl or s_client, not "frob"'),
    (["import", "{transcript}", "--expect", "maybe"], 2, "--expect must be"),
    (["import", "{transcript}", "--out", "/nonexistent/dir/x.smtp"], 1,
     "/nonexistent/dir/x.smtp"),
    (["record", "--upstream", "nohost", "--out", "{out}"], 2,
     "--upstream nohost: expected HOST:PORT"),
    (["record", "--upstream", "127.0.0.1:x", "--out", "{out}"], 2, "--upstream 127.0.0.1:x: bad port"),
    (["record", "--upstream", "127.0.0.1:25", "--out", "{out}", "--delays", "soon"], 2,
     '--delays must be a duration such as 20ms, not "soon"'),
    (["record", "--upstream", "127.0.0.1:25", "--out", "{out}", "--timeout", "0s"], 2,
     "--timeout must be a duration"),
    (["record", "--upstream", "127.0.0.1:25", "--out", "{out}", "--sessions", "0"], 2,
     "--sessions: Value 0 not in range 1 to 100"),
    (["import", "{transcript}", "--protocol", "pop3", "--format", "telnet"], 2,
     "the telnet format reads SMTP sessions only"),
    (["record", "--upstream", "127.0.0.1:110", "--out", "{out}", "--protocol", "gopher"], 2,
     '--protocol must be one of smtp, imap, pop3, not "gopher"'),
])
def test_import_and_record_refuse_bad_input_with_one_line(tmp_path, args, status, words):
    transcript = tmp_path / "t.txt"
    transcript.write_text("S: 220 hi\nC: EHLO x\nS: 250 ok\n")
    out = tmp_path / "out.smtp"
    done = mock(*[a.format(transcript=transcript, out=out) for a in args])
    assert done.returncode == status
    assert done.stdout == ""
    assert words in one_line(done)
    assert not out.exists()


def test_a_pop3_answer_whose_dot_is_missing_is_refused_where_it_began(tmp_path):
    transcript = tmp_path / "capa.txt"
    transcript.write_text("S: +OK ready\nC: CAPA\nS: +OK\nS: STLS\nC: STLS\n")
    out = tmp_path / "out.pop3"
    done = mock("import", str(transcript), "--protocol", "pop3", "--out", str(out))
    assert done.returncode == 2 and done.stdout == ""
    assert one_line(done) == (f"{transcript}:5:1: a client line inside the answer over "
                              'several lines begun on line 3 (its "." line is missing)')
    assert not out.exists()


def client(*args):
    return run(harness.binary("starttls-client"), *args)


@pytest.mark.parametrize("args, words", [
    ([], "--host"),
    (["--host", "127.0.0.1", "--port", "x"], "--port"),
    (["--host", "127.0.0.1", "--port", "25", "--frob"], "--frob"),
    (["--host", "127.0.0.1", "--port", "25", "--timeout", "-1"], "--timeout"),
    (["--host", "127.0.0.1", "--port", "25", "--message", "/nonexistent/m"], "/nonexistent/m"),
    (["--host", "127.0.0.1", "--port", "25", "--cafile", "/nonexistent/ca.pem"], "/nonexistent/ca.pem"),
    (["--protocol", "pop3", "--host", "127.0.0.1", "--port", "110"],
     "--protocol pop3 needs --auth-user"),
    (["--protocol", "pop4", "--host", "127.0.0.1", "--port", "110"], "--protocol"),
    (["--protocol", "pop3", "--host", "127.0.0.1", "--port", "110", "--auth-user", "u",
      "--auth-password", "p", "--save-messages", "/nonexistent/dir"], "--save-messages"),
])
def test_the_client_refuses_bad_input_with_one_line(args, words):
    done = client(*args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    line = one_line(done)
    assert line.startswith("starttls-client: usage-error: ")
    assert words in line
