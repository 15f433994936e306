"""Fixtures: a mock server per test, on port 0, in the test's own directory."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
# The starttls-mock plugin (starttls_plugin.py: options, fixtures, the
# catalogue parametrization and the reports) is loaded by ../conftest.py.


@pytest.fixture
def scenario_path():
    """Maps a name such as "hotmail-2009" to its file under scenarios/."""
    def find(name: str) -> Path:
        matches = list(harness.SCENARIOS.rglob(f"{name}.smtp"))
        assert len(matches) == 1, f"scenario {name}: {matches}"
        return matches[0]
    return find


@pytest.fixture
def mock_server(tmp_path):
    """Starts starttls-mock servers for a test and stops them afterwards.

    Calling the fixture's value starts one server and returns it once it is
    ready. At teardown every server still running is stopped; a server that
    exited with an error or printed to stderr fails the test.
    """
    servers: list[harness.MockServer] = []

    def start(*scenarios: Path, sessions: int | None = None,
              listen: str = "127.0.0.1:0") -> harness.MockServer:
        server = harness.MockServer(list(scenarios), tmp_path / f"run{len(servers)}",
                                    sessions=sessions, listen=listen)
        servers.append(server)
        return server.start()

    yield start
    problems = []
    for server in servers:
        code = server.stop() if server.proc.poll() is None else server.proc.returncode
        if code != 0 or server.stderr.strip():
            problems.append(f"starttls-mock exited {code}: {server.stderr.strip()}")
    if problems:
        pytest.fail("\n".join(problems))
