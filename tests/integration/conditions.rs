//! Undefined values in conditions and expressions, as ansible-core 2.19
//! treats them: using one (comparing, testing its truth, iterating,
//! printing, filtering, testing it with anything but `defined`) fails the
//! task with an error that names it; `is defined`, `default` and
//! short-circuits are fine, also on chained lookups (`a.b.c`); a condition
//! must give a boolean. The expected results are ansible-playbook's.

use crate::common::{Project, recap};

/// How a task ended, and a piece of its message.
enum Want {
    Ok,
    Skipped,
    Failed(&'static str),
}

/// Each case is one task (its name, and the rest of its YAML mapping);
/// every task ignores errors, so each one's own result can be checked.
const CASES: &[(&str, &str, Want)] = &[
    (
        "eq",
        "debug: {msg: x}\n      when: nope == 1",
        Want::Failed("Error while evaluating conditional: 'nope' is undefined"),
    ),
    (
        "ne",
        "debug: {msg: x}\n      when: nope != 1",
        Want::Failed("Error while evaluating conditional: 'nope' is undefined"),
    ),
    (
        "lt",
        "debug: {msg: x}\n      when: nope < 1",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "in",
        "debug: {msg: x}\n      when: nope in [1]",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "in_undefined",
        "debug: {msg: x}\n      when: 1 in nope",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "bare",
        "debug: {msg: x}\n      when: nope",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "negated",
        "debug: {msg: x}\n      when: not nope",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "bool_filter",
        "debug: {msg: x}\n      when: nope | bool",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "length_filter",
        "debug: {msg: x}\n      when: nope | length > 0",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "is_defined",
        "debug: {msg: x}\n      when: nope is defined",
        Want::Skipped,
    ),
    (
        "is_not_defined",
        "debug: {msg: x}\n      when: nope is not defined",
        Want::Ok,
    ),
    (
        "is_undefined",
        "debug: {msg: x}\n      when: nope is undefined",
        Want::Ok,
    ),
    (
        "default",
        "debug: {msg: x}\n      when: nope | default(false)",
        Want::Skipped,
    ),
    (
        "default_eq",
        "debug: {msg: x}\n      when: (nope | default(1)) == 1",
        Want::Ok,
    ),
    (
        "and_guarded",
        "debug: {msg: x}\n      when: nope is defined and nope == 1",
        Want::Skipped,
    ),
    (
        "or_guarded",
        "debug: {msg: x}\n      when: nope is undefined or nope == 1",
        Want::Ok,
    ),
    (
        "and_unguarded",
        "debug: {msg: x}\n      when: true and nope == 1",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "or_unguarded",
        "debug: {msg: x}\n      when: false or nope == 1",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "false_and",
        "debug: {msg: x}\n      when: false and nope",
        Want::Skipped,
    ),
    (
        "list_guarded",
        "debug: {msg: x}\n      when: [nope is defined, nope == 1]",
        Want::Skipped,
    ),
    (
        "missing_key_eq",
        "debug: {msg: x}\n      when: d.missing == 1",
        Want::Failed(
            "Error while evaluating conditional: object of type 'dict' has no attribute 'missing'",
        ),
    ),
    (
        "missing_key_ne_none",
        "debug: {msg: x}\n      when: d.missing != none",
        Want::Failed("object of type 'dict' has no attribute 'missing'"),
    ),
    (
        "missing_key_subscript",
        "debug: {msg: x}\n      when: d['missing'] == 1",
        Want::Failed("object of type 'dict' has no attribute 'missing'"),
    ),
    (
        "missing_key_bare",
        "debug: {msg: x}\n      when: d.missing",
        Want::Failed("object of type 'dict' has no attribute 'missing'"),
    ),
    (
        "missing_key_in",
        "debug: {msg: x}\n      when: \"'x' in d.missing\"",
        Want::Failed("object of type 'dict' has no attribute 'missing'"),
    ),
    (
        "missing_key_is_defined",
        "debug: {msg: x}\n      when: d.missing is defined",
        Want::Skipped,
    ),
    (
        "attr_of_undefined",
        "debug: {msg: x}\n      when: nope.x == 1",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "attr_of_undefined_is_defined",
        "debug: {msg: x}\n      when: nope.x is defined",
        Want::Skipped,
    ),
    (
        "attr_of_undefined_is_undefined",
        "debug: {msg: x}\n      when: nope.x is undefined",
        Want::Ok,
    ),
    (
        "chain_of_missing_key",
        "debug: {msg: x}\n      when: d.missing.y is defined",
        Want::Skipped,
    ),
    (
        "attr_of_int",
        "debug: {msg: x}\n      when: d.a.y is defined",
        Want::Skipped,
    ),
    (
        "parenthesized_chain",
        "debug: {msg: x}\n      when: (nope.x) is defined",
        Want::Skipped,
    ),
    (
        "chain_default",
        "debug: {msg: x}\n      when: nope.x | default(true)",
        Want::Ok,
    ),
    (
        "not_defined_or_attr",
        "debug: {msg: x}\n      when: nope is not defined or nope.x",
        Want::Ok,
    ),
    (
        "default_list",
        "debug: {msg: x}\n      when: \"'a' in nope | default([])\"",
        Want::Skipped,
    ),
    (
        "indirect",
        "debug: {msg: x}\n      when: e == 1",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "msg_compare",
        "debug: {msg: \"{{ nope == 1 }}\"}",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "msg_missing_key",
        "debug: {msg: \"{{ d.missing != none }}\"}",
        Want::Failed("object of type 'dict' has no attribute 'missing'"),
    ),
    (
        "msg_is_defined",
        "debug: {msg: \"{{ nope is defined }}\"}",
        Want::Ok,
    ),
    (
        "msg_if_expression",
        "debug: {msg: \"{{ 'a' if nope else 'b' }}\"}",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "msg_if_tag",
        "debug: {msg: \"{% if nope %}a{% endif %}\"}",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "msg_for_tag",
        "debug: {msg: \"{% for x in nope %}a{% endfor %}\"}",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "msg_if_tag_chain",
        "debug: {msg: \"{% if nope.x is defined %}a{% else %}b{% endif %}\"}",
        Want::Ok,
    ),
    (
        "msg_set_tag_chain",
        "debug: {msg: \"{% set v = nope.x | default('sv') %}{{ v }}\"}",
        Want::Ok,
    ),
    (
        "msg_is_string",
        "debug: {msg: \"{{ nope is string }}\"}",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "msg_is_none",
        "debug: {msg: \"{{ nope is none }}\"}",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "msg_is_sequence",
        "debug: {msg: \"{{ nope is sequence }}\"}",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "msg_is_eq",
        "debug: {msg: \"{{ nope is eq(1) }}\"}",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "msg_ternary",
        "debug: {msg: \"{{ (nope is defined) | ternary(nope, 'n') }}\"}",
        Want::Ok,
    ),
    (
        "msg_subscript_undefined",
        "debug: {msg: \"{{ d[nope] | default('k') }}\"}",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "msg_chain_default",
        "debug: {msg: \"{{ d.missing.y | default('z') }}\"}",
        Want::Ok,
    ),
    (
        "omit_chain",
        "file: {path: \"{{ root }}/touched\", state: touch, mode: \"{{ nope.mode | default(omit) }}\"}",
        Want::Ok,
    ),
    (
        "set_fact",
        "set_fact: {v: \"{{ nope == 1 }}\"}",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "assert",
        "assert: {that: [nope == 1]}",
        Want::Failed("Error while evaluating conditional: 'nope' is undefined"),
    ),
    (
        "assert_missing_key",
        "assert: {that: [d.missing != none]}",
        Want::Failed("object of type 'dict' has no attribute 'missing'"),
    ),
    (
        "assert_not_defined",
        "assert: {that: [nope is not defined]}",
        Want::Ok,
    ),
    (
        "failed_when",
        "command: \"true\"\n      failed_when: nope == 1",
        Want::Failed(
            "\"failed_when_result\": \"Error while evaluating conditional: 'nope' is undefined\"",
        ),
    ),
    (
        "changed_when",
        "command: \"true\"\n      changed_when: nope == 1",
        Want::Failed(
            "\"changed_when_result\": \"Error while evaluating conditional: 'nope' is undefined\"",
        ),
    ),
    (
        "until",
        "command: \"true\"\n      register: r\n      until: nope == 1\n      retries: 1\n      delay: 0",
        Want::Failed("Error while evaluating conditional: 'nope' is undefined"),
    ),
    (
        "loop_undefined",
        "debug: {msg: x}\n      loop: \"{{ nope }}\"",
        Want::Failed("'nope' is undefined"),
    ),
    (
        "loop_undefined_when_false",
        "debug: {msg: x}\n      loop: \"{{ nope }}\"\n      when: false",
        Want::Skipped,
    ),
    (
        "int_condition",
        "debug: {msg: x}\n      when: n",
        Want::Failed(
            "Conditional result (True) was derived from value of type 'int'. Conditionals must have a boolean result.",
        ),
    ),
    (
        "str_condition",
        "debug: {msg: x}\n      when: s_yes",
        Want::Failed("value of type 'str'"),
    ),
    (
        "list_condition",
        "debug: {msg: x}\n      when: lst",
        Want::Failed("value of type 'list'"),
    ),
    (
        "none_condition",
        "debug: {msg: x}\n      when: nothing",
        Want::Failed("Conditional result (False) was derived from value of type 'NoneType'"),
    ),
    (
        "yaml_int_condition",
        "debug: {msg: x}\n      when: 1",
        Want::Failed("Conditional expressions must be strings."),
    ),
    (
        "templated_bool_condition",
        "debug: {msg: x}\n      when: tpl_bool",
        Want::Ok,
    ),
    (
        "bool_filter_condition",
        "debug: {msg: x}\n      when: s_yes | bool",
        Want::Ok,
    ),
];

/// The lines of one task's section of the output.
/// A task's output lines, without the `[ERROR]:` blocks above failures.
fn section<'a>(stdout: &'a str, name: &str) -> Vec<&'a str> {
    let banner = format!("TASK [{name}] ");
    let mut in_error = 0;
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(&banner))
        .skip(1)
        .take_while(|l| !l.starts_with("TASK [") && !l.starts_with("PLAY RECAP"))
        .filter(|l| {
            // An error block: the headline, `Origin:`, an empty line, the
            // source and caret, an empty line.
            if l.starts_with("[ERROR]: ") {
                in_error = 1;
            } else if in_error > 0 && l.is_empty() {
                in_error += 1;
                if in_error == 3 {
                    in_error = 0;
                }
                return false;
            }
            in_error == 0
        })
        .collect()
}

