"""Loads the starttls-mock pytest plugin (pytest/starttls_mock/plugin.py) for
every test under this directory; pytest.ini puts pytest/ on the path. Only
a conftest.py at the root may name plugins."""

pytest_plugins = ["starttls_mock.plugin"]


def pytest_make_parametrize_id(config, val, argname):
    """A `bugs` parameter (the misbehaving clients' switches) reads as the
    switches it turns on, so a test id says which bug it runs."""
    if argname == "bugs" and isinstance(val, (list, tuple)):
        return "+".join(val) or "no-bug"
    return None
