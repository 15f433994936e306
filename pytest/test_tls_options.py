"""The `tls` step's version and algorithm options reach the handshake: the
server's report shows what was negotiated with the reference client."""

from __future__ import annotations

from starttls_mock import adapters, harness, running


def _run(name: str, tmp_path) -> running.Result:
    return running.run(harness.scenario_file(name), tmp_path,
                       adapters.load_adapter("reference"))


def _tls(name: str, tmp_path) -> dict:
    result = _run(f"tls/{name}.smtp", tmp_path)
    assert result.passed, result.explain()
    return result.sessions[0]["tls"]


def test_max_and_ciphers_select_tls12_with_that_cipher(tmp_path):
    tls = _tls("tls12-only", tmp_path)
    assert tls["version"] == "TLSv1.2"
    assert tls["cipher"] == "ECDHE-ECDSA-AES128-GCM-SHA256"


def test_without_options_the_reference_client_gets_tls13(tmp_path):
    result = _run("control/responder-only.smtp", tmp_path)
    assert result.sessions[0]["tls"]["version"] == "TLSv1.3"


def test_min_13_with_groups_still_negotiates_tls13(tmp_path):
    assert _tls("tls13-p256-only", tmp_path)["version"] == "TLSv1.3"


def test_a_tls10_only_server_is_refused_by_protocol_version(tmp_path):
    tls = _tls("tls10-only", tmp_path)
    assert not tls["established"]
    assert tls["client_alert"] == "protocol_version"