#[test]
fn undefined_values_fail_where_ansible_fails_them() {
    let mut play = String::from(
        "- hosts: localhost
  gather_facts: false
  vars:
    d: {a: 1}
    e: \"{{ nope }}\"
    n: 1
    s_yes: \"yes\"
    lst: [1]
    nothing: null
    tpl_bool: \"{{ 1 == 1 }}\"
  tasks:
",
    );
    for (name, body, _) in CASES {
        play.push_str(&format!(
            "    - name: {name}\n      ignore_errors: true\n      {body}\n"
        ));
    }
    let p = Project::new();
    p.write("site.yml", &play);
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    let mut wrong = Vec::new();
    for (name, _, want) in CASES {
        let lines = section(&r.stdout, name);
        let text = lines.join("\n");
        let first = lines.first().copied().unwrap_or_default();
        let good = match want {
            Want::Ok => {
                (first.starts_with("ok:") || first.starts_with("changed:"))
                    && !text.contains("FAILED")
            }
            Want::Skipped => first.starts_with("skipping:") && !text.contains("FAILED"),
            Want::Failed(msg) => {
                text.contains("fatal: [localhost]: FAILED!")
                    && text.contains("...ignoring")
                    && text.contains(msg)
            }
        };
        if !good {
            wrong.push(format!("{name}:\n{text}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// A loop's `when` sees each item: an item without the key fails (by an
/// error, so the task closes with its own failure line), the others run.
#[test]
fn a_loop_condition_on_a_missing_key_fails_that_item() {
    let p = Project::new();
    p.write(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: items
      debug: {msg: "{{ item }}"}
      loop: [{x: 1}, {y: 2}, {x: 1}]
      when: item.x == 1
      register: r
      ignore_errors: true
    - name: guarded
      debug: {msg: "{{ item }}"}
      loop: [{x: 1}, {y: 2}]
      when: item.x is defined and item.x == 1
    - name: not a boolean
      debug: {msg: "{{ item }}"}
      loop: [{x: 1}, {y: 2}]
      when: item.x is defined and item.x
      ignore_errors: true
    - name: registered
      assert:
        that:
          - r.failed
          - r.msg == 'One or more items failed'
          - r.results | length == 3
          - r.results[1].failed
          - not (r.results[0].failed | default(false))
          - r.results[1].exception == '(traceback unavailable)'
          - "'has no attribute' in r.results[1].msg"
"#,
    );
    let r = p.apply();
    assert_eq!(r.code, 0, "{r:?}");
    let items = section(&r.stdout, "items");
    let statuses: Vec<&str> = items
        .iter()
        .filter(|l| !l.is_empty() && !l.starts_with(' ') && !l.starts_with('}'))
        .map(|l| l.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(
        statuses,
        ["ok", "failed", "ok", "fatal", "...ignoring"],
        "{r:?}"
    );
    assert!(
        items.iter().any(|l| l
            .contains("fatal: [localhost]: FAILED! => {\"msg\": \"One or more items failed\"}")),
        "{r:?}"
    );
    assert!(!items.iter().any(|l| l.contains("exception")), "{r:?}");
    let guarded = section(&r.stdout, "guarded").join("\n");
    assert!(
        guarded.contains("ok: [localhost] => (item={'x': 1})"),
        "{r:?}"
    );
    assert!(
        guarded.contains("skipping: [localhost] => (item={'y': 2})"),
        "{r:?}"
    );
    let not_bool = section(&r.stdout, "not a boolean").join("\n");
    assert!(
        not_bool.contains("failed: [localhost] (item={'x': 1})")
            && not_bool.contains("value of type 'int'")
            && not_bool.contains("skipping: [localhost] => (item={'y': 2})"),
        "{r:?}"
    );
    let [ok, _, _, failed, skipped, _, ignored] = recap(&r, "localhost");
    assert_eq!((ok, failed, skipped, ignored), (4, 0, 0, 2), "{r:?}");
}
