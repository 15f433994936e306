"""Loads the starttls-mock pytest plugin (pytest/starttls_plugin.py) for
every test under this directory; pytest.ini puts pytest/ on the path. Only
a conftest.py at the root may name plugins."""

pytest_plugins = ["starttls_plugin"]
