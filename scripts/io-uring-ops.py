#!/usr/bin/env python3
"""Summarise a process's io_uring operations from `perf script` output.

Record the io_uring tracepoints of a running process, then pipe the script through this:

    perf record -q -o ops.data -e io_uring:io_uring_submit_req -e io_uring:io_uring_complete \
        -p "$PID" -- sleep 5
    perf script -i ops.data -F event,trace | scripts/io-uring-ops.py

Each completion is joined to its submission (by ring, request and user_data) to learn its opcode;
the table lists per opcode how many operations completed, the bytes they moved (sum of positive
results), and their most frequent result sizes. Used for issue 18: how many socket writes and file
reads a 1 MB poll reply costs the server over TCP and over WebSocket, and how requests are read.
"""

import collections
import re
import sys

FIELD = re.compile(r"(\w+) (0x[0-9a-f]+|-?\d+|[A-Z_]+)")
TOP = 4


def main() -> None:
    opcode_of = {}
    results = collections.defaultdict(list)
    for line in sys.stdin:
        if "io_uring_submit_req:" in line:
            f = dict(FIELD.findall(line.split("io_uring_submit_req:", 1)[1]))
            opcode_of[(f.get("ring"), f.get("req"), f.get("user_data"))] = f.get("opcode", "?")
        elif "io_uring_complete:" in line:
            f = dict(FIELD.findall(line.split("io_uring_complete:", 1)[1]))
            key = (f.get("ring"), f.get("req"), f.get("user_data"))
            results[opcode_of.pop(key, "(submitted before recording)")].append(int(f["result"]))
    print("| Opcode | Completed | Bytes | Most frequent results (count) |")
    print("|---|---:|---:|---|")
    for opcode, res in sorted(results.items(), key=lambda kv: -len(kv[1])):
        moved = sum(r for r in res if r > 0)
        common = ", ".join(
            f"{size:,} ({n})" for size, n in collections.Counter(res).most_common(TOP)
        )
        print(f"| {opcode} | {len(res):,} | {moved:,} | {common} |")


if __name__ == "__main__":
    main()
