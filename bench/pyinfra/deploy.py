"""pyinfra's equivalent of bench/site.yml (issue 9's benchmark).

One operation per Ansible task, in the same order, with the same templates,
files and variables (bench/group_vars/all.yml, bench/roles/*/templates and
files). Where pyinfra has no equivalent the difference is noted here and in
docs/performance.md:
- a loop is a Python loop, so a looped task is several operations;
- stat is a fact (host.get_fact(File)), read while pyinfra prepares its
  operations, before any of them runs, not a step between operations;
- cron lines carry pyinfra's name comment, not Ansible's "#Ansible: NAME";
- blockinfile's markers are the same text ("# BEGIN BENCH LIMITS"), but
  files.block takes no owner or mode (it creates the file 0600): one more
  operation (files.file) sets them, on every host and on the databases.
"""

import os

import yaml
from pyinfra import host, inventory
from pyinfra.facts.files import File
from pyinfra.facts.server import Hostname
from pyinfra.operations import crontab, files, server

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(BENCH, "group_vars", "all.yml"), encoding="utf-8") as f:
    V = yaml.safe_load(f)

JINJA = {"trim_blocks": True}


def role(name, kind, fname):
    return os.path.join(BENCH, "roles", name, kind, fname)


def group_hosts(name):
    return [h.name for h in inventory.get_group(name, [])]


GROUPS = {g: group_hosts(g) for g in ("web", "app", "db", "cache")}
HOSTVARS = {h.name: {"ansible_host": h.data.ansible_host} for h in inventory}
MY_GROUP = next(g for g in ("web", "app", "db", "cache") if host.name in GROUPS[g])
TVARS = dict(
    V,
    inventory_hostname=host.name,
    ansible_host=host.data.ansible_host,
    group_names=sorted(["targets", MY_GROUP]),
    groups=GROUPS,
    hostvars=HOSTVARS,
)


def render(text):
    """Renders an inline template as Ansible renders a task argument."""
    import jinja2

    return jinja2.Environment(trim_blocks=True, keep_trailing_newline=True).from_string(text).render(TVARS)


# ---------------------------------------------------------------- common (18)
server.group(name="Ops group", group="benchops", gid=V["bench_ops_gid"])
server.group(name="Service group", group="benchsvc", gid=V["bench_svc_uid"])
for u in V["bench_ops_users"]:
    server.user(
        name=f"Ops users ({u['name']})",
        user=u["name"],
        uid=u["uid"],
        group="benchops",
        comment=u["comment"],
        shell="/bin/bash",
        home=f"/home/{u['name']}",
        create_home=True,
    )
server.user(
    name="Service user",
    user="benchsvc",
    uid=V["bench_svc_uid"],
    group="benchsvc",
    home="/opt/bench",
    ensure_home=False,
    shell="/usr/sbin/nologin",
)
for d in V["bench_dirs"]:
    files.directory(name=f"Site directories ({d})", path=d, user="root", group="root", mode="755")
