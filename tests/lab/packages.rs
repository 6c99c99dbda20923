//! Package and service modules on real lab hosts (each host has its own
//! dpkg database and /etc through its overlay). Every test uses its own
//! host, so dpkg locks and init scripts never meet; names start with
//! `hoist-t-`.

use crate::common::{lab, project, recap};

/// Builds a tiny .deb on the host: `hoist-t-apt-pkg` 1.0-1 with a conffile.
const BUILD_DEB: &str = r#"
    - name: build a package
      shell:
        cmd: |
          set -e
          d=/tmp/hoist-t-apt-build
          rm -rf "$d" && mkdir -p "$d/pkg/DEBIAN" "$d/pkg/usr/share/hoist-t-apt-pkg" "$d/pkg/etc" "$d/it's \$x dir"
          printf 'Package: hoist-t-apt-pkg\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@example.com>\nDescription: hoist test\n' > "$d/pkg/DEBIAN/control"
          echo data > "$d/pkg/usr/share/hoist-t-apt-pkg/data"
          echo conf=1 > "$d/pkg/etc/hoist-t-apt-pkg.conf"
          echo /etc/hoist-t-apt-pkg.conf > "$d/pkg/DEBIAN/conffiles"
          dpkg-deb --build "$d/pkg" "$d/it's \$x dir/hoist t \"pkg\".deb" >/dev/null
"#;

#[test]
fn apt_installs_a_local_deb_removes_and_purges_it_once() {
    let Some(lab) = lab() else { return };
    let deb = "/tmp/hoist-t-apt-build/it's $x dir/hoist t \"pkg\".deb";
    let playbook = format!(
        r#"- hosts: web1
  gather_facts: false
  become: true
  vars:
    deb: {deb:?}
  tasks:
{BUILD_DEB}
    - name: predicted install
      apt:
        deb: "{{{{ deb }}}}"
      check_mode: true
      register: predicted
    - command: dpkg-query -W -f '${{Status}}' hoist-t-apt-pkg
      register: q0
      failed_when: false
      changed_when: false
    - name: install
      apt:
        deb: "{{{{ deb }}}}"
      register: installed
    - name: install again
      apt:
        deb: "{{{{ deb }}}}"
      register: again
    - name: by name
      apt: name=hoist-t-apt-pkg,openssh-server state=present
      register: byname
    - name: latest of a local-only package
      apt: name=hoist-t-apt-pkg state=latest
      register: latest
    - name: predicted removal
      apt: name=hoist-t-apt-pkg state=absent
      check_mode: true
      register: predicted_rm
    - name: remove
      apt:
        name: [hoist-t-apt-pkg]
        state: absent
      register: removed
    - command: dpkg-query -W -f '${{Status}}' hoist-t-apt-pkg
      register: q1
      changed_when: false
    - stat: path=/etc/hoist-t-apt-pkg.conf
      register: conf1
    - name: remove again
      apt: name=hoist-t-apt-pkg state=absent
      register: removed2
    - name: purge
      apt: name=hoist-t-apt-pkg state=absent purge=true
      register: purged
    - name: purge again
      apt: name=hoist-t-apt-pkg state=absent purge=true
      register: purged2
    - stat: path=/etc/hoist-t-apt-pkg.conf
      register: conf2
    - name: a package apt has never heard of
      apt: name=hoist-t-no-such-pkg
      register: nosuch
      ignore_errors: true
    - name: a URL is refused
      apt: deb=http://127.0.0.1:9/x.deb
      register: url
      ignore_errors: true
    - name: deb with another state
      apt:
        deb: "{{{{ deb }}}}"
        state: absent
      register: debstate
      ignore_errors: true
    - name: a fresh cache is not updated
      apt: update_cache=yes cache_valid_time=2000000000
      register: cache
    - name: two = is not a spec
      apt: name=a=1=2
      register: badspec
      ignore_errors: true
    - assert:
        that:
          - predicted is changed
          - "'Selecting previously unselected package hoist-t-apt-pkg' in predicted.stdout"
          - q0.rc == 1
          - installed is changed
          - "'Setting up hoist-t-apt-pkg (1.0-1)' in installed.stdout"
          - installed.stdout_lines is defined
          - again is not changed
          - again.stdout == '' and again.diff == ''
          - byname is not changed
          - byname.cache_updated == false
          - byname.cache_update_time > 0
          - byname.stdout is not defined
          - latest is not changed
          - predicted_rm is changed
          - "'Remv hoist-t-apt-pkg' in predicted_rm.stdout"
          - removed is changed
          - "'Removing hoist-t-apt-pkg (1.0-1)' in removed.stdout"
          - removed.cache_updated is not defined
          - q1.stdout == 'deinstall ok config-files'
          - conf1.stat.exists
          - removed2 is not changed
          - purged is changed
          - "'Purging configuration files for hoist-t-apt-pkg' in purged.stdout"
          - purged2 is not changed
          - not conf2.stat.exists
          - nosuch is failed
          - nosuch.msg == "No package matching 'hoist-t-no-such-pkg' is available"
          - nosuch.cache_updated is not defined
          - url is failed
          - "'is a URL' in url.msg"
          - debstate.msg == 'deb only supports state=present'
          - cache is not changed
          - cache.cache_updated == false
          - badspec.msg == 'invalid package spec: a=1=2'
"#
    );
    let p = project(&playbook);
    let r = lab.apply_on(p.path(), "web1", &["-e", "ansible_user=deploy"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "web1")[3], 0, "{r:?}");
    let q = lab.ssh("web1", "root", "dpkg-query -W hoist-t-apt-pkg; echo rc=$?");
    assert!(q.stdout.contains("rc=1"), "{q:?}");
}

