"""Client policies: what a client promises (require-tls, or opportunistic
STARTTLS), and how a run is judged under each. The scenario's Expect: and
every oracle are the require-tls verdict; OPPORTUNISTIC lists what the other
policy changes, scenario by scenario."""

from __future__ import annotations

from starttls_mock import harness

POLICIES = ("require-tls", "opportunistic")

# What --client-policy opportunistic changes, scenario by scenario:
# (expected outcome, oracles that do not count). Everything else keeps the
# scenario's Expect: and every oracle. The reasoning is in
# docs/pytest-plugin.md ("Policies").
OPPORTUNISTIC: dict[str, tuple[str, frozenset[str]]] = {
    # STARTTLS not offered: plain text is what an opportunistic client
    # promises, and the message must get through (credentials still must
    # not: credentials-in-plaintext counts).
    "stripping/starttls-not-advertised.smtp": ("deliver", frozenset({"plaintext-after-refusal"})),
    "stripping/auth-offered-no-starttls.smtp":
        ("deliver", frozenset({"plaintext-after-refusal"})),
    # EHLO refused: falling back to HELO (and plain text) is a SHOULD of
    # RFC 5321 section 3.2, so giving up is allowed too.
    **{f"stripping/{name}.smtp": ("deliver-or-refuse", frozenset({"plaintext-after-refusal"}))
       for name in ("ehlo-refused-500", "ehlo-refused-530", "ehlo-refused-helo-accepted")},
    # STARTTLS offered and refused: RFC 3207 section 4 leaves it to the
    # client to go on (in plain text) or to quit.
    **{f"stripping/starttls-refused-{code}.smtp":
       ("deliver-or-refuse", frozenset({"plaintext-after-refusal"}))
       for code in (354, 454, 500, 501, 502, 530)},
    "injection/220-before-starttls-then-454.smtp":
        ("deliver-or-refuse", frozenset({"plaintext-after-refusal"})),
    # STARTTLS answered with a 2xx that is not 220: no TLS was offered; TLS
    # started anyway is still a finding (tls-without-220).
    **{f"stripping/starttls-answered-{code}.smtp":
       ("deliver-or-refuse", frozenset({"plaintext-after-refusal"}))
       for code in (250, 252)},
    # A failed handshake, then a connection without STARTTLS: RFC 7435
    # fallback to cleartext is allowed.
    "reconnect/alert-then-plain.smtp":
        ("deliver-or-refuse", frozenset({"downgrade-by-reconnect", "plaintext-after-refusal"})),
    "reconnect/reset-then-plain.smtp":
        ("deliver-or-refuse", frozenset({"downgrade-by-reconnect", "plaintext-after-refusal"})),
    # A deferred message retried on a connection without STARTTLS: the same
    # cleartext fallback.
    "reconnect/message-deferred-then-no-starttls.smtp":
        ("deliver-or-refuse", frozenset({"plaintext-after-refusal"})),
    # What no promise lets a client go on after, stated so that every
    # stripping scenario has its line here: a greeting that is no 220, a 421
    # or 221 (the server is closing), a reply that is none to EHLO, and a
    # refusal with replies nobody asked for behind it (curl gives up there
    # even with --ssl, its opportunistic mode).
    **{f"stripping/{name}.smtp": ("refuse", frozenset())
       for name in ("greeting-221", "greeting-354", "greeting-421", "greeting-554",
                    "greeting-nonsense-code", "starttls-refused-421", "starttls-answered-221",
                    "ehlo-refused-421", "ehlo-answered-220", "ehlo-answered-354")},
    "injection/454-then-injected-success.smtp": ("refuse", frozenset()),
    "field/curl-test-980.smtp": ("refuse", frozenset()),
}

def allowed(expected: str, goal: str) -> set[str]:
    """The outcomes an expectation allows: "refuse" allows "refused"; the
    goal's own word ("deliver", "log-in") allows `goal` ("delivered",
    "logged-in"); "X-or-refuse" allows both."""
    if expected == "refuse":
        return {"refused"}
    return {goal, "refused"} if expected.endswith("-or-refuse") else {goal}


def rejudge(sessions: list[dict], scenario: str, policy: str) -> tuple[str, list[dict], list[str]]:
    """The sessions as the policy sees them: (expected, sessions with their
    reasons and oracles re-judged, oracle ids that did not count)."""
    expected = sessions[0]["expected"] if sessions else "?"
    if policy != "opportunistic" or scenario not in OPPORTUNISTIC:
        return expected, sessions, []
    expected, ignored = OPPORTUNISTIC[scenario]
    out, dropped = [], set()
    for s in sessions:
        s = dict(s)
        reasons = []
        for r in s["reasons"]:
            if r["kind"] == "outcome":
                continue
            if r.get("oracle") in ignored:
                dropped.add(r["oracle"])
                continue
            reasons.append(r)
        off_script = s.get("verdict") == "off-script" or bool(s.get("script", {}).get("mismatch"))
        if s["observed"] not in allowed(expected, s["goal"]) and not off_script:
            reasons.insert(0, harness.reason(
                "outcome", f"expected the client to {expected}, observed {s['observed']}",
                expected=expected, observed=s["observed"]))
        s["oracles"] = [o for o in s["oracles"] if o["id"] not in ignored]
        s["reasons"] = reasons
        s["expected"] = expected
        if reasons:
            s["verdict"] = "fail"
        elif off_script:
            s["verdict"] = "off-script"
            m = s["script"]["mismatch"]
            s["off_script"] = s.get("off_script") or (
                f"off script: the client sent \"{m['actual']}\" where scenario line "
                f"{m['line']} expected \"{m['expected']}\"")
        else:
            s["verdict"] = "pass"
        out.append(s)
    return expected, out, sorted(dropped)