files.directory(name="Log directory", path="/var/log/bench", user="benchsvc", group="benchops", mode="750")
hostname = host.get_fact(Hostname)
files.template(
    name="Host description",
    src=role("common", "templates", "host.conf.j2"),
    dest="/etc/bench/host.conf",
    user="root",
    group="root",
    mode="644",
    jinja_env_kwargs=JINJA,
    **dict(TVARS, ansible_hostname=hostname),
)
files.put(
    name="Message of the day",
    src=__import__("io").StringIO(
        render("{{ inventory_hostname }}: {{ bench_env }} ({{ bench_region }}), managed by configuration management.\n")
    ),
    dest="/etc/bench/motd",
    user="root",
    group="root",
    mode="644",
)
files.line(
    name="Environment name",
    path="/etc/bench/environment",
    line="^BENCH_ENV=.*$",
    replace=f"BENCH_ENV={V['bench_env']}",
)
files.line(
    name="Environment region",
    path="/etc/bench/environment",
    line="^BENCH_REGION=.*$",
    replace=f"BENCH_REGION={V['bench_region']}",
)
files.block(
    name="Open file limits",
    path="/etc/security/limits.d/bench.conf",
    marker="# {mark} BENCH LIMITS",
    content=f"benchsvc soft nofile {V['bench_nofile']}\nbenchsvc hard nofile {V['bench_nofile']}",
)
# files.block has no mode: it creates the file 0600 (blockinfile's mode: 0644)
files.file(name="Open file limits (mode)", path="/etc/security/limits.d/bench.conf", mode="644")
files.put(
    name="Log rotation",
    src=role("common", "files", "logrotate-bench"),
    dest="/etc/logrotate.d/bench",
    user="root",
    group="root",
    mode="644",
)
files.put(
    name="Cleanup script",
    src=role("common", "files", "bench-cleanup"),
    dest="/usr/local/sbin/bench-cleanup",
    user="root",
    group="root",
    mode="755",
)
crontab.crontab(
    name="Nightly cleanup job",
    cron_name="bench-cleanup",
    command="/usr/local/sbin/bench-cleanup",
    minute="15",
    hour="3",
    user="root",
)
crontab.crontab(
    name="Heartbeat job",
    cron_name="bench-heartbeat",
    command="date -u > /var/lib/bench/heartbeat",
    minute="*/5",
    user="root",
)
files.link(name="Current environment link", path="/etc/bench/current-env", target="/etc/bench/environment")
# "Is the host initialised" (stat): a fact, read before any operation runs
if not host.get_fact(File, path="/var/lib/bench/initialised"):
    server.shell(name="Initialise the host once", commands=["sh -c 'hostname > /var/lib/bench/initialised'"])

# ---------------------------------------------------------------- web (8)
if MY_GROUP == "web":
    files.directory(name="Document root", path="/srv/bench/www", user="benchsvc", group="benchsvc", mode="755")
    files.put(
        name="Index page",
        src=role("web", "files", "index.html"),
        dest="/srv/bench/www/index.html",
        user="benchsvc",
        group="benchsvc",
        mode="644",
    )
    files.template(
        name="Web server configuration",
        src=role("web", "templates", "web.conf.j2"),
        dest="/etc/bench/web.conf",
        user="root",
        group="root",
        mode="644",
        jinja_env_kwargs=JINJA,
        **TVARS,
    )
    files.directory(name="Sites directory", path="/etc/bench/sites", user="root", group="root", mode="755")
    files.template(
        name="Default site",
        src=role("web", "templates", "site.conf.j2"),
        dest="/etc/bench/sites/default.conf",
        user="root",
        group="root",
        mode="644",
        jinja_env_kwargs=JINJA,
        **TVARS,
    )
    files.link(name="Enable the default site", path="/etc/bench/sites/enabled.conf", target="/etc/bench/sites/default.conf")
    files.line(
        name="Worker count",
        path="/etc/bench/web.env",
        line="^WEB_WORKERS=.*$",
        replace=f"WEB_WORKERS={V['web_workers']}",
    )
    host.get_fact(File, path="/srv/bench/www/index.html")  # "Index page present" (stat)

# ---------------------------------------------------------------- app (8)
if MY_GROUP == "app":
    version = V["app_version"]
    for d in ("/opt/bench/app", "/opt/bench/app/releases", f"/opt/bench/app/releases/{version}"):
        files.directory(name=f"Application directories ({d})", path=d, user="benchsvc", group="benchsvc", mode="755")
    files.put(
        name="Release marker",
        src=__import__("io").StringIO(f"{version}\n"),
        dest=f"/opt/bench/app/releases/{version}/VERSION",
        user="benchsvc",
        group="benchsvc",
        mode="644",
    )
    files.link(name="Current release", path="/opt/bench/app/current", target=f"/opt/bench/app/releases/{version}")
    files.template(
        name="Application settings",
        src=role("app", "templates", "app.env.j2"),
        dest="/etc/bench/app.env",
        user="root",
        group="benchsvc",
        mode="640",
        jinja_env_kwargs=JINJA,
        **TVARS,
    )
    files.put(
        name="Service unit",
        src=role("app", "files", "bench-app.service"),
        dest="/etc/systemd/system/bench-app.service",
        user="root",
        group="root",
        mode="644",
    )
    files.line(name="Heap size", path="/etc/bench/app.jvm", line="^-Xmx.*$", replace=f"-Xmx{V['app_heap_mb']}m")
    files.line(name="Heap start size", path="/etc/bench/app.jvm", line="^-Xms.*$", replace=f"-Xms{V['app_heap_mb']}m")
    crontab.crontab(
        name="Session cleanup job",
        cron_name="bench-app-sessions",
        command="find /opt/bench/app -name '*.session' -mmin +60 -delete",
        minute="*/10",
        user="root",
    )

