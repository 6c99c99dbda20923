//! How a play runs its hosts: `order`, `throttle`, the free strategy.

use crate::common::{Project, recap};

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
