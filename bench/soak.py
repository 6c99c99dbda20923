#!/usr/bin/env python3
"""Soak test (issue 10): many applies to a big lab, watching for growth.

Run by `sudo bash bench/soak [N] [--runs K]` (defaults 200 hosts, 20 runs),
never by scripts/test. On a fresh `hoist lab up N` (bench/site.yml's four
server types behind one gateway):

  A. K consecutive `hoist apply bench/site.yml` processes. For each: wall,
     exit, recap totals, and hoist's peak resident memory, open file
     descriptors and threads (sampled every 50 ms from /proc); after it:
     every process left in the lab's network namespaces, the file
     descriptors of the gateway's processes, and established TCP
     connections in the gateway (one per SSH channel forwarded to a
     target), once they settle.
  B. One `hoist apply` of a playbook that imports bench/site.yml K times
     (one process, its connections and kept shells used K times over): at
     each import's first play, hoist's resident memory, descriptors and
     threads, the lab's process count and the gateway's connections.

Then every host is searched for temporary files hoist writes beside a
destination (`.NAME.hoist-*`). Flat columns are the pass; the tables go to
bench/results/soak-<N>.md and the raw numbers to bench/results/soak-<N>.json.
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
HOIST = os.path.join(REPO, "target", "release", "hoist")
GROUPS = "web,app,db,cache"
RECAP = re.compile(
    r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)"
)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(cmd):
    return subprocess.run(cmd, check=True, text=True, capture_output=True).stdout


def proc_status(pid):
    """(VmRSS KiB, VmHWM KiB, threads) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    vals = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        vals[k] = v.split()[0] if v.split() else "0"
    return int(vals.get("VmRSS", 0)), int(vals.get("VmHWM", 0)), int(vals.get("Threads", 0))


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


class Lab:
    def __init__(self, n, root):
        self.n = n
        self.dir = os.path.join(root, f"hoist-soak-{n}")

    def up(self):
        sh([HOIST, "lab", "up", str(self.n), "--groups", GROUPS, "--dir", self.dir, "--force"])
        with open(os.path.join(self.dir, "lab.json")) as f:
            self.state = json.load(f)

    def down(self):
        subprocess.run([HOIST, "lab", "down", "--dir", self.dir], capture_output=True)

    def netns(self):
        return [h["netns"] for h in self.state["hosts"]]

    def gateway_ns(self):
        return next(h["netns"] for h in self.state["hosts"] if h["group"] == "gateways")

    def targets(self):
        return [h["name"] for h in self.state["hosts"] if h["group"] != "gateways"]

    def pids(self, ns):
        out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def processes(self):
        """Processes in all the lab's hosts (holders and sshd listeners included)."""
        return sum(len(self.pids(ns)) for ns in self.netns())

    def gateway_fds(self):
        return sum(fd_count(p) or 0 for p in self.pids(self.gateway_ns()))

    def gateway_conns(self):
        out = subprocess.run(
            ["ip", "netns", "exec", self.gateway_ns(), "ss", "-Htn", "state", "established"],
            capture_output=True,
            text=True,
        ).stdout
        return len([line for line in out.splitlines() if line.strip()])

    def exec(self, host, script):
        return sh([HOIST, "lab", "exec", "--dir", self.dir, host, "sh", "-c", script])

    def remote(self):
        return {"processes": self.processes(), "gateway_fds": self.gateway_fds(), "gateway_tcp": self.gateway_conns()}

    def settled(self, baseline, wait=10.0):
        """The remote figures once they stop changing (sshd children exit a
        moment after the client goes), within `wait` seconds."""
        end = time.monotonic() + wait
        last = self.remote()
        while time.monotonic() < end:
            if baseline and last == baseline:
                return last
            time.sleep(0.5)
            now = self.remote()
            if now == last and not baseline:
                return now
            last = now
        return last


class Watch(threading.Thread):
    """Samples a process's memory, descriptors and threads until it ends."""

    def __init__(self, pid, every=0.05):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_rss = self.hwm = self.peak_fds = self.peak_threads = 0
        self.last = None
        self.done = threading.Event()

    def sample(self):
        st = proc_status(self.pid)
        fds = fd_count(self.pid)
        if st is None or fds is None:
            return None
        rss, hwm, threads = st
        self.peak_rss = max(self.peak_rss, rss)
        self.hwm = max(self.hwm, hwm)
        self.peak_fds = max(self.peak_fds, fds)
        self.peak_threads = max(self.peak_threads, threads)
        self.last = {"rss_kib": rss, "fds": fds, "threads": threads}
        return self.last

    def run(self):
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.every)


def recap_totals(out):
    tot = {"hosts": 0, "ok": 0, "changed": 0, "unreachable": 0, "failed": 0}
    for line in out.splitlines():
        m = RECAP.match(line)
        if m:
            tot["hosts"] += 1
            for k, v in zip(("ok", "changed", "unreachable", "failed"), m.groups()[1:5]):
                tot[k] += int(v)
    return tot


def apply_cmd(lab, playbook, forks):
    return [HOIST, "apply", playbook, "-i", os.path.join(lab.dir, "inventory.ini"), "-f", str(forks)]


