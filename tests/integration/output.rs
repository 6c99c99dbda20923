//! `--output json` (JSON Lines events, validated against
//! docs/events.schema.json) and `--junit FILE` (parsed back).

use serde_json::Value as Json;

use crate::common::{Project, Run, app_hosts, recap};

/// ok, changed (with a diff), skipped, an ignored failure, a loop, a
/// `no_log` task, a loop with an ignored failing item, and a failure.
const PLAYBOOK: &str = r#"
- name: Output play
  hosts: localhost
  gather_facts: false
  tasks:
    - name: ok task
      command: "true"
      changed_when: false
    - name: changed file
      copy:
        dest: "{{ root }}/a.txt"
        content: "hello\n"
      diff: true
    - name: skipped task
      command: "true"
      when: false
    - name: ignored failure
      command: /bin/false
      ignore_errors: true
    - name: loop task
      debug:
        msg: "item {{ item }}"
      loop: [1, 2]
    - name: secret task
      command: echo s3cr3t-value
      no_log: true
    - name: loop failing ignored
      command: "test {{ item }} = 1"
      loop: [1, 2]
      ignore_errors: true
    - name: failing task
      command: sh -c 'echo oops >&2; exit 3'
"#;

/// A playbook without failures, for `hoist diff`.
const DRIFT: &str = r#"
- name: Drift play
  hosts: localhost
  gather_facts: false
  tasks:
    - name: in sync
      stat:
        path: "{{ root }}"
    - name: config file
      copy:
        dest: "{{ root }}/a.txt"
        content: "hello\n"
    - name: secret file
      copy:
        dest: "{{ root }}/secret.txt"
        content: "s3cr3t-value\n"
      no_log: true
    - name: never
      command: "true"
      when: false
"#;

fn project(playbook: &str) -> Project {
    let p = Project::new();
    p.write("site.yml", playbook);
    p
}

fn validator() -> jsonschema::Validator {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.schema.json");
    let text = std::fs::read_to_string(path).expect("read the schema");
    let schema: Json = serde_json::from_str(&text).expect("the schema is JSON");
    assert!(
        jsonschema::meta::is_valid(&schema),
        "the schema is a valid JSON Schema"
    );
    jsonschema::validator_for(&schema).expect("compile the schema")
}

/// Every line of stdout is an event that the schema accepts.
fn events(run: &Run) -> Vec<Json> {
    let v = validator();
    let mut out = Vec::new();
    for line in run.stdout.lines() {
        let event: Json =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
        let errors: Vec<String> = v.iter_errors(&event).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line}\ndoes not validate: {errors:?}");
        assert_eq!(event["version"], 1, "{line}");
        out.push(event);
    }
    assert!(!out.is_empty(), "no events: {run:?}");
    out
}

fn of_type<'a>(events: &'a [Json], kind: &str) -> Vec<&'a Json> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// The task-level result (not a loop item's) of `task`.
fn task_result<'a>(events: &'a [Json], task: &str) -> &'a Json {
    let found: Vec<&Json> = of_type(events, "host_result")
        .into_iter()
        .filter(|e| e["task"] == task && e["item"].is_null())
        .collect();
    assert_eq!(found.len(), 1, "one result of {task}: {found:?}");
    found[0]
}

fn recap_numbers(events: &[Json], host: &str) -> [u32; 7] {
    let recaps = of_type(events, "recap");
    assert_eq!(recaps.len(), 1, "one recap");
    let c = &recaps[0]["hosts"][host];
    let keys = [
        "ok",
        "changed",
        "unreachable",
        "failed",
        "skipped",
        "rescued",
        "ignored",
    ];
    let mut out = [0u32; 7];
    for (i, k) in keys.iter().enumerate() {
        out[i] = c[k]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or_else(|| panic!("{k} in {c}"));
    }
    out
}

