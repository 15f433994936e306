"""mysmtp against starttls-mock: every scenario of the installed catalogue,
and ours (scenarios/), each held to the pins in pins/mysmtp.toml."""

from starttls_mock.catalogue import test_scenario  # noqa: F401
