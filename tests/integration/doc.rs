//! The module reference: docs/modules.md is what the modules' definitions
//! say, and `hoist doc` shows it.

use std::path::Path;
use std::process::Command;

use crate::common::run;

fn hoist_doc(args: &[&str]) -> crate::common::Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoist"));
    c.arg("doc").args(args);
    run(c)
}

/// docs/modules.md is rendered from the modules' specs; this fails when a
/// module changed and the file was not rendered again.
/// `HOIST_BLESS=1 cargo test --test integration doc::module_reference`
/// rewrites it.
#[test]
fn module_reference() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/modules.md");
    let want = hoist::modules::reference::markdown();
    if std::env::var_os("HOIST_BLESS").is_some_and(|v| !v.is_empty()) {
        std::fs::write(&path, &want).expect("write docs/modules.md");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let line = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| have.lines().count().min(want.lines().count()));
        panic!(
            "docs/modules.md is out of date (first difference at line {}: {:?}, expected {:?}).\n\
             Rewrite it with: HOIST_BLESS=1 cargo test --test integration doc::module_reference",
            line + 1,
            have.lines().nth(line).unwrap_or("<end of file>"),
            want.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn doc_list_names_every_module_with_its_summary() {
    let r = hoist_doc(&["--list"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), hoist::modules::registry().len(), "{r:?}");
    let copy = lines
        .iter()
        .find(|l| l.starts_with("ansible.builtin.copy "))
        .expect("copy listed");
    assert!(copy.ends_with("Copy a file, a directory tree or inline content to the target."));
    assert!(
        lines.iter().any(|l| l.starts_with("ansible.posix.sysctl ")),
        "collection modules by their full names: {r:?}"
    );
    // -l is --list.
    assert_eq!(hoist_doc(&["-l"]).stdout, r.stdout);
}

#[test]
fn doc_shows_a_module_by_any_of_its_names() {
    let r = hoist_doc(&["copy"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("## copy\n"), "{r:?}");
    assert!(r.stdout.contains("| `dest` | path | yes |"), "{r:?}");
    assert!(
        r.stdout.contains(
            "https://docs.ansible.com/ansible/latest/collections/ansible/builtin/copy_module.html"
        ),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("`attributes` (chattr flags) is refused"),
        "{r:?}"
    );
    assert_eq!(hoist_doc(&["ansible.builtin.copy"]).stdout, r.stdout);
    // A redirect shows the module it names, and several modules are shown
    // one after the other.
    let r = hoist_doc(&["yum", "ansible.posix.authorized_key"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("## dnf\n"), "{r:?}");
    assert!(r.stdout.contains("\n## authorized_key\n"), "{r:?}");
    assert!(
        r.stdout
            .contains("https://docs.ansible.com/ansible/latest/collections/ansible/posix/authorized_key_module.html"),
        "{r:?}"
    );
}

#[test]
fn doc_refuses_an_unknown_module_with_a_suggestion() {
    let r = hoist_doc(&["copy", "lineinfle"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert_eq!(r.stdout, "", "nothing is shown when a name is wrong: {r:?}");
    assert!(r.stderr.contains("no module `lineinfle`"), "{r:?}");
    assert!(r.stderr.contains("did you mean `lineinfile`?"), "{r:?}");
    // A module hoist does not have is no module either.
    let r = hoist_doc(&["pip"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("no module `pip`"), "{r:?}");
}
