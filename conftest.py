"""Loads the starttls-mock pytest plugin (pytest/starttls_mock/plugin.py) for
every test under this directory; pytest.ini puts pytest/ on the path. Only
a conftest.py at the root may name plugins."""

pytest_plugins = ["starttls_mock.plugin"]
