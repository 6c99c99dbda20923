#!/usr/bin/env python3
"""The benchmark driver behind bench/run (issue 9). Standard library only.

For each N: for each round, for each tool (the order rotates per round),
a fresh lab (`hoist lab up N --force`), then three timed runs of the same
site (bench/site.yml, or bench/pyinfra/deploy.py for pyinfra):

  cold   apply on the fresh lab (must change something, fail nothing)
  noop   the same apply again (must report changed=0)
  check  check + diff on the converged hosts (must report no change)

Each run is measured from the outside: wall time; the controller's CPU
(user+sys of every process the tool started, ssh ControlPersist masters
included: each run is a cgroup of its own, the masters left when the tool
exits are ended and counted); its memory (the largest process's peak RSS
from wait4, and the sampled sum of PSS over all its processes); the CPU the
lab's sshds and everything they start used meanwhile (the targets, on this
same machine); and the machine's load.

Writes bench/results/raw-N<n>-<stamp>.json (every run), results.md (the
tables) and prints the tables. Exits non-zero when a run fails its check.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
HOIST = os.path.join(REPO, "target", "release", "hoist")
TOOLS = ("hoist", "ansible", "pyinfra")
MODES = ("cold", "noop", "check")
GROUPS = "web,app,db,cache"


class Fail(Exception):
    """A run that did not do what the benchmark needs: the harness stops."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


# ------------------------------------------------------------------ cgroups


class CpuGroup:
    """A cgroup whose CPU time (user, sys in seconds) can be read: v1's
    cpuacct when it is mounted, else v2's cpu.stat. None when neither is
    writable (then only wait4's rusage is used)."""

    def __init__(self, path, v2):
        self.path = path
        self.v2 = v2

    @staticmethod
    def make(name):
        for base, v2 in (
            ("/sys/fs/cgroup/cpuacct", False),
            ("/sys/fs/cgroup/unified", True),
            ("/sys/fs/cgroup", True),
        ):
            probe = "cpu.stat" if v2 else "cpuacct.usage_user"
            if not os.path.isdir(base):
                continue
            if v2 and not os.path.exists(os.path.join(base, "cgroup.procs")):
                continue
            if not v2 and not os.path.exists(os.path.join(base, "cpuacct.usage")):
                continue
            path = os.path.join(base, "hoist-bench", name)
            try:
                os.makedirs(path, exist_ok=True)
            except OSError:
                continue
            if os.path.exists(os.path.join(path, probe)):
                return CpuGroup(path, v2)
            try:
                os.rmdir(path)
            except OSError:
                pass
        return None

    def procs_file(self):
        return os.path.join(self.path, "cgroup.procs")

    def add(self, pid):
        try:
            with open(self.procs_file(), "w") as f:
                f.write(str(pid))
            return True
        except OSError:
            return False

    def pids(self):
        try:
            with open(self.procs_file()) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def cpu(self):
        """(user, sys) seconds used by the group's processes, living or gone."""
        if self.v2:
            vals = {}
            with open(os.path.join(self.path, "cpu.stat")) as f:
                for line in f:
                    k, v = line.split()
                    vals[k] = int(v)
            return vals.get("user_usec", 0) / 1e6, vals.get("system_usec", 0) / 1e6
        with open(os.path.join(self.path, "cpuacct.usage_user")) as f:
            user = int(f.read()) / 1e9
        with open(os.path.join(self.path, "cpuacct.usage_sys")) as f:
            system = int(f.read()) / 1e9
        return user, system

    def end_all(self, wait=5.0):
        """SIGTERM what is left (ControlPersist masters), then SIGKILL."""
        left = self.pids()
        for pid in left:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while self.pids() and time.monotonic() < deadline + 2:
            time.sleep(0.05)
        return len(left)

    def remove(self):
        try:
            os.rmdir(self.path)
        except OSError:
            pass


