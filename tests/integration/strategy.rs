//! How a play runs its hosts: `order`, `throttle`, the free strategy.

use crate::common::{Project, app_hosts, recap};

/// Four local hosts, in inventory order c3, a1, b2, d4.
fn four_hosts() -> Project {
    let p = Project::new();
    p.write(
        "hosts.ini",
        "[web]\nc3 ansible_connection=local\na1 ansible_connection=local\nb2 ansible_connection=local\n[db]\nd4 ansible_connection=local\n",
    );
    p
}

/// The hosts of the result lines under each `TASK [name]` banner, in order.
fn results_under(stdout: &str, task: &str) -> Vec<Vec<String>> {
    let banner = format!("TASK [{task}] ");
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut inside = false;
    for line in stdout.lines() {
        if line.starts_with("TASK [") || line.starts_with("RUNNING HANDLER [") {
            inside = line.starts_with(&banner);
            if inside {
                out.push(Vec::new());
            }
            continue;
        }
        if line.starts_with("PLAY ") {
            inside = false;
        }
        if !inside {
            continue;
        }
        if let Some(host) = line
            .split_once(": [")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(h, _)| h.to_owned())
            && let Some(last) = out.last_mut()
        {
            last.push(host);
        }
    }
    out
}

#[test]
fn order_sorts_reverses_and_shuffles_hosts_before_batching() {
    let p = four_hosts();
    p.write(
        "site.yml",
        r#"- hosts: all
  gather_facts: false
  order: sorted
  tasks:
    - name: sorted
      debug: msg=x
- hosts: all
  gather_facts: false
  order: reverse_sorted
  tasks:
    - name: reverse_sorted
      debug: msg=x
- hosts: all
  gather_facts: false
  order: reverse_inventory
  tasks:
    - name: reverse_inventory
      debug: msg=x
- hosts: all
  gather_facts: false
  order: inventory
  tasks:
    - name: inventory
      debug: msg=x
- hosts: all
  gather_facts: false
  order: reverse_sorted
  serial: 2
  tasks:
    - name: batches
      debug: msg="{{ ansible_play_batch | join(',') }}"
- hosts: all
  gather_facts: false
  order: shuffle
  tasks:
    - name: shuffle
      debug: msg=x
"#,
    );
    let r = p.hoist("apply", &["-f", "1"]);
    assert_eq!(r.code, 0, "{r:?}");
    let hosts = |task: &str| results_under(&r.stdout, task);
    assert_eq!(hosts("sorted"), [["a1", "b2", "c3", "d4"]], "{r:?}");
    assert_eq!(hosts("reverse_sorted"), [["d4", "c3", "b2", "a1"]], "{r:?}");
    assert_eq!(
        hosts("reverse_inventory"),
        [["d4", "b2", "a1", "c3"]],
        "{r:?}"
    );
    assert_eq!(hosts("inventory"), [["c3", "a1", "b2", "d4"]], "{r:?}");
    // Batches are cut from the ordered list.
    assert_eq!(hosts("batches"), [["d4", "c3"], ["b2", "a1"]], "{r:?}");
    assert!(r.stdout.contains(r#""msg": "d4,c3""#), "{r:?}");
    let mut shuffled = hosts("shuffle").concat();
    shuffled.sort();
    assert_eq!(shuffled, ["a1", "b2", "c3", "d4"], "{r:?}");
}

#[test]
fn a_bad_order_is_refused_where_it_is_written() {
    let p = four_hosts();
    p.write(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  order: sortd\n  tasks:\n    - debug: msg=x\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("invalid `order` 'sortd'"), "{r:?}");
    assert!(r.stderr.contains("site.yml:3:10"), "{r:?}");
    assert!(r.stderr.contains("did you mean `sorted`?"), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
}

/// A shell command that fails when more than `n` hosts run it at once:
/// each holds one of `n` slot directories for a moment.
fn slots(n: usize) -> String {
    format!(
        "for i in $(seq {n}); do if mkdir {{{{ root }}}}/slot$i 2>/dev/null; then sleep 0.3; rmdir {{{{ root }}}}/slot$i; exit 0; fi; done; exit 1"
    )
}

#[test]
fn throttle_bounds_hosts_per_task_from_task_block_and_play() {
    let p = four_hosts();
    p.write(
        "site.yml",
        &format!(
            r#"- hosts: all
  gather_facts: false
  tasks:
    - name: task throttle
      shell: "{one}"
      throttle: 1
    - name: block throttle, templated
      throttle: "{{{{ limit }}}}"
      vars:
        limit: 2
      block:
        - name: in the block
          shell: "{two}"
        - name: the task's own wins
          shell: "{one}"
          throttle: 1
- hosts: all
  gather_facts: false
  throttle: 1
  tasks:
    - name: play throttle
      shell: "{one}"
    - name: bad throttle
      debug: msg=x
      throttle: "{{{{ 'many' }}}}"
"#,
            one = slots(1),
            two = slots(2),
        ),
    );
    let r = p.hoist("apply", &["-f", "4"]);
    assert_eq!(r.code, 2, "{r:?}");
    for task in [
        "task throttle",
        "in the block",
        "the task's own wins",
        "play throttle",
    ] {
        let hosts = results_under(&r.stdout, task);
        assert_eq!(hosts.len(), 1, "{task}: {r:?}");
        assert_eq!(hosts[0].len(), 4, "{task}: {r:?}");
    }
    assert!(!r.stdout.contains("FAILED! => {\"changed\": true"), "{r:?}");
    assert!(
        r.stdout
            .contains("Failed to convert the throttle value to an integer"),
        "{r:?}"
    );
    // Every host: 4 shell tasks changed, then the bad throttle failed.
    for h in ["a1", "b2", "c3", "d4"] {
        assert_eq!(recap(&r, h), [4, 4, 0, 1, 0, 0, 0], "{h}: {r:?}");
    }
}

#[test]
fn throttle_must_be_a_whole_number() {
    let p = four_hosts();
    p.write(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n      throttle: -1\n    - block:\n        - debug: msg=x\n      throttle: some\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("site.yml:5:17"), "{r:?}");
    assert!(r.stderr.contains("site.yml:8:17"), "{r:?}");
    assert!(
        r.stderr.contains("`throttle` must be a whole number"),
        "{r:?}"
    );
}

fn nanos(p: &Project, file: &str) -> u128 {
    p.read(file)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn free_strategy_lets_hosts_run_ahead() {
    let p = Project::new();
    app_hosts(&p, 3);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  strategy: free
  tasks:
    - name: one
      shell: sleep {{ 1 if inventory_hostname == 'h1' else 0 }}; date +%s%N > {{ root }}/one-{{ inventory_hostname }}
      notify: h
    - name: two
      shell: date +%s%N > {{ root }}/two-{{ inventory_hostname }}
    - name: fails on h3
      fail: msg=boom
      when: inventory_hostname == 'h3'
    - name: three
      set_fact:
        seen: "{{ hostvars.h2.done | default('no') }}"
    - name: last
      set_fact:
        done: yes
  handlers:
    - name: h
      shell: echo {{ inventory_hostname }} >> {{ root }}/handlers
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 2, "{r:?}");
    // h2 finished its second task while h1 was still in its first.
    assert!(nanos(&p, "two-h2") < nanos(&p, "one-h1"), "{r:?}");
    // Banners show again before a host's result when another task's
    // banner was printed since.
    assert!(r.stdout.matches("TASK [one]").count() >= 2, "{r:?}");
    // Handlers run per host; h3 failed before its handlers ran.
    let mut handled: Vec<String> = p.read("handlers").lines().map(str::to_owned).collect();
    handled.sort();
    assert_eq!(handled, ["h1", "h2"], "{r:?}");
    assert_eq!(recap(&r, "h1"), [5, 3, 0, 0, 1, 0, 0], "{r:?}");
    assert_eq!(recap(&r, "h3"), [2, 2, 0, 1, 0, 0, 0], "{r:?}");
}

#[test]
fn free_lanes_see_each_others_facts_and_end_play_stops_all() {
    let p = Project::new();
    app_hosts(&p, 2);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  strategy: free
  max_fail_percentage: 0
  tasks:
    - set_fact:
        mine: "{{ inventory_hostname }}"
      run_once: true
    - shell: sleep {{ 0.5 if inventory_hostname == 'h2' else 0 }}
    - copy:
        content: "{{ hostvars.h1.mine }} {{ hostvars.h2.mine }}\n"
        dest: "{{ root }}/seen-{{ inventory_hostname }}"
- hosts: app
  gather_facts: false
  strategy: free
  tasks:
    - shell: sleep {{ 1 if inventory_hostname == 'h2' else 0 }}
    - meta: end_play
      when: inventory_hostname == 'h1'
    - shell: echo {{ inventory_hostname }} >> {{ root }}/after-end-play
- hosts: app
  gather_facts: false
  tasks:
    - shell: echo {{ inventory_hostname }} >> {{ root }}/next-play
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    // run_once cannot apply: every host ran the set_fact.
    assert!(
        r.stderr.contains(
            "[WARNING]: Using run_once with the free strategy is not currently supported."
        ),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(
            "[WARNING]: Using max_fail_percentage with the free strategy is not supported"
        ),
        "{r:?}"
    );
    // h2 waited long enough to see h1's fact, and its own.
    assert_eq!(p.read("seen-h2"), "h1 h2\n");
    // h1 ended the play for every host, h2 in the middle of its shell.
    assert!(!p.root().join("after-end-play").exists(), "{r:?}");
    let mut next: Vec<String> = p.read("next-play").lines().map(str::to_owned).collect();
    next.sort();
    assert_eq!(next, ["h1", "h2"], "{r:?}");
}

#[test]
fn host_pinned_keeps_a_fork_for_the_whole_play() {
    let p = Project::new();
    app_hosts(&p, 3);
    p.write(
        "site.yml",
        &format!(
            r#"- hosts: app
  gather_facts: false
  strategy: host_pinned
  tasks:
    - shell: date +%s%N > {{{{ root }}}}/start-{{{{ inventory_hostname }}}}; sleep 0.3
    - shell: sleep 0.3; date +%s%N > {{{{ root }}}}/end-{{{{ inventory_hostname }}}}
- hosts: app
  gather_facts: false
  strategy: free
  tasks:
    - name: throttled
      shell: "{slot}"
      throttle: 1
"#,
            slot = slots(1)
        ),
    );
    let r = p.hoist("apply", &["-f", "2"]);
    assert_eq!(r.code, 0, "{r:?}");
    // h1 and h2 run together; h3 starts only when one of them is done
    // with the whole play (with free, it would start after a task).
    let (end1, end2) = (nanos(&p, "end-h1"), nanos(&p, "end-h2"));
    assert!(nanos(&p, "start-h2") < end1, "{r:?}");
    assert!(nanos(&p, "start-h3") >= end1.min(end2), "{r:?}");
    // The free strategy honours throttle across its lanes.
    assert_eq!(
        results_under(&r.stdout, "throttled").concat().len(),
        3,
        "{r:?}"
    );
    assert!(!r.stdout.contains("FAILED"), "{r:?}");
}

#[test]
fn strategies_hoist_cannot_run_are_refused_at_load_time() {
    let p = Project::new();
    app_hosts(&p, 1);
    p.write(
        "site.yml",
        "- hosts: app\n  strategy: debug\n  tasks: []\n- hosts: app\n  strategy: ansible.builtin.free\n  tasks:\n    - add_host: name=x\n",
    );
    let r = p.apply();
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("the strategy 'debug' is not supported"),
        "{r:?}"
    );
    assert!(r.stderr.contains("site.yml:2:13"), "{r:?}");
    assert!(
        r.stderr
            .contains("The 'add_host' module bypasses the host loop"),
        "{r:?}"
    );
    assert!(r.stderr.contains("site.yml:7:7"), "{r:?}");
}