#[test]
fn apply_json_events_validate_and_match_the_text_recap() {
    let text = project(PLAYBOOK).apply();
    let p = project(PLAYBOOK);
    let run = p.hoist("apply", &["--output", "json"]);
    assert_eq!(run.code, text.code, "same exit code: {run:?}");
    assert_eq!(run.code, 2, "{run:?}");
    let ev = events(&run);

    assert_eq!(of_type(&ev, "play_start").len(), 1);
    assert_eq!(of_type(&ev, "play_start")[0]["play"], "Output play");
    let starts = of_type(&ev, "task_start");
    assert_eq!(starts.len(), 8, "{starts:?}");
    assert_eq!(starts[0]["task"], "ok task");
    assert_eq!(starts[0]["file"], "site.yml");
    assert!(starts[0]["line"].as_u64().is_some_and(|l| l > 0));

    let status = |t: &str| task_result(&ev, t)["status"].clone();
    assert_eq!(status("ok task"), "ok");
    assert_eq!(status("changed file"), "changed");
    assert_eq!(status("skipped task"), "skipped");
    assert_eq!(status("ignored failure"), "ignored");
    assert_eq!(status("loop task"), "ok");
    assert_eq!(status("secret task"), "changed");
    assert_eq!(status("loop failing ignored"), "ignored");
    assert_eq!(status("failing task"), "failed");

    // The diff keyword: the changed file's diff, as before/after.
    let changed = task_result(&ev, "changed file");
    assert_eq!(changed["changed"], true);
    let diff = &changed["diff"][0];
    assert_eq!(diff["before"], "");
    assert_eq!(diff["after"], "hello\n");
    // No diff mode, no diff.
    assert!(task_result(&ev, "ok task").get("diff").is_none());

    let failed = task_result(&ev, "failing task");
    assert_eq!(failed["rc"], 3);
    assert_eq!(failed["msg"], "non-zero return code");
    assert_eq!(failed["result"]["stderr"], "oops");
    assert!(failed["duration_ms"].is_u64());

    // Loop items have their own results, then the loop's.
    let items: Vec<&Json> = of_type(&ev, "host_result")
        .into_iter()
        .filter(|e| e["task"] == "loop task" && !e["item"].is_null())
        .collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["item"], "1");
    assert_eq!(items[1]["msg"], "item 2");
    assert_eq!(task_result(&ev, "loop task")["loop"], true);
    let failed_item = of_type(&ev, "host_result")
        .into_iter()
        .find(|e| e["task"] == "loop failing ignored" && e["item"] == "2")
        .expect("the failing item");
    assert_eq!(failed_item["status"], "failed");

    // no_log: censored as the text output censors it.
    let secret = task_result(&ev, "secret task");
    assert_eq!(secret["censored"], true);
    assert!(secret["msg"].is_null());
    assert!(!run.stdout.contains("s3cr3t-value"), "{run:?}");
    assert!(!text.stdout.contains("s3cr3t-value"), "{text:?}");

    assert_eq!(recap_numbers(&ev, "localhost"), recap(&text, "localhost"));
    assert_eq!(recap_numbers(&ev, "localhost"), [6, 4, 0, 1, 1, 0, 2]);
}

#[test]
fn diff_json_events_carry_the_pending_diff() {
    let p = project(DRIFT);
    std::fs::write(p.root().join("a.txt"), "old\n").expect("seed");
    let text = p.diff();
    let run = p.hoist("diff", &["--output", "json"]);
    assert_eq!(run.code, 2, "changes pending: {run:?}");
    assert_eq!(text.code, 2, "{text:?}");
    let ev = events(&run);
    let changed = task_result(&ev, "config file");
    assert_eq!(changed["status"], "changed");
    assert_eq!(changed["diff"][0]["before"], "old\n");
    assert_eq!(changed["diff"][0]["after"], "hello\n");
    // A no_log task shows no diff, as in the text output.
    let secret = task_result(&ev, "secret file");
    assert_eq!(secret["censored"], true);
    assert!(secret.get("diff").is_none());
    assert!(!run.stdout.contains("s3cr3t"), "{run:?}");
    assert_eq!(recap_numbers(&ev, "localhost"), recap(&text, "localhost"));
    assert_eq!(
        std::fs::read_to_string(p.root().join("a.txt"))
            .ok()
            .as_deref(),
        Some("old\n")
    );
}