def machine_busy():
    """Busy CPU seconds of the whole machine so far (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ------------------------------------------------------------------ memory


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemSampler(threading.Thread):
    """Samples the sum of PSS over a cgroup's processes every `every` s."""

    def __init__(self, group, every=0.2):
        super().__init__(daemon=True)
        self.group = group
        self.every = every
        self.peak = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            total = sum(pss_kib(p) for p in self.group.pids())
            self.peak = max(self.peak, total)
            self.stop.wait(self.every)


# ------------------------------------------------------------------ lab


LABS_UP = set()
LAB_ROOT = ["/var/tmp"]


class Lab:
    def __init__(self, n, root):
        self.n = n
        self.dir = os.path.join(root, f"hoist-bench-{n}")

    def up(self):
        LABS_UP.add(self.n)
        LAB_ROOT[0] = os.path.dirname(self.dir)
        t = time.monotonic()
        sh([HOIST, "lab", "up", str(self.n), "--groups", GROUPS, "--dir", self.dir, "--force"])
        return time.monotonic() - t

    def down(self):
        subprocess.run([HOIST, "lab", "down", "--dir", self.dir], capture_output=True)
        LABS_UP.discard(self.n)

    def state(self):
        with open(os.path.join(self.dir, "lab.json")) as f:
            return json.load(f)

    def hosts(self):
        return [h for h in self.state()["hosts"] if h["group"] != "gateways"]

    def exec(self, host, script):
        return sh([HOIST, "lab", "exec", "--dir", self.dir, host, "sh", "-c", script])


# ------------------------------------------------------------------ tools


def recap(text):
    """Sums ansible-playbook's (and hoist's) PLAY RECAP lines."""
    tot = {"hosts": 0, "ok": 0, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0}
    seen = False
    for line in text.splitlines():
        if line.startswith("PLAY RECAP"):
            seen = True
            continue
        if not seen:
            continue
        m = re.match(
            r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)",
            line,
        )
        if m:
            tot["hosts"] += 1
            for k, v in zip(("ok", "changed", "unreachable", "failed", "skipped"), m.groups()[1:]):
                tot[k] += int(v)
    return tot if seen else None


def pyinfra_summary(text):
    """Reads pyinfra's output: the hosts it connected to, and its table.

    An apply (-y) ends with "--> Results:", a row per operation and a
    "Grand total" row: operation×host count, "Success" (operations that
    executed: changes), "Error", "No Change". A dry run prints "--> Detected
    changes:", a row per operation whose "Change" cell is "-" or "K (hosts)".
    """
    tot = {"hosts": 0, "ok": 0, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0}
    section = None
    found = False
    for line in text.splitlines():
        if line.startswith("--> "):
            section = line[4:].strip().rstrip(":").rstrip(".")
            continue
        cells = [c.strip() for c in re.split(r"\s{2,}", line.strip()) if c.strip()]
        if not cells:
            continue
        if section == "Connecting to hosts":
            m = re.match(r"^\s*\[[^]]+\]\s+(.*)$", line)
            if m:
                if m.group(1).strip() == "Connected":
                    tot["hosts"] += 1
                else:
                    tot["unreachable"] += 1
        elif section == "Results" and cells[0] == "Grand total" and len(cells) >= 5:
            found = True
            num = [int(c) if c.isdigit() else 0 for c in cells[1:5]]
            tot["ok"] += num[0] - num[2]
            tot["changed"] += num[1]
            tot["failed"] += num[2]
        elif section == "Detected changes" and len(cells) >= 3 and cells[0] != "Operation":
            found = True
            tot["ok"] += 1
            for c in cells[-2:]:
                m = re.match(r"^(\d+)", c)
                if m:
                    tot["changed"] += int(m.group(1))
    return tot if found else None


class Tool:
    name = ""

    def __init__(self, args, lab, n, scratch):
        self.args = args
        self.lab = lab
        self.n = n
        self.scratch = scratch

    def env(self):
        e = dict(os.environ)
        e.pop("HOIST_LAB_DIR", None)
        e["NO_COLOR"] = "1"
        e["ANSIBLE_NOCOLOR"] = "1"
        return e

    def command(self, mode):
        raise NotImplementedError

    def result(self, mode, rc, out):
        raise NotImplementedError