#[test]
fn apt_fails_fast_with_apts_message_when_nothing_can_be_fetched() {
    let Some(lab) = lab() else { return };
    // No route out: a proxy on a closed loopback port makes every fetch
    // fail at once, and no retries keep it quick.
    let p = project(
        r#"- hosts: web2
  gather_facts: false
  environment:
    http_proxy: "http://127.0.0.1:9"
    APT_CONFIG: /tmp/hoist-t-apt-noretry.conf
  tasks:
    - copy:
        content: "Acquire::Retries \"0\";\n"
        dest: /tmp/hoist-t-apt-noretry.conf
    - name: known to apt but not fetchable
      apt: name=cowsay state=present
      register: fetch
      ignore_errors: true
    - name: predicted, it would be installed
      apt: name=cowsay
      check_mode: true
      register: sim
    - name: an update is attempted when asked
      apt: update_cache=true update_cache_retries=1
      register: upd
      ignore_errors: true
    - name: in check mode the update is only predicted
      apt: update_cache=true
      check_mode: true
      register: updcheck
    - name: upgrades, autoremove and install options predicted (same as ansible-core)
      check_mode: true
      block:
        - apt: upgrade=dist
          register: u1
        - apt: upgrade=safe force_apt_get=true
          register: u2
        - apt: autoremove=true
          register: u3
        - apt: name=cowsay install_recommends=no default_release=bookworm
          register: u4
    - name: two packages, one depending on the other
      shell:
        cmd: |
          set -e
          d=/tmp/hoist-t-dep
          rm -rf $d && mkdir -p $d/a/DEBIAN $d/b/DEBIAN
          printf 'Package: hoist-t-dep-a\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@e>\nDescription: a\n' > $d/a/DEBIAN/control
          printf 'Package: hoist-t-dep-b\nVersion: 2.0\nArchitecture: all\nDepends: hoist-t-dep-a (>= 1.0)\nMaintainer: t <t@e>\nDescription: b\n' > $d/b/DEBIAN/control
          dpkg-deb --build $d/a $d/a.deb >/dev/null; dpkg-deb --build $d/b $d/b.deb >/dev/null
    - apt: deb=/tmp/hoist-t-dep/b.deb
      register: dep1
      ignore_errors: true
    - apt: deb=/tmp/hoist-t-dep/a.deb
    - apt: deb=/tmp/hoist-t-dep/b.deb
      register: dep2
    - apt: name=hoist-t-dep-* state=absent purge=true
      register: dep3
    - assert:
        that:
          - fetch is failed
          - fetch.rc == 100
          - "fetch.msg.startswith(\"'/usr/bin/apt-get -y -o \")"
          - '"-o DPkg::Lock::Timeout=60       install ''cowsay=" in fetch.msg'
          - "'E: Failed to fetch' in fetch.msg"
          - fetch.cache_updated == false
          - sim is changed
          - "'Inst cowsay' in sim.stdout"
          - upd is failed
          - "upd.msg.startswith('Failed to update apt cache after 1 retries: ')"
          - "'Failed to fetch' in upd.msg"
          - updcheck is changed
          - updcheck.cache_updated
          - dep1.msg == 'Dependency is not satisfiable: hoist-t-dep-a (>= 1.0)\n'
          - dep2 is changed
          - u1.msg == u1.stdout
          - "'Calculating upgrade...' in u1.stdout"
          - "(u1 is changed) == ('0 upgraded, 0 newly installed, 0 to remove' not in u1.stdout)"
          - "(u2 is changed) == ('0 upgraded, 0 newly installed, 0 to remove' not in u2.stdout)"
          - "(u3 is changed) == ('The following packages will be REMOVED' in u3.stdout)"
          - u4 is changed
          - "'Inst cowsay' in u4.stdout"
          - "'Setting up hoist-t-dep-b (2.0)' in dep2.stdout"
          - dep3 is changed
          - "'Removing hoist-t-dep-a' in dep3.stdout and 'Removing hoist-t-dep-b' in dep3.stdout"
"#,
    );
    let start = std::time::Instant::now();
    let r = lab.apply_on(p.path(), "web2", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(start.elapsed().as_secs() < 60, "{r:?}");
    let q = lab.ssh("web2", "root", "dpkg-query -W cowsay; echo rc=$?");
    assert!(q.stdout.contains("rc=1"), "{q:?}");
}

#[test]
fn package_dispatches_to_apt_and_refuses_other_managers() {
    let Some(lab) = lab() else { return };
    let p = project(&format!(
        r#"- hosts: db1
  gather_facts: false
  tasks:
{BUILD_DEB}
    - apt:
        deb: "/tmp/hoist-t-apt-build/it's $x dir/hoist t \"pkg\".deb"
    - name: present, without facts (pkg_mgr gathered on the fly)
      package: name=hoist-t-apt-pkg state=present
      register: present
    - name: apt's own options pass through
      package: name=hoist-t-apt-pkg state=present update_cache=yes cache_valid_time=2000000000
      register: passthrough
    - name: removal predicted
      package: name=hoist-t-apt-pkg state=absent
      check_mode: true
      register: predicted
    - name: removal
      package:
        name: [hoist-t-apt-pkg]
        state: absent
      register: removed
    - name: names with spaces, quotes and $ that are not installed
      package:
        name: ["hoist-t it's $pkg", 'hoist-t "q"']
        state: absent
      register: odd
    - name: a manager hoist has no module for is refused
      package: name=hoist-t-apt-pkg state=present use=zypper
      register: other
      ignore_errors: true
    - name: apt's own states apply
      package: name=hoist-t-apt-pkg state=installed
      register: badstate
      ignore_errors: true
    - setup:
        gather_subset: ['!all']
    - name: with facts
      package: name=openssh-server state=present
      register: withfacts
    - assert:
        that:
          - present is not changed
          - present.cache_updated == false
          - passthrough is not changed and passthrough.cache_updated == false
          - predicted is changed
          - removed is changed
          - "'Removing hoist-t-apt-pkg' in removed.stdout"
          - odd is not changed
          - other is failed
          - "'\"zypper\"' in other.msg"
          - "badstate.msg == 'value of state must be one of: absent, build-dep, fixed, latest, present, got: installed'"
          - withfacts is not changed
          - ansible_facts.pkg_mgr == 'apt'
"#
    ));
    let r = lab.apply_on(p.path(), "db1", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "db1")[3], 0, "{r:?}");
}