# ---------------------------------------------------------------- db (8)
if MY_GROUP == "db":
    server.user(
        name="Database user",
        user="benchdb",
        uid=2300,
        home="/var/lib/benchdb",
        create_home=True,
        shell="/bin/sh",
        comment="bench database",
    )
    files.directory(name="Data directory", path="/var/lib/benchdb/data", user="benchdb", group="benchdb", mode="700")
    files.template(
        name="Database configuration",
        src=role("db", "templates", "db.conf.j2"),
        dest="/etc/bench/db.conf",
        user="root",
        group="benchdb",
        mode="640",
        jinja_env_kwargs=JINJA,
        **TVARS,
    )
    files.block(
        name="Client access",
        path="/etc/bench/db_hba.conf",
        marker="# {mark} BENCH CLIENTS",
        content=render(
            "{% for h in groups['app'] %}\nhost all app {{ hostvars[h].ansible_host }}/32 scram-sha-256\n{% endfor %}\n"
        ).rstrip("\n"),
    )
    files.file(name="Client access (owner, mode)", path="/etc/bench/db_hba.conf", user="root", group="benchdb", mode="640")
    files.directory(name="Backup directory", path="/var/backups/bench", user="benchdb", group="benchdb", mode="700")
    files.put(
        name="Backup script",
        src=role("db", "files", "bench-db-backup"),
        dest="/usr/local/sbin/bench-db-backup",
        user="root",
        group="root",
        mode="755",
    )
    crontab.crontab(
        name="Nightly backup job",
        cron_name="bench-db-backup",
        command="/usr/local/sbin/bench-db-backup",
        minute="30",
        hour="2",
        user="root",
    )
    host.get_fact(File, path="/var/lib/benchdb/data")  # "Data directory present" (stat)

# ---------------------------------------------------------------- cache (8)
if MY_GROUP == "cache":
    server.user(
        name="Cache user",
        user="benchcache",
        uid=2400,
        home="/var/lib/benchcache",
        ensure_home=False,
        shell="/usr/sbin/nologin",
        comment="bench cache",
    )
    files.directory(name="Cache directory", path="/var/lib/benchcache", user="benchcache", group="benchcache", mode="750")
    files.template(
        name="Cache configuration",
        src=role("cache", "templates", "cache.conf.j2"),
        dest="/etc/bench/cache.conf",
        user="root",
        group="benchcache",
        mode="640",
        jinja_env_kwargs=JINJA,
        **TVARS,
    )
    files.line(
        name="Memory overcommit setting",
        path="/etc/bench/cache-sysctl.conf",
        line="^vm.overcommit_memory.*$",
        replace="vm.overcommit_memory = 1",
    )
    files.line(
        name="Listen backlog setting",
        path="/etc/bench/cache-sysctl.conf",
        line="^net.core.somaxconn.*$",
        replace="net.core.somaxconn = 1024",
    )
    files.put(
        name="Access list",
        src=__import__("io").StringIO(
            render("{% for h in groups['app'] %}\nallow {{ hostvars[h].ansible_host }}\n{% endfor %}\ndeny all\n")
        ),
        dest="/etc/bench/cache.acl",
        user="root",
        group="benchcache",
        mode="640",
    )
    files.file(name="Access list mode", path="/etc/bench/cache.acl", user="root", group="benchcache", mode="640")
    crontab.crontab(
        name="Cache flush job",
        cron_name="bench-cache-flush",
        command="find /var/lib/benchcache -name '*.dump' -mtime +2 -delete",
        minute="0",
        hour="4",
        user="root",
    )
