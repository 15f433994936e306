"""The starttls-mock pytest plugin and its harness, one concern per module:

- plugin: options, fixtures (starttls_mock_factory, starttls_server,
  starttls_mock, starttls_client, ...), the catalogue parametrization and
  the JSON/HTML/JUnit reports. Load it with `-p starttls_mock.plugin`.
- harness: the `starttls-mock` and client processes (every wait has a
  deadline), the binary's own descriptions of scenarios and oracles, and
  the verdict over a run's sessions.
- adapters: how a client is run (pytest/clients/*.toml, --client-cmd).
- deadlines: the client's deadlines, derived from the scenario.
- policy: require-tls and opportunistic, and how each judges a run.
- running: run(), the one way to run a client against a scenario.
- pins: what each third-party client is pinned to (pytest/expected/).
- report_html: the HTML report, rendered from the JSON one.
"""