class Hoist(Tool):
    name = "hoist"

    def inventory(self):
        return os.path.join(self.lab.dir, "inventory.ini")

    def command(self, mode):
        verb = "diff" if mode == "check" else "apply"
        return [HOIST, verb, os.path.join(BENCH, "site.yml"), "-i", self.inventory(), "-f", str(self.n)]

    def result(self, mode, rc, out):
        # hoist diff exits 2 when changes are pending: a failure here too
        return recap(out), rc == 0

    @staticmethod
    def version():
        return sh([HOIST, "--version"]).strip()


class Ansible(Tool):
    name = "ansible"

    def env(self):
        e = super().env()
        home = os.path.join(self.scratch, "ansible-home")
        os.makedirs(os.path.join(home, "tmp"), exist_ok=True)
        e.update(
            {
                "ANSIBLE_CONFIG": os.path.join(BENCH, "ansible.cfg"),
                "ANSIBLE_HOME": home,
                "ANSIBLE_LOCAL_TEMP": os.path.join(home, "tmp"),
                "ANSIBLE_FORKS": str(self.n),
            }
        )
        return e

    def command(self, mode):
        cmd = [
            os.path.join(self.args.venvs, "ansible", "bin", "ansible-playbook"),
            os.path.join(BENCH, "site.yml"),
            "-i",
            os.path.join(self.lab.dir, "inventory.ini"),
            "-f",
            str(self.n),
        ]
        if mode == "check":
            cmd += ["--check", "--diff"]
        return cmd

    def result(self, mode, rc, out):
        return recap(out), rc == 0

    def version(self):
        out = sh([os.path.join(self.args.venvs, "ansible", "bin", "ansible-playbook"), "--version"])
        m = re.search(r"core ([0-9][^\]]*)\]", out)
        return "ansible-core " + (m.group(1) if m else out.splitlines()[0].strip())


class Pyinfra(Tool):
    name = "pyinfra"

    def env(self):
        e = super().env()
        e["HOIST_BENCH_LAB"] = self.lab.dir
        return e

    def command(self, mode):
        cmd = [os.path.join(self.args.venvs, "pyinfra", "bin", "pyinfra"), "--parallel", str(self.n)]
        # -y runs at once (no change detection, no prompt); --dry detects the
        # changes, prints them with their diffs and stops before the prompt
        cmd += ["--dry", "--diff"] if mode == "check" else ["-y"]
        return cmd + [
            os.path.join(BENCH, "pyinfra", "inventory.py"),
            os.path.join(BENCH, "pyinfra", "deploy.py"),
        ]

    def result(self, mode, rc, out):
        return pyinfra_summary(out), rc == 0

    def version(self):
        out = sh([os.path.join(self.args.venvs, "pyinfra", "bin", "pyinfra"), "--version"])
        return out.strip().replace("pyinfra: v", "pyinfra ")


TOOL_CLASSES = {"hoist": Hoist, "ansible": Ansible, "pyinfra": Pyinfra}


# ------------------------------------------------------------------ one run