/// A SysV init script for a tiny daemon (a shell loop with a pidfile) that
/// logs every action with its arguments.
const INIT_SCRIPT: &str = r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          hoist-t-svc
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: hoist test daemon
### END INIT INFO
NAME=hoist-t-svc-app1
PIDFILE=/var/tmp/$NAME.pid
LOG=/var/tmp/$NAME.log
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
action=$1; shift
echo "$action $*" >> "$LOG"
case "$action" in
  start)
    running && exit 0
    sh -c 'while :; do sleep 1; done' hoist-t-svc-app1-loop &
    echo $! > "$PIDFILE" ;;
  stop)
    running && kill "$(cat "$PIDFILE")"
    rm -f "$PIDFILE" ;;
  restart) "$0" stop; "$0" start ;;
  reload) running || exit 7 ;;
  status)
    if running; then echo "$NAME is running"; exit 0; fi
    echo "$NAME is not running"; exit 3 ;;
  *) exit 2 ;;
esac
exit 0
"#;

#[test]
fn service_drives_a_sysv_init_script_and_its_rc_links() {
    let Some(lab) = lab() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("init"), INIT_SCRIPT).expect("init script");
    std::fs::write(
        dir.path().join("site.yml"),
        r#"- hosts: app1
  gather_facts: false
  become: true
  vars:
    svc: hoist-t-svc-app1
  tasks:
    - copy: src=init dest=/etc/init.d/{{ svc }} mode=0755
    - file: path=/var/tmp/{{ svc }}.log state=absent
    - name: start predicted
      service: name={{ svc }} state=started
      check_mode: true
      register: p_start
    - name: start
      service: name={{ svc }} state=started
      register: start
    - name: start again
      service: name={{ svc }} state=started
      register: start2
    - name: restart
      service:
        name: "{{ svc }}"
        state: restarted
        arguments: "\"a b\" 'c $d' $HOME"
      register: restart
    - name: reload
      service: name={{ svc }} state=reloaded
      register: reload
    - name: by pattern
      service:
        name: "{{ svc }}"
        state: started
        pattern: "while :; do sleep 1; done hoist-t-svc-app1-loop"
      register: bypattern
    - name: stop
      service: name={{ svc }} state=stopped
      register: stop
    - name: stop again
      service: name={{ svc }} state=stopped
      register: stop2
    - name: enable predicted
      service: name={{ svc }} enabled=true
      check_mode: true
      register: p_enable
    - command: ls /etc/rc2.d
      register: links0
      changed_when: false
    - name: enable
      service: name={{ svc }} enabled=true
      register: enable
    - command: ls /etc/rc2.d
      register: links1
      changed_when: false
    - name: enable again
      service: name={{ svc }} enabled=yes
      register: enable2
    - name: disable
      service: name={{ svc }} enabled=false
      register: disable
    - name: disable again
      service: name={{ svc }} enabled=false
      register: disable2
    - name: a service that does not exist
      service:
        name: "hoist-t no such 'svc' $x"
        state: started
      register: missing
      ignore_errors: true
    - command: cat /var/tmp/{{ svc }}.log
      register: log
      changed_when: false
    - assert:
        that:
          - p_start is changed
          - p_start.msg == 'service state changed'
          - start is changed
          - start.state == 'started' and start.name == svc
          - start2 is not changed
          - restart is changed
          - reload is changed
          - bypattern is not changed
          - stop is changed and stop.state == 'stopped'
          - stop2 is not changed
          - p_enable is changed
          - links0.stdout is not search('S..' ~ svc)
          - enable is changed and enable.enabled
          - links1.stdout is search('S..' ~ svc)
          - enable2 is not changed
          - disable is changed and not disable.enabled
          - disable2 is not changed
          - missing is failed
          - "missing.msg == \"Could not find the requested service hoist-t no such 'svc' $x: host\""
"#,
    )
    .expect("playbook");
    let r = lab.apply_on(dir.path(), "app1", &["-e", "ansible_user=deploy"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "app1")[3], 0, "{r:?}");
    let log = lab.ssh("app1", "root", "cat /var/tmp/hoist-t-svc-app1.log");
    // Predictions run only status; arguments reach the script as words.
    assert_eq!(
        log.stdout,
        "status \nstatus \nstart \nstatus \nstatus a b c $d $HOME\nstop a b c $d $HOME\nstart a b c $d $HOME\nstatus \nreload \nstatus \nstop \nstatus \n",
        "{log:?}"
    );
    let links = lab.ssh("app1", "root", "ls /etc/rc2.d | grep -c '^S..hoist-t-svc-app1'; ls /etc/rc2.d | grep -c '^K..hoist-t-svc-app1'");
    assert_eq!(links.stdout, "0\n1\n", "{links:?}");
    let clean = lab.ssh(
        "app1",
        "root",
        "/etc/init.d/hoist-t-svc-app1 stop; update-rc.d -f hoist-t-svc-app1 remove; rm -f /etc/init.d/hoist-t-svc-app1 /var/tmp/hoist-t-svc-app1.log",
    );
    assert_eq!(clean.code, 0, "{clean:?}");
}