#[test]
fn free_strategy_and_handlers_in_events() {
    let p = project(
        r#"
- hosts: localhost
  gather_facts: false
  strategy: free
  tasks:
    - name: make it
      copy:
        dest: "{{ root }}/b.txt"
        content: "b\n"
      notify: restart it
    - name: looked at
      command: "true"
      changed_when: false
  handlers:
    - name: restart it
      debug:
        msg: restarted
"#,
    );
    let run = p.hoist("apply", &["--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let ev = events(&run);
    assert_eq!(task_result(&ev, "make it")["status"], "changed");
    assert_eq!(task_result(&ev, "looked at")["status"], "ok");
    let handler = task_result(&ev, "restart it");
    assert_eq!(handler["handler"], true);
    assert_eq!(handler["msg"], "restarted");
    assert_eq!(recap_numbers(&ev, "localhost"), [3, 1, 0, 0, 0, 0, 0]);
}

#[derive(Debug)]
struct Case {
    suite: String,
    classname: String,
    name: String,
    failure: Option<String>,
    failure_type: Option<String>,
    skipped: bool,
    time: f64,
}

fn junit_cases(path: &std::path::Path) -> (roxmltree::Document<'static>, Vec<Case>) {
    let text = std::fs::read_to_string(path).expect("the JUnit file");
    let text: &'static str = Box::leak(text.into_boxed_str());
    let doc = roxmltree::Document::parse(text).expect("well-formed XML");
    let mut cases = Vec::new();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    for suite in root.children().filter(|n| n.has_tag_name("testsuite")) {
        for tc in suite.children().filter(|n| n.has_tag_name("testcase")) {
            let failure = tc.children().find(|n| n.has_tag_name("failure"));
            cases.push(Case {
                suite: suite.attribute("name").unwrap_or_default().to_owned(),
                classname: tc.attribute("classname").unwrap_or_default().to_owned(),
                name: tc.attribute("name").unwrap_or_default().to_owned(),
                failure: failure.map(|f| f.text().unwrap_or_default().to_owned()),
                failure_type: failure.and_then(|f| f.attribute("type").map(str::to_owned)),
                skipped: tc.children().any(|n| n.has_tag_name("skipped")),
                time: tc
                    .attribute("time")
                    .and_then(|t| t.parse().ok())
                    .expect("a time attribute"),
            });
        }
    }
    (doc, cases)
}

fn count_attr(node: roxmltree::Node<'_, '_>, name: &str) -> usize {
    node.attribute(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} on {}", node.tag_name().name()))
}

#[test]
fn junit_report_of_an_apply() {
    let p = project(PLAYBOOK);
    let file = p.path().join("reports/junit.xml");
    let run = p.hoist("apply", &["--junit", file.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, 2, "{run:?}");
    // The text output is unchanged by --junit.
    assert!(run.stdout.contains("PLAY RECAP"), "{run:?}");
    let (doc, cases) = junit_cases(&file);
    assert_eq!(cases.len(), 8);
    assert!(cases.iter().all(|c| c.classname == "localhost"));
    assert!(cases.iter().all(|c| c.suite == "Output play"));
    assert!(cases.iter().all(|c| c.time >= 0.0));
    let failed: Vec<&Case> = cases.iter().filter(|c| c.failure.is_some()).collect();
    assert_eq!(failed.len(), 1, "only the real failure; ignored ones pass");
    assert_eq!(failed[0].name, "failing task");
    assert_eq!(failed[0].failure_type.as_deref(), Some("failed"));
    let text = failed[0].failure.as_deref().unwrap_or_default();
    assert!(text.contains("rc: 3"), "{text}");
    assert!(text.contains("oops"), "{text}");
    let skipped: Vec<&str> = cases
        .iter()
        .filter(|c| c.skipped)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(skipped, ["skipped task"]);
    let root = doc.root_element();
    assert_eq!(count_attr(root, "tests"), 8);
    assert_eq!(count_attr(root, "failures"), 1);
    assert_eq!(count_attr(root, "skipped"), 1);
    let raw = std::fs::read_to_string(&file).expect("junit");
    assert!(!raw.contains("s3cr3t-value"), "{raw}");
    // Written atomically: no temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(p.path().join("reports"))
        .expect("reports dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn junit_report_of_a_diff_shows_drift_as_failures() {
    let p = project(DRIFT);
    std::fs::write(p.root().join("a.txt"), "old\n").expect("seed");
    let run = p.hoist("diff", &["--output", "json", "--junit", "drift.xml"]);
    assert_eq!(run.code, 2, "{run:?}");
    events(&run);
    let (doc, cases) = junit_cases(&p.path().join("drift.xml"));
    assert_eq!(cases.len(), 4);
    let drift = cases
        .iter()
        .find(|c| c.name == "config file")
        .expect("config file");
    assert_eq!(drift.failure_type.as_deref(), Some("changed"));
    let text = drift.failure.as_deref().unwrap_or_default();
    let a = p.root().join("a.txt");
    assert!(
        text.contains(&format!(
            "--- before: {}\n+++ after: {}\n",
            a.display(),
            a.display()
        )),
        "{text}"
    );
    assert!(text.contains("@@ -1 +1 @@\n-old\n+hello\n"), "{text}");
    // A no_log task's drift is a failure without its content.
    let secret = cases
        .iter()
        .find(|c| c.name == "secret file")
        .expect("secret file");
    assert_eq!(secret.failure_type.as_deref(), Some("changed"));
    assert!(
        !secret
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains("s3cr3t")
    );
    let in_sync = cases.iter().find(|c| c.name == "in sync").expect("in sync");
    assert!(in_sync.failure.is_none() && !in_sync.skipped);
    assert!(
        cases
            .iter()
            .find(|c| c.name == "never")
            .is_some_and(|c| c.skipped)
    );
    assert_eq!(count_attr(doc.root_element(), "failures"), 2);

    // In sync after an apply: no failures, exit 0.
    assert_eq!(p.apply().code, 0);
    let run = p.hoist("diff", &["--junit", "drift.xml"]);
    assert_eq!(run.code, 0, "{run:?}");
    let (doc, _) = junit_cases(&p.path().join("drift.xml"));
    assert_eq!(count_attr(doc.root_element(), "failures"), 0);
}

#[test]
fn the_schema_rejects_what_it_does_not_describe() {
    let v = validator();
    let good = serde_json::json!({
        "version": 1, "type": "host_result", "host": "h", "task": "t",
        "file": "site.yml", "line": 3, "handler": false, "delegated_to": null,
        "status": "ok", "changed": false, "ignored": false, "item": null,
        "msg": null, "duration_ms": 0
    });
    assert!(v.is_valid(&good));
    let mut extra = good.clone();
    extra["secret"] = Json::from("x");
    assert!(!v.is_valid(&extra), "unknown keys are refused");
    let mut status = good.clone();
    status["status"] = Json::from("weird");
    assert!(!v.is_valid(&status));
    let mut version = good;
    version["version"] = Json::from(2);
    assert!(!v.is_valid(&version));
    assert!(!v.is_valid(&serde_json::json!({"version": 1, "type": "nope"})));
}

/// A converging file, a task that rewrites a file with a new value on each
/// run, a command that always reports changed, and a handler it notifies.
const NOT_IDEMPOTENT: &str = r#"
- name: Converge
  hosts: localhost
  gather_facts: false
  tasks:
    - name: stable file
      copy:
        dest: "{{ root }}/stable.txt"
        content: "same\n"
    - name: stamp file
      copy:
        dest: "{{ root }}/stamp.txt"
        content: "{{ lookup('pipe', 'date +%s%N') }}\n"
    - name: always changed
      command: "true"
      notify: restart thing
    - name: changed item
      command: "echo {{ item }}"
      changed_when: item == 'b'
      loop: [a, b]
  handlers:
    - name: restart thing
      command: "true"
      changed_when: false
"#;

#[test]
fn verify_idempotent_names_each_task_that_changes_again() {
    let p = project(NOT_IDEMPOTENT);
    let file = p.path().join("junit.xml");
    let run = p.hoist(
        "apply",
        &[
            "--verify-idempotent",
            "--junit",
            file.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(run.code, 2, "{run:?}");
    let (_, verdict) = run
        .stdout
        .split_once("IDEMPOTENCE CHECK FAILED: 3 results changed on the second run:\n")
        .unwrap_or_else(|| panic!("{run:?}"));
    // The first run converged the stable file; the second changed it no
    // more. The list names the others, where they are, with the diff.
    assert!(!verdict.contains("stable file"), "{verdict}");
    assert!(
        verdict.starts_with("  localhost: stamp file (site.yml:10)\n    --- before: "),
        "{verdict}"
    );
    assert!(verdict.contains("\n    @@ -1 +1 @@\n    -"), "{verdict}");
    assert!(
        verdict.contains("\n  localhost: always changed (site.yml:14)\n"),
        "{verdict}"
    );
    assert!(
        verdict.contains("\n  localhost: changed item (item=b) (site.yml:17)\n"),
        "{verdict}"
    );
    // Without -D the second run does not repeat the diff inline.
    assert_eq!(run.stdout.matches("@@ -1 +1 @@").count(), 1, "{run:?}");
    // Both runs are shown, each with its recap.
    assert_eq!(run.stdout.matches("PLAY RECAP").count(), 2, "{run:?}");
    // (The first recap: the second one says changed=3.)
    assert_eq!(recap(&run, "localhost"), [5, 4, 0, 0, 0, 0, 0], "{run:?}");
    assert!(
        run.stdout
            .contains("localhost                  : ok=5    changed=3 "),
        "{run:?}"
    );

    // The JUnit report carries the verdict as failures with the diff.
    let (_, cases) = junit_cases(&file);
    let again: Vec<&Case> = cases.iter().filter(|c| c.suite == "idempotence").collect();
    let names: Vec<&str> = again.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["stamp file", "always changed", "changed item (item=b)"],
        "{cases:?}"
    );
    assert!(
        again
            .iter()
            .all(|c| c.failure_type.as_deref() == Some("not-idempotent")),
        "{cases:?}"
    );
    assert!(
        again[0]
            .failure
            .as_deref()
            .is_some_and(|f| f.contains("+++ after: ")),
        "{cases:?}"
    );
}

#[test]
fn verify_idempotent_passes_a_converged_play_and_emits_events() {
    let p = project(
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: config
      copy:
        dest: "{{ root }}/a.txt"
        content: "x\n"
"#,
    );
    let run = p.hoist("apply", &["--verify-idempotent"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .ends_with("IDEMPOTENCE CHECK PASSED: the second run changed nothing.\n\n"),
        "{run:?}"
    );
    std::fs::remove_file(p.root().join("a.txt")).expect("remove");
    let run = p.hoist("apply", &["--verify-idempotent", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let ev = events(&run);
    assert_eq!(of_type(&ev, "recap").len(), 2, "{run:?}");
    assert_eq!(of_type(&ev, "idempotence_start").len(), 1, "{run:?}");
    let verdict = of_type(&ev, "idempotence");
    assert_eq!(verdict.len(), 1, "{run:?}");
    assert_eq!(verdict[0]["idempotent"], true, "{run:?}");
    assert_eq!(verdict[0]["changed"], serde_json::json!([]), "{run:?}");

    // A task that changes again, as an event with its diff.
    p.write(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: stamp\n      copy:\n        dest: \"{{ root }}/s.txt\"\n        content: \"{{ lookup('pipe', 'date +%s%N') }}\"\n",
    );
    let run = p.hoist("apply", &["--verify-idempotent", "--output", "json"]);
    assert_eq!(run.code, 2, "{run:?}");
    let ev = events(&run);
    let verdict = of_type(&ev, "idempotence");
    assert_eq!(verdict[0]["idempotent"], false, "{run:?}");
    assert_eq!(verdict[0]["changed"][0]["task"], "stamp", "{run:?}");
    assert_eq!(verdict[0]["changed"][0]["line"], 4, "{run:?}");
    assert!(
        verdict[0]["changed"][0]["diff"][0]["before"].is_string(),
        "{run:?}"
    );
}

#[test]
fn verify_idempotent_refuses_check_mode_and_diff() {
    let p = project("- hosts: localhost\n  gather_facts: false\n  tasks: []\n");
    let run = p.hoist("apply", &["--verify-idempotent", "--check"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(
        run.stderr.contains("cannot be used with --check"),
        "{run:?}"
    );
    let run = p.hoist("diff", &["--verify-idempotent"]);
    assert_eq!(run.code, 1, "{run:?}");
    // A first run that fails is not run again.
    p.write(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - command: /bin/false\n",
    );
    let run = p.hoist("apply", &["--verify-idempotent"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!run.stdout.contains("IDEMPOTENCE CHECK"), "{run:?}");
}

/// Failures of each origin: a module's, an action's (fail, assert,
/// `failed_when`), a loop item's, a rescued one, and a missing source file.
const FAILURES: &str = r#"- name: Failures
  hosts: localhost
  gather_facts: false
  tasks:
    - name: module failure
      command: sh -c 'echo oops >&2; exit 3'
      ignore_errors: true
    - name: fail action
      fail:
        msg: custom failure
      ignore_errors: true
    - name: assert action
      assert:
        that: 1 == 2
      ignore_errors: true
    - name: failed_when
      command: echo hi
      failed_when: true
      ignore_errors: true
    - name: loop item
      command: "test {{ item }} = 1"
      loop: [1, 2]
      ignore_errors: true
    - name: missing source
      copy:
        src: nonexistent-file.txt
        dest: "{{ root }}/x"
      ignore_errors: true
    - name: in block
      block:
        - command: /bin/false
      rescue:
        - debug:
            msg: rescued
"#;

/// The `[ERROR]:` blocks of an output: from the headline to the empty
/// line after the source context.
fn error_blocks(stdout: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut cur: Option<(String, u8)> = None;
    for line in stdout.lines() {
        if line.starts_with("[ERROR]: ") {
            cur = Some((String::new(), 0));
        }
        if let Some((text, empties)) = cur.as_mut() {
            text.push_str(line);
            text.push('\n');
            if line.is_empty() {
                *empties += 1;
                if *empties == 2 {
                    blocks.extend(cur.take().map(|(t, _)| t));
                }
            }
        }
    }
    blocks
}

#[test]
fn failures_show_their_origin_as_ansible_core_does() {
    let p = project(FAILURES);
    let run = p.apply();
    assert_eq!(run.code, 0, "{run:?}");
    let site = p.path().join("site.yml");
    let blocks = error_blocks(&run.stdout);
    assert_eq!(blocks.len(), 7, "{run:?}");
    assert_eq!(
        blocks[0],
        format!(
            "[ERROR]: Task failed: Module failed: non-zero return code\nOrigin: {}:5:7\n\n3   gather_facts: false\n4   tasks:\n5     - name: module failure\n        ^ column 7\n\n",
            site.display()
        ),
        "{run:?}"
    );
    // Each block comes right before its result line.
    assert!(
        run.stdout.contains(
            "        ^ column 7\n\nfatal: [localhost]: FAILED! => {\"changed\": true, \"cmd\""
        ),
        "{run:?}"
    );
    if !crate::common::have_ansible() {
        return;
    }
    let a = crate::inspect::ansible(
        p.path(),
        "ansible-playbook",
        &[
            "-i",
            "localhost, ",
            "-c",
            "local",
            "-e",
            "ansible_python_interpreter=/usr/bin/python3",
            "-e",
            &format!("root={}", p.root().display()),
            "site.yml",
        ],
    );
    assert_eq!(a.code, 0, "{a:?}");
    // hoist does not list where it looked for a missing source file.
    let searched =
        regex::Regex::new(r"\nSearched in:\n(?:\t[^\n]*\n)*\t[^\n]* on the ").expect("regex");
    let theirs: Vec<String> = error_blocks(&a.stdout)
        .iter()
        .map(|b| searched.replace(b, " on the ").into_owned())
        .collect();
    assert_eq!(blocks, theirs, "{a:?}");
}

#[test]
fn no_log_failures_quote_neither_message_nor_source() {
    let p = project(
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: secret
      command: sh -c 'echo s3cr3t-value; exit 1'
      no_log: true
      ignore_errors: true
    - name: next
      command: /bin/false
"#,
    );
    let run = p.apply();
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!run.stdout.contains("s3cr3t"), "{run:?}");
    let blocks = error_blocks(&run.stdout);
    let site = p.path().join("site.yml");
    assert_eq!(
        blocks,
        [
            format!(
                "[ERROR]: Task failed: Module failed: the output has been hidden due to the fact that 'no_log: true' was specified for this result\nOrigin: {}:4:7\n\n(source not shown: no_log)\n\n",
                site.display()
            ),
            // The lines above belong to the no_log task: not quoted.
            format!(
                "[ERROR]: Task failed: Module failed: non-zero return code\nOrigin: {}:8:7\n\n8     - name: next\n        ^ column 7\n\n",
                site.display()
            ),
        ],
        "{run:?}"
    );
}

/// `batch_check` (hoist's health gate): after a batch's tasks and
/// handlers, every host checks; one failing stops the play before the
/// next batch, and the end of the output says which check failed where.
#[test]
fn batch_check_gates_the_next_batch() {
    let p = Project::new();
    app_hosts(&p, 4);
    p.write(
        "site.yml",
        r#"- hosts: app
  gather_facts: false
  serial: 2
  tasks:
    - copy:
        content: "{{ inventory_hostname }}"
        dest: "{{ root }}/{{ inventory_hostname }}"
      notify: mark
  handlers:
    - name: mark
      copy:
        content: x
        dest: "{{ root }}/{{ inventory_hostname }}.handled"
  batch_check:
    - name: health answers
      command: test ! -e {{ root }}/broken-{{ inventory_hostname }}
      changed_when: false
"#,
    );
    std::fs::write(p.root().join("broken-h2"), "").expect("break h2");
    let run = p.apply();
    assert_eq!(run.code, 2, "{run:?}");
    // The first batch ran its tasks and handlers; the second never started.
    for f in ["h1", "h1.handled", "h2", "h2.handled"] {
        assert!(p.root().join(f).exists(), "{f}: {run:?}");
    }
    for f in ["h3", "h4"] {
        assert!(!p.root().join(f).exists(), "{f}: {run:?}");
    }
    assert_eq!(recap(&run, "h2")[3], 1, "{run:?}");
    let (_, verdict) = run
        .stdout
        .split_once("\nBATCH CHECK FAILED [the play stopped before its next batch] *")
        .unwrap_or_else(|| panic!("no verdict: {run:?}"));
    assert!(
        verdict.ends_with("*\nh2 : health answers: non-zero return code\n\n"),
        "{run:?}"
    );
    let json = p.hoist("apply", &["--output", "json"]);
    assert_eq!(json.code, 2, "{json:?}");
    let ev = events(&json);
    let gate = of_type(&ev, "batch_check_failed");
    assert_eq!(gate.len(), 1, "{json:?}");
    assert_eq!(
        gate[0]["failures"],
        serde_json::json!([{"host": "h2", "task": "health answers", "msg": "non-zero return code"}])
    );

    // Fixed: every batch runs, and passes its gate.
    std::fs::remove_file(p.root().join("broken-h2")).expect("fix h2");
    let run = p.apply();
    assert_eq!(run.code, 0, "{run:?}");
    for f in ["h3", "h3.handled", "h4", "h4.handled"] {
        assert!(p.root().join(f).exists(), "{f}: {run:?}");
    }
    assert!(!run.stdout.contains("BATCH CHECK FAILED"), "{run:?}");
    assert_eq!(
        run.stdout.matches("TASK [health answers]").count(),
        2,
        "{run:?}"
    );
}

#[test]
fn pending_handlers_are_an_event_after_the_recap() {
    let p = project(
        r#"
- name: release
  hosts: all
  gather_facts: false
  tasks:
    - copy:
        content: "x\n"
        dest: "{{ root }}/f"
      notify: restart
    - fail:
        msg: broken
  handlers:
    - name: restart
      command: "true"
"#,
    );
    let run = p.hoist("apply", &["--output", "json"]);
    assert_eq!(run.code, 2, "{run:?}");
    let ev = events(&run);
    let pending = of_type(&ev, "pending_handlers");
    assert_eq!(pending.len(), 1, "{run:?}");
    assert_eq!(
        pending[0]["pending"],
        serde_json::json!([{
            "host": "localhost",
            "playbook": std::fs::canonicalize(p.path().join("site.yml"))
                .expect("canonical").display().to_string(),
            "play": "release",
            "handlers": ["restart"],
        }])
    );
    assert!(
        pending[0]["journal"]
            .as_str()
            .is_some_and(|j| j.ends_with(".hoist/pending-handlers.json")),
        "{run:?}"
    );
    let recap_at = ev.iter().position(|e| e["type"] == "recap");
    let pending_at = ev.iter().position(|e| e["type"] == "pending_handlers");
    assert!(recap_at < pending_at, "{run:?}");
}
