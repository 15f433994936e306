"""The session report's JSON Schema (docs/session-report.schema.json) holds
for real reports: per-session files and the --report aggregate, for SMTP
and IMAP, passing and failing, on and off script, with and without TLS."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from starttls_mock import adapters, harness, running

SCHEMA = json.loads((harness.ROOT / "docs" / "session-report.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

BAD_CLIENT = ("{python} {harness}/bad_client.py --host {host} --port {port} --cafile {cafile}"
              " --servername {servername} --timeout {timeout}")

RUNS = [
    # (scenario, client, what the run shows)
    ("control/hotmail-2009.smtp", "reference", "delivered over TLS"),
    ("stripping/starttls-refused-454.smtp", "reference", "refused, no TLS"),
    ("certificates/wrong-host.smtp", "reference", "a failed handshake with a client alert"),
    ("ordering/starttls-reply-held.smtp", BAD_CLIENT + " --bug tls-before-220", "an oracle with evidence"),
    ("ordering/ehlo-first-over-tls.smtp", BAD_CLIENT + " --bug no-ehlo-after-tls",
     "off script or an oracle"),
    ("control/deferred-handshake.imap", "imaplib", "IMAP logged in"),
    ("stripping/preauth-greeting.imap", "imaplib", "IMAP refused"),
]


def client(spec: str) -> adapters.Adapter:
    if spec.startswith("{python}"):
        return adapters.command_adapter(spec, "require-tls", name="bad_client")
    return adapters.load_adapter(spec)


def problems(report: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in VALIDATOR.iter_errors(report)]


def test_the_schema_is_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("scenario, spec, shows", RUNS, ids=[r[0] for r in RUNS])
def test_real_reports_follow_the_schema(scenario, spec, shows, tmp_path):
    result = running.run(harness.scenario_file(scenario), tmp_path, client(spec))
    assert result.sessions, result.explain()
    streamed = harness.streamed_sessions(tmp_path / "server" / "sessions.jsonl")
    assert len(streamed) == len(result.sessions)
    for report in [*result.sessions, *streamed]:
        assert problems(report) == [], f"{shows}: {scenario}"


def test_a_report_that_breaks_the_schema_is_caught(tmp_path):
    result = running.run(harness.scenario_file("control/hotmail-2009.smtp"), tmp_path,
                         adapters.load_adapter("reference"))
    good = result.sessions[0]
    assert problems(good) == []
    missing = copy.deepcopy(good)
    del missing["goal_reached"]
    assert any("goal_reached" in p for p in problems(missing))
    extra = copy.deepcopy(good)
    extra["surprise"] = 1
    assert problems(extra) != []
    wrong = copy.deepcopy(good)
    wrong["events"][0]["kind"] = "telepathy"
    assert problems(wrong) != []


def test_the_reports_doc_names_every_field_of_the_schema():
    doc = (harness.ROOT / "docs" / "reports.md").read_text()
    missing = [name for name in SCHEMA["properties"] if f"`{name}`" not in doc]
    assert missing == []
    assert "session-report.schema.json" in doc