#[test]
fn systemd_module_on_a_host_without_systemd_fails_as_ansible() {
    let Some(lab) = lab() else { return };
    // Lab hosts do not run systemd (PID 1 is not systemd): the systemd
    // module can only report that, exactly as ansible-core 2.19 does.
    let p = project(
        r#"- hosts: app3
  gather_facts: false
  tasks:
    - systemd: name=ssh state=started
      register: r1
      ignore_errors: true
    - systemd_service: daemon_reload=true
      register: r2
      ignore_errors: true
    - systemd: state=started
      register: r3
      ignore_errors: true
    - service: name=ssh state=started use=systemd pattern=x
      register: r4
      ignore_errors: true
    - name: a systemd host's enabled check would be predicted, here it is refused
      systemd:
        name: "hoist-t it's a \"$unit\""
        enabled: true
      check_mode: true
      register: r5
      ignore_errors: true
    - assert:
        that:
          - r1.msg == 'Service is in unknown state'
          - r1.status == {}
          - "r2.msg.startswith('failure 1 during daemon-reload: System has not been booted with systemd')"
          - "r3.msg == \"missing parameter(s) required by 'state': name\""
          - r4.msg == 'Service is in unknown state'
          - r4.warnings == ['Ignoring "pattern" as it is not used in "systemd"']
          - r5 is failed
"#,
    );
    let systemd_here = lab.ssh("app3", "root", "cat /proc/1/comm");
    if systemd_here.stdout.trim() == "systemd" {
        eprintln!("app3 runs systemd; this test pins the non-systemd behaviour");
        return;
    }
    let r = lab.apply_on(p.path(), "app3", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "app3")[3], 0, "{r:?}");
}

#[test]
fn apt_repository_writes_sources_files_as_ansible() {
    let Some(lab) = lab() else { return };
    // Every result and file here matched ansible-playbook 2.19 on a twin host.
    let p = project(include_str!("apt_repository.yml"));
    let r = lab.apply_on(p.path(), "cache1", &["-e", "ansible_user=deploy", "-b"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(recap(&r, "cache1")[3], 0, "{r:?}");
    let left = lab.ssh(
        "cache1",
        "root",
        "ls /etc/apt/sources.list.d | grep -c hoist-t",
    );
    assert_eq!(left.stdout, "0\n", "{left:?}");
}
