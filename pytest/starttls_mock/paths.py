"""Where starttls-mock's files are.

In a checkout this package is pytest/starttls_mock/: the catalogue is
scenarios/, the adapters and helper clients are in pytest/, and the binaries
in build/bin (or $STARTTLS_BUILD_DIR/bin). Once installed (`cmake --install`
or the Debian package), the generated module `_installed` says where the
install put them: the binaries on the PATH, everything else under
share/starttls-mock/ in the same layout (scenarios/, pytest/clients/,
pytest/expected/, the helper clients in pytest/). $STARTTLS_BUILD_DIR wins
over both, so a build can be tested with an installed plugin.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    from starttls_mock import _installed  # written by cmake --install
except ImportError:
    _installed = None

# The root of the layout: the checkout, or share/starttls-mock.
ROOT = Path(_installed.DATA_DIR) if _installed else Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
# The adapters (clients/), their pins (expected/) and the helper clients.
HARNESS = ROOT / "pytest"


def build_dir() -> Path:
    """The directory whose bin/ holds starttls-mock and starttls-client."""
    if "STARTTLS_BUILD_DIR" in os.environ:
        return Path(os.environ["STARTTLS_BUILD_DIR"]).resolve()
    if _installed:
        return Path(_installed.BIN_DIR).parent
    return ROOT / "build"
