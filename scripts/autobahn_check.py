#!/usr/bin/env python3
"""Checks Autobahn|Testsuite summaries (index.json) against Eddy's bar and prints a table.

Bar: every case in 1.* to 10.* is OK, or INFORMATIONAL (the suite's verdict where it only informs,
e.g. 7.1.6, 7.13.x). NON-STRICT is a failure for the native driver: eddy-ws must be strict. For the
compat agent (tungstenite), the cases listed in autobahn/expected-nonstrict.json are recorded and
allowed (NON-STRICT 6.4.3/6.4.4, and UNIMPLEMENTED 12.*/13.*: tungstenite has no
permessage-deflate); any other non-OK case is a failure. The native driver must be OK on all 517.
The close behaviour must be OK or INFORMATIONAL too.
"""
import os
import json
import sys
from collections import Counter

FINE = {"OK", "INFORMATIONAL"}


def case_key(case_id):
    return tuple(int(p) for p in case_id.split("."))


EXPECTED = os.path.join(os.path.dirname(__file__), "..", "autobahn", "expected-nonstrict.json")


def check(path):
    with open(path) as f:
        index = json.load(f)
    with open(EXPECTED) as f:
        nonstrict = json.load(f)
    failures = []
    for agent, cases in sorted(index.items()):
        counts = Counter()
        for case_id in sorted(cases, key=case_key):
            result = cases[case_id]
            behavior, close = result.get("behavior"), result.get("behaviorClose")
            counts[behavior] += 1
            group = case_key(case_id)[0]
            allowed = nonstrict.get(agent, {})
            if behavior == "NON-STRICT" and case_id in allowed:
                continue
            if behavior == "UNIMPLEMENTED" and f"{group}.*" in allowed:
                continue
            if behavior not in FINE or close not in FINE:
                failures.append(f"{path}: {agent} case {case_id}: {behavior} / close {close}")
        summary = ", ".join(f"{n} {b}" for b, n in sorted(counts.items()))
        print(f"{path}: {agent}: {sum(counts.values())} cases: {summary}")
        for verdict in ("INFORMATIONAL", "NON-STRICT"):
            listed = [c for c in cases if cases[c].get("behavior") == verdict]
            if listed:
                print(f"  {verdict}: {', '.join(sorted(listed, key=case_key))}")
    return failures


def main():
    failures = [f for path in sys.argv[1:] for f in check(path)]
    for failure in failures:
        print("FAIL", failure)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
