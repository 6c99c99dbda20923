#!/usr/bin/env python3
"""Where hoist's time goes on one host: commands per task, and their time.

Reads a `hoist apply -vvvv` run of bench/site.yml limited to ONE host
(standard input) and prints, per task and per module, the results, the
commands hoist ran on the host (EXEC lines; SFTP transfers are listed
apart) and the time those commands took (their `rc=… (T s)` lines):

    target/release/hoist apply bench/site.yml -i LAB/inventory.ini -l web1 -vvvv \\
        | python3 bench/roundtrips.py

Task names are mapped to modules through bench/roles/*/tasks/main.yml.
A diagnostic, not a benchmark: -vvvv itself costs a little.
"""

import collections
import glob
import os
import re
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))


def modules():
    out = {"Gathering Facts": "setup (facts)"}
    for f in glob.glob(os.path.join(BENCH, "roles", "*", "tasks", "main.yml")):
        role = f.split(os.sep)[-3]
        name = None
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                m = re.match(r"- name: (.*)", line)
                if m:
                    name = m.group(1).strip()
                    continue
                m = re.match(r"  (?:ansible\.builtin\.)?(\w+):", line)
                if m and name:
                    out[f"{role} : {name}"] = m.group(1)
                    name = None
    return out


def main():
    mod = modules()
    tasks = collections.OrderedDict()
    cur = None
    host = None
    for line in sys.stdin:
        m = re.match(r"TASK \[(.*)\] \*", line)
        if m:
            cur = m.group(1)
            tasks.setdefault(cur, {"results": 0, "execs": 0, "sftp": 0, "secs": 0.0})
            continue
        if cur is None:
            continue
        m = re.match(r"<([^>]+)> #\d+ rc=-?\d+ \(([0-9.]+)s\)", line)
        if m:
            if host is None:
                host = m.group(1)
            elif host != m.group(1):
                sys.exit(f"more than one host in the trace ({host}, {m.group(1)}): use -l HOST")
            tasks[cur]["execs"] += 1
            tasks[cur]["secs"] += float(m.group(2))
            continue
        if re.match(r"<[^>]+> SFTP", line):
            tasks[cur]["sftp"] += 1
            continue
        if re.match(r"(ok|changed|skipping|failed|fatal): \[", line):
            tasks[cur]["results"] += 1
    if not tasks:
        sys.exit("no TASK banners on standard input: pipe `hoist apply ... -vvvv` in")
    print(f"{'task':48} {'module':14} {'results':>7} {'commands':>8} {'sftp':>4} {'time s':>7}")
    per = collections.defaultdict(lambda: {"results": 0, "execs": 0, "sftp": 0, "secs": 0.0})
    for t, s in tasks.items():
        k = mod.get(t, "?")
        print(f"{t[:48]:48} {k:14} {s['results']:7} {s['execs']:8} {s['sftp']:4} {s['secs']:7.3f}")
        for f in ("results", "execs", "sftp", "secs"):
            per[k][f] += s[f]
    total = sum(s["secs"] for s in tasks.values())
    n = sum(s["execs"] for s in tasks.values())
    print()
    print(f"{'module':14} {'results':>7} {'commands':>8} {'per result':>10} {'sftp':>4} {'time s':>7} {'share':>6}")
    for k, s in sorted(per.items(), key=lambda kv: -kv[1]["secs"]):
        r = max(s["results"], 1)
        share = s["secs"] / total if total else 0
        print(f"{k:14} {s['results']:7} {s['execs']:8} {s['execs'] / r:10.1f} {s['sftp']:4} {s['secs']:7.3f} {share:6.0%}")
    if n:
        print(f"\n{n} commands on {host}, {total:.2f} s in all, {total / n * 1000:.1f} ms each on average")


if __name__ == "__main__":
    main()
