"""pyinfra inventory for the benchmark: the hosts of a `hoist lab`.

Reads the lab's inventory.ini (the directory comes from the environment
variable HOIST_BENCH_LAB) and gives every target the lab's ssh_config, so
pyinfra (paramiko) reaches each host through the gateway with ProxyJump, as
ssh, ansible and hoist do. The groups are the lab's: web, app, db, cache,
and targets (all of them).
"""

import configparser
import os

_lab = os.environ["HOIST_BENCH_LAB"]
_ini = configparser.ConfigParser(allow_no_value=True, delimiters=("=",))
_ini.optionxform = str
_groups = {}
_section = None
with open(os.path.join(_lab, "inventory.ini"), encoding="utf-8") as _f:
    for _raw in _f:
        _line = _raw.strip()
        if not _line or _line.startswith("#"):
            continue
        if _line.startswith("["):
            _section = _line.strip("[]")
            continue
        if _section is None or ":" in _section:
            continue
        _name, *_vars = _line.split()
        _data = dict(v.split("=", 1) for v in _vars if "=" in v)
        _groups.setdefault(_section, []).append((_name, _data))

_common = {
    "ssh_config_file": os.path.join(_lab, "ssh_config"),
    "ssh_known_hosts_file": os.path.join(_lab, "known_hosts"),
    "ssh_strict_host_key_checking": "yes",
    # as ansible's retries (bench/ansible.cfg): the gateway's sshd drops some
    # of many simultaneous handshakes (MaxStartups)
    "ssh_connect_retries": 3,
}


def _hosts(group):
    return [
        (name, dict(_common, ansible_host=data.get("ansible_host", name)))
        for name, data in _groups.get(group, [])
    ]


web = _hosts("web")
app = _hosts("app")
db = _hosts("db")
cache = _hosts("cache")
targets = web + app + db + cache