def phase_a(lab, runs, forks, baseline):
    rows = []
    for i in range(1, runs + 1):
        with tempfile.TemporaryFile(mode="w+") as out:
            start = time.monotonic()
            p = subprocess.Popen(
                apply_cmd(lab, os.path.join(BENCH, "site.yml"), forks),
                cwd=BENCH,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            w = Watch(p.pid)
            w.start()
            rc = p.wait()
            wall = time.monotonic() - start
            w.done.set()
            w.join()
            out.seek(0)
            text = out.read()
        remote = lab.settled(baseline)
        row = {
            "run": i,
            "rc": rc,
            "wall_s": round(wall, 2),
            **recap_totals(text),
            "peak_rss_mib": round(w.peak_rss / 1024, 1),
            "peak_fds": w.peak_fds,
            "peak_threads": w.peak_threads,
            "after_lab_processes": remote["processes"],
            "after_gateway_fds": remote["gateway_fds"],
            "after_gateway_tcp": remote["gateway_tcp"],
        }
        rows.append(row)
        log(f"A{i:>3}: " + " ".join(f"{k}={v}" for k, v in row.items() if k != "run"))
        if rc != 0:
            log(text[-3000:])
    return rows


def phase_b(lab, runs, forks):
    # Beside site.yml, so the playbook directory's group_vars are the same.
    book = os.path.join(BENCH, ".soak.yml")
    with open(book, "w") as f:
        for _ in range(runs):
            f.write("- import_playbook: site.yml\n")
    rows = []
    start = time.monotonic()
    p = subprocess.Popen(
        apply_cmd(lab, book, forks),
        cwd=BENCH,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    w = Watch(p.pid)
    w.start()
    tail = []
    seen = 0
    for line in p.stdout:
        tail = (tail + [line])[-1000:]
        if line.startswith("PLAY [Common]"):
            seen += 1
            s = w.sample() or w.last or {}
            rows.append(
                {
                    "import": seen,
                    "at_s": round(time.monotonic() - start, 1),
                    "rss_mib": round(s.get("rss_kib", 0) / 1024, 1),
                    "fds": s.get("fds"),
                    "threads": s.get("threads"),
                    "lab_processes": lab.processes(),
                    "gateway_tcp": lab.gateway_conns(),
                }
            )
            log(f"B{seen:>3}: " + " ".join(f"{k}={v}" for k, v in rows[-1].items() if k != "import"))
    rc = p.wait()
    w.done.set()
    w.join()
    text = "".join(tail)
    summary = {
        "rc": rc,
        "wall_s": round(time.monotonic() - start, 1),
        **recap_totals(text),
        "peak_rss_mib": round(w.peak_rss / 1024, 1),
        "peak_fds": w.peak_fds,
        "peak_threads": w.peak_threads,
    }
    os.unlink(book)
    if rc != 0:
        log(text[-3000:])
    return rows, summary


LEFTOVERS = (
    "find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o "
    "-name '.*.hoist-*' -print 2>/dev/null | head -20"
)


def leftovers(lab):
    found = {}
    for h in lab.targets():
        out = lab.exec(h, LEFTOVERS).strip()
        if out:
            found[h] = out.splitlines()
    return found


def table(rows):
    if not rows:
        return ""
    keys = list(rows[0].keys())
    out = "| " + " | ".join(keys) + " |\n|" + "---|" * len(keys) + "\n"
    for r in rows:
        out += "| " + " | ".join(str(r[k]) for k in keys) + " |\n"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", nargs="?", type=int, default=200)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--forks", type=int, default=50)
    ap.add_argument("--lab-root", default="/var/tmp")
    args = ap.parse_args()
    lab = Lab(args.n, args.lab_root)
    log(f"lab up {args.n}")
    lab.up()
    try:
        baseline = lab.settled(None)
        log(f"baseline: {baseline}")
        a = phase_a(lab, args.runs, args.forks, baseline)
        b_rows, b_summary = phase_b(lab, args.runs, args.forks)
        after_b = lab.settled(baseline)
        left = leftovers(lab)
    finally:
        lab.down()
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "n": args.n,
        "runs": args.runs,
        "forks": args.forks,
        "baseline": baseline,
        "phase_a": a,
        "phase_b": b_rows,
        "phase_b_summary": b_summary,
        "after_b": after_b,
        "leftover_temp_files": left,
    }
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    with open(os.path.join(BENCH, "results", f"soak-{args.n}.json"), "w") as f:
        json.dump(result, f, indent=1)
    md = (
        f"# Soak: {args.runs} applies to {args.n} lab hosts (commit {commit}, {result['date']})\n\n"
        f"Lab at rest: {baseline['processes']} processes, gateway {baseline['gateway_fds']} fds, "
        f"{baseline['gateway_tcp']} connections.\n\n"
        f"## A. {args.runs} consecutive `hoist apply` processes (`-f {args.forks}`)\n\n{table(a)}\n"
        f"## B. one process importing the site {args.runs} times\n\n{table(b_rows)}\n"
        f"Whole run: {json.dumps(b_summary)}; lab after: {json.dumps(after_b)}.\n\n"
        f"Temporary files left on hosts: {json.dumps(left) if left else 'none'}.\n"
    )
    with open(os.path.join(BENCH, "results", f"soak-{args.n}.md"), "w") as f:
        f.write(md)
    print(md)
    bad = [r for r in a if r["rc"] != 0 or r["failed"] or r["unreachable"]]
    if bad or b_summary["rc"] != 0 or left:
        log("soak: some runs failed or left files behind (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