def measure(cmd, env, cwd, log_path, targets, gateway):
    """Runs cmd in a cgroup of its own; returns the measurements."""
    group = CpuGroup.make(f"run-{os.getpid()}-{time.monotonic_ns()}")
    wrapped = cmd
    if group:
        wrapped = [
            "/bin/sh",
            "-c",
            'echo $$ > "$0" && exec "$@"',
            group.procs_file(),
        ] + cmd
    sampler = MemSampler(group) if group else None
    t_before = targets.cpu() if targets else (0.0, 0.0)
    g_before = gateway.cpu() if gateway else (0.0, 0.0)
    busy_before = machine_busy()
    load = loadavg()
    with open(log_path, "w") as logf:
        start = time.monotonic()
        p = subprocess.Popen(wrapped, env=env, cwd=cwd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if sampler:
            sampler.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    leftover = 0
    if group:
        leftover = group.end_all()
        sampler.stop.set()
        sampler.join()
        user, system = group.cpu()
        group.remove()
    else:
        user, system = ru.ru_utime, ru.ru_stime
    busy = machine_busy() - busy_before
    t_after = targets.cpu() if targets else (0.0, 0.0)
    g_after = gateway.cpu() if gateway else (0.0, 0.0)
    targets_cpu = sum(t_after) - sum(t_before)
    gateway_cpu = sum(g_after) - sum(g_before)
    with open(log_path) as f:
        out = f.read()
    return {
        "rc": p.returncode,
        "wall_s": round(wall, 4),
        "cpu_user_s": round(user, 4),
        "cpu_sys_s": round(system, 4),
        "cpu_s": round(user + system, 4),
        "cpu_source": ("cgroup v2" if group.v2 else "cgroup v1 cpuacct") if group else "wait4 rusage",
        "ru_cpu_s": round(ru.ru_utime + ru.ru_stime, 4),
        "max_rss_mib": round(ru.ru_maxrss / 1024, 1),
        "peak_pss_sum_mib": round((sampler.peak if sampler else 0) / 1024, 1),
        "leftover_processes": leftover,
        "targets_cpu_s": round(targets_cpu, 3),
        "gateway_cpu_s": round(gateway_cpu, 3),
        "machine_busy_s": round(busy, 3),
        # what else ran meanwhile (the harness itself, other jobs on the machine)
        "others_cpu_s": round(busy - (user + system) - targets_cpu - gateway_cpu, 3),
        "load_before": load,
    }, out


# ------------------------------------------------------------------ fingerprints

FINGERPRINT = r"""
for p in /etc/bench /etc/bench/* /etc/bench/sites/* /opt/bench /opt/bench/app /opt/bench/app/* \
    /opt/bench/app/releases/* /opt/bench/app/releases/*/* /var/lib/bench /var/log/bench \
    /etc/security/limits.d/bench.conf /etc/logrotate.d/bench /usr/local/sbin/bench-* \
    /srv/bench/www /srv/bench/www/* /etc/systemd/system/bench-app.service \
    /var/lib/bench/* /var/lib/benchdb/data /var/backups/bench /var/lib/benchcache /home/benchalice; do
  [ -e "$p" ] || [ -L "$p" ] || continue
  if [ -L "$p" ]; then echo "$p link -> $(readlink "$p")"
  elif [ -f "$p" ]; then echo "$p $(stat -c '%a %U %G' "$p") $(sha256sum < "$p" | cut -c1-16)"
  else echo "$p $(stat -c '%F %a %U %G' "$p")"; fi
done
for u in benchalice benchbob benchcarol benchsvc benchdb benchcache; do getent passwd "$u"; done
for g in benchops benchsvc benchdb benchcache; do getent group "$g"; done
crontab -l -u root 2>/dev/null | grep -v '^#' | sort
"""


def fingerprint(lab, hosts):
    out = {}
    for h in hosts:
        lines = lab.exec(h, FINGERPRINT).splitlines()
        # the initialisation marker holds the hostname: same content on every tool
        out[h] = [l for l in lines if l.strip()]
    return out


def fingerprint_diff(a, b):
    diffs = []
    for h in a:
        sa, sb = set(a[h]), set(b.get(h, []))
        for l in sorted(sa - sb):
            diffs.append(f"{h}: hoist has   {l}")
        for l in sorted(sb - sa):
            diffs.append(f"{h}: other has   {l}")
    return diffs


# ------------------------------------------------------------------ tables


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_s(x):
    if x is None:
        return "–"
    if x < 10:
        return f"{x:.2f}"
    return f"{x:.1f}"


def fmt_ratio(x):
    if x is None:
        return "–"
    if x >= 10:
        return f"{x:.0f}×"
    return f"{x:.1f}×"


def table(runs, n, tools):
    """One Markdown table for N: rows = mode, per tool wall/CPU/mem, and the
    other-tool ÷ hoist ratios taken round by round."""
    lines = []
    head = ["run"]
    for t in tools:
        head += [f"{t} wall s", f"{t} CPU s", f"{t} mem MiB"]
    for t in tools:
        if t != "hoist" and "hoist" in tools:
            head += [f"{t} ÷ hoist wall", f"{t} ÷ hoist CPU"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for mode in MODES:
        row = [mode]
        for t in tools:
            rs = [r for r in runs if r["n"] == n and r["tool"] == t and r["mode"] == mode]
            row += [
                fmt_s(med([r["wall_s"] for r in rs])),
                fmt_s(med([r["cpu_s"] for r in rs])),
                fmt_s(med([max(r["max_rss_mib"], r["peak_pss_sum_mib"]) for r in rs])),
            ]
        for t in tools:
            if t == "hoist" or "hoist" not in tools:
                continue
            wr, cr = [], []
            for rnd in sorted({r["round"] for r in runs if r["n"] == n}):
                h = [r for r in runs if r["n"] == n and r["tool"] == "hoist" and r["mode"] == mode and r["round"] == rnd]
                o = [r for r in runs if r["n"] == n and r["tool"] == t and r["mode"] == mode and r["round"] == rnd]
                if h and o:
                    wr.append(o[0]["wall_s"] / h[0]["wall_s"])
                    if h[0]["cpu_s"] > 0:
                        cr.append(o[0]["cpu_s"] / h[0]["cpu_s"])
            row += [fmt_ratio(med(wr)), fmt_ratio(med(cr))]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def task_hosts(runs, n):
    """Task×host results of the site at N (ok+skipped+failed of a no-op run
    of hoist or ansible-playbook): the same work for every tool."""
    for tool in ("hoist", "ansible"):
        for r in runs:
            s = r.get("summary") or {}
            if r["n"] == n and r["tool"] == tool and r["mode"] == "noop" and s:
                return s["ok"] + s.get("skipped", 0) + s["failed"]
    return None


def detail_table(runs, n, tools):
    """Per tool and mode: medians of the side measurements."""
    lines = [
        "| tool | run | wall s | controller CPU s (user+sys) | CPU ms per task×host | largest process RSS MiB | all processes PSS MiB | targets' CPU s | gateway CPU s | other CPU s | 1-min load before |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in tools:
        for mode in MODES:
            rs = [r for r in runs if r["n"] == n and r["tool"] == t and r["mode"] == mode]
            if not rs:
                continue
            th = task_hosts(runs, n)
            cpu = med([r["cpu_s"] for r in rs])
            per = f"{cpu * 1000 / th:.2f}" if th and cpu is not None else "–"
            lines.append(
                "| "
                + " | ".join(
                    [
                        t,
                        mode,
                        fmt_s(med([r["wall_s"] for r in rs])),
                        fmt_s(cpu),
                        per,
                        fmt_s(med([r["max_rss_mib"] for r in rs])),
                        fmt_s(med([r["peak_pss_sum_mib"] for r in rs])),
                        fmt_s(med([r["targets_cpu_s"] for r in rs])),
                        fmt_s(med([r["gateway_cpu_s"] for r in rs])),
                        fmt_s(med([r["others_cpu_s"] for r in rs])),
                        f"{min(float(r['load_before'].split()[0]) for r in rs):.1f}–"
                        f"{max(float(r['load_before'].split()[0]) for r in rs):.1f}",
                    ]
                )
                + " |"
            )
    return "\n".join(lines)


# ------------------------------------------------------------------ main


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_mib": mem,
        "kernel": platform.release(),
        "os": sh(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]).strip(),
        "openssh": ssh,
        "python": platform.python_version(),
        "git_commit": subprocess.run(
            ["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ns", nargs="*", type=int, default=[10], help="numbers of target hosts (default 10)")
    ap.add_argument("--runs", type=int, default=3, help="rounds per N (default 3)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated: hoist,ansible,pyinfra")
    ap.add_argument(
        "--others-max",
        type=int,
        default=50,
        help="run ansible and pyinfra only for N up to this (default 50); hoist runs at every N",
    )
    ap.add_argument(
        "--others-runs",
        type=int,
        default=None,
        help="rounds for ansible and pyinfra (default: --runs up to N = 10, 1 above: "
        "one ansible-playbook run takes minutes at N = 50 on 2 cores)",
    )
    ap.add_argument("--venvs", required=True, help="directory holding the ansible and pyinfra venvs")
    ap.add_argument("--lab-root", default="/var/tmp", help="labs go in LAB_ROOT/hoist-bench-N")
    ap.add_argument("--out", default=os.path.join(BENCH, "results"), help="where results go")
    ap.add_argument("--keep-lab", action="store_true", help="leave the last lab up")
    args = ap.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    for t in tools:
        if t not in TOOL_CLASSES:
            ap.error(f"unknown tool {t}")
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    info = machine()
    scratch_root = tempfile.mkdtemp(prefix="hoist-bench-")
    lab0 = Lab(0, args.lab_root)
    versions = {"hoist": Hoist(args, lab0, 0, scratch_root).version()}
    if "ansible" in tools:
        versions["ansible"] = Ansible(args, lab0, 0, scratch_root).version()
    if "pyinfra" in tools:
        versions["pyinfra"] = Pyinfra(args, lab0, 0, scratch_root).version()
    info["versions"] = versions
    log("machine: " + json.dumps(info))
    runs = []
    notes = []
    problems = []
    raw_path = os.path.join(args.out, f"raw-{stamp}.json")

    def save():
        with open(raw_path, "w") as f:
            json.dump({"machine": info, "args": vars(args), "notes": notes, "runs": runs}, f, indent=1)

    for n in args.ns:
        lab = Lab(n, args.lab_root)
        n_tools = [t for t in tools if t == "hoist" or n <= args.others_max]
        if n_tools != tools:
            notes.append(f"N={n}: {', '.join(t for t in tools if t not in n_tools)} not run (--others-max {args.others_max})")
            log(notes[-1])
        fingerprints = {}
        for rnd in range(1, args.runs + 1):
            k = (rnd - 1) % len(n_tools)
            order = n_tools[k:] + n_tools[:k]
            for tname in order:
                others_runs = args.others_runs
                if others_runs is None:
                    others_runs = args.runs if n <= 10 else 1
                if tname != "hoist" and rnd > others_runs:
                    continue
                scratch = tempfile.mkdtemp(dir=scratch_root)
                tool = TOOL_CLASSES[tname](args, lab, n, scratch)
                up_s = lab.up()
                targets = CpuGroup.make(f"targets-{n}")
                gateway = CpuGroup.make(f"gateway-{n}")
                st = lab.state()
                for h in st["hosts"]:
                    grp = gateway if h["group"] == "gateways" else targets
                    if grp and h.get("sshd"):
                        grp.add(h["sshd"]["pid"])
                for mode in MODES:
                    log_path = os.path.join(args.out, f"log-{stamp}-N{n}-r{rnd}-{tname}-{mode}.txt")
                    m, out = measure(tool.command(mode), tool.env(), REPO, log_path, targets, gateway)
                    summary, rc_ok = tool.result(mode, m["rc"], out)
                    rec = dict(n=n, round=rnd, tool=tname, mode=mode, lab_up_s=round(up_s, 2), **m)
                    rec["summary"] = summary
                    runs.append(rec)
                    save()
                    log(
                        f"N={n} round {rnd} {tname:8} {mode:6} wall {m['wall_s']:8.2f} s  cpu {m['cpu_s']:8.2f} s  "
                        f"mem {max(m['max_rss_mib'], m['peak_pss_sum_mib']):7.1f} MiB  targets {m['targets_cpu_s']:7.2f} s  "
                        f"load {m['load_before']}  rc {m['rc']}  {summary}"
                    )
                    why = None
                    if summary is None:
                        why = "no summary found in its output"
                    elif not rc_ok:
                        why = f"exit code {m['rc']}"
                    elif summary["failed"] or summary["unreachable"]:
                        why = "failed or unreachable hosts"
                    elif summary["hosts"] != n:
                        why = f"{summary['hosts']} hosts in the summary, not {n}"
                    elif mode == "cold" and summary["changed"] == 0:
                        why = "the cold apply changed nothing"
                    elif mode != "cold" and summary["changed"] != 0:
                        why = f"changed={summary['changed']}: the site is not idempotent with {tname}"
                    if why:
                        problems.append(f"N={n} round {rnd} {tname} {mode}: {why} (log: {log_path})")
                        log("FAILED: " + problems[-1])
                        save()
                        if not args.keep_lab:
                            lab.down()
                        raise Fail("\n".join(problems))
                    if mode != "cold" and rc_ok:
                        # keep only the first round's logs of passing runs
                        if rnd > 1:
                            os.unlink(log_path)
                    elif rnd > 1:
                        os.unlink(log_path)
                if rnd == 1:
                    hosts = {}
                    for h in lab.hosts():
                        hosts.setdefault(h["group"], h["name"])
                    fingerprints[tname] = fingerprint(lab, sorted(hosts.values()))
                for g in (targets, gateway):
                    if g:
                        g.end_all(wait=0)
                shutil.rmtree(scratch, ignore_errors=True)
            if targets:
                targets.remove()
            if gateway:
                gateway.remove()
        if "hoist" in fingerprints:
            for t, fp in fingerprints.items():
                if t == "hoist":
                    continue
                d = fingerprint_diff(fingerprints["hoist"], fp)
                notes.append(
                    f"N={n}: hosts after {t}'s cold apply vs hoist's: "
                    + ("the same (files, modes, owners, content digests, users, groups, crontab)" if not d else f"{len(d)} differences")
                )
                log(notes[-1])
                for line in d:
                    notes.append(f"  N={n} {t}: {line}")
                    log(notes[-1])
        if not args.keep_lab or n != args.ns[-1]:
            lab.down()
        save()

    md = [f"Machine: {info['cpu_model']}, {info['cores']} cores, {info['memory_mib']} MiB, Linux {info['kernel']}, {info['os']}"]
    md.append(
        "Versions: "
        + "; ".join(versions.values())
        + f" (hoist at {info['git_commit']}); {info['openssh']}; Python {info['python']}"
    )
    for n in args.ns:
        n_tools = [t for t in tools if any(r["n"] == n and r["tool"] == t for r in runs)]
        counts = [
            f"{t} {len({r['round'] for r in runs if r['n'] == n and r['tool'] == t})}" for t in n_tools
        ]
        md.append(f"\n### N = {n} (rounds: {', '.join(counts)}; medians)\n")
        md.append(table(runs, n, n_tools))
        md.append("")
        md.append(detail_table(runs, n, n_tools))
    if notes:
        md.append("\nNotes:\n")
        md.extend(f"- {x}" if not x.startswith("  ") else f"  - {x.strip()}" for x in notes)
    text = "\n".join(md) + "\n"
    with open(os.path.join(args.out, f"results-{stamp}.md"), "w") as f:
        f.write(text)
    save()
    print(text)
    log(f"raw numbers: {raw_path}")
    shutil.rmtree(scratch_root, ignore_errors=True)


class Stopped(Exception):
    """SIGTERM or SIGHUP: stop, and take the lab down on the way out."""


def _stop(signum, _frame):
    raise Stopped(f"signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    try:
        main()
    except Fail as e:
        log(f"benchmark stopped: {e}")
        sys.exit(1)
    except (Stopped, KeyboardInterrupt) as e:
        log(f"benchmark interrupted ({e or 'Ctrl-C'}): taking the labs down; the raw file keeps the runs done")
        for n in sorted(LABS_UP):
            Lab(n, LAB_ROOT[0]).down()
        sys.exit(130)
