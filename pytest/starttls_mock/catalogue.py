"""The catalogue as a test, for this repository and any other: a test file
that says

    from starttls_mock.catalogue import test_scenario  # noqa: F401

runs every scenario of the catalogue (and of --scenarios DIR) against the
client under test (--client, --client-cmd, --client-file; --client-policy):
each must pass, judged by the server from the wire and by the client's exit
status, or, with --pins FILE, do what the file pins for it. Test id = the
scenario's name (its path under scenarios/ or under DIR)."""

from __future__ import annotations

import pytest


def test_scenario(starttls_result, starttls_client, starttls_record, starttls_pins):
    result = starttls_result  # the run, started ahead or run now (plugin.py)
    starttls_record(result)
    if starttls_pins is not None:  # --pins FILE: what the client is known to do
        starttls_pins(result)
        return
    if result.verdict == "off-script" and starttls_client.pinned:
        # The reference client follows every script; any other client may
        # take another legal path: neither pass nor fail, no oracle fired
        # (scenarios/README.md, "Other paths").
        pytest.skip(result.explain())
    assert result.verdict == "pass", result.explain()
