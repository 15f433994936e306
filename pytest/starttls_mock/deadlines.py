"""The deadlines a client is given, derived from the scenario as the binary
describes it (`starttls-mock scenario --json`): never a fixed number."""

from __future__ import annotations

import math
from pathlib import Path

from starttls_mock import harness


def scripted_pauses(scenario: Path) -> float:
    """The time the scenario keeps a correct client waiting on purpose (its
    delay=, quiet= and drip gap windows), in seconds, as the server's parser
    computes it."""
    return harness.scenario_facts(scenario)["scripted_pauses_s"]


def scenario_timeout(scenario: Path) -> float:
    """The server's Timeout for the scenario (its wait for the client)."""
    return harness.scenario_facts(scenario)["timeout_s"]


# The least per-step deadline in a scenario that never stalls. A correct
# client never waits for it there, so it costs such a client nothing; it is
# what keeps a step that a busy machine slows down (a TLS handshake starved of
# CPU while 16 scenarios and other jobs share two cores) from being judged as a
# client that gave up. 1 s was not enough: bench/catalogue_flips.py saw one
# reference run in 2,180 time out its handshake, and 6 in 400 with 32 at once
# and 6 busy processes.
UNHELD_STEP_FLOOR_S = 3


def client_timeout(scenario: Path) -> int:
    """The per-step deadline given to the client: twice the scenario's own
    windows plus half a second, at least 1 s, in whole seconds (some clients
    take nothing else); at least UNHELD_STEP_FLOOR_S where the scenario never
    stalls (a scenario that stalls keeps the tight deadline, which is how
    long a correct client takes to give up there); and always well inside the
    server's Timeout, so a correct client gives up before the server calls it
    a hang."""
    t = max(1, math.ceil(2 * scripted_pauses(scenario) + 0.5))
    if not harness.scenario_facts(scenario)["stalls"]:
        t = max(t, UNHELD_STEP_FLOOR_S)
    return min(t, max(1, int(scenario_timeout(scenario) / 3)))


def client_budget(timeout: int) -> float:
    """How long the harness lets the client run before killing it: the
    reference client's whole-session deadline (4 steps) and 2 s to spare."""
    return 4 * timeout + 2.0
