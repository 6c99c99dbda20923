//! The module reference: docs/modules.md and `hoist doc`, rendered from the
//! modules' own [`ModuleSpec`]s (names, parameters, groups, check mode,
//! diff, summary and notes), so the documentation says what the code does.
//! A test compares docs/modules.md with [`markdown`].

use std::fmt::Write;

use super::{DiffSupport, FreeForm, Module, ModuleSpec, ParamType, registry};
use crate::executor::{PREDICTABLE_MODULES, READ_ONLY_MODULES};

/// Every module, sorted by name.
pub fn modules() -> Vec<&'static dyn Module> {
    let mut all: Vec<&'static dyn Module> = registry().to_vec();
    all.sort_by_key(|m| m.spec().name);
    all
}

/// The module's fully qualified name in Ansible (`ansible.builtin.copy`,
/// `ansible.posix.sysctl` …).
pub fn fqcn(spec: &ModuleSpec) -> String {
    format!("{}.{}", super::collection_of(spec.name), spec.name)
}

/// Ansible's documentation page for the module.
pub fn ansible_url(spec: &ModuleSpec) -> String {
    let path = super::collection_of(spec.name).replace('.', "/");
    format!(
        "https://docs.ansible.com/ansible/latest/collections/{path}/{}_module.html",
        spec.name
    )
}

/// What check mode does with the module.
pub fn check_mode_text(spec: &ModuleSpec) -> String {
    let mut text = if !spec.check_note.is_empty() {
        spec.check_note.to_owned()
    } else if !spec.check_mode {
        "not supported: the task is skipped in check mode".to_owned()
    } else if PREDICTABLE_MODULES.contains(&spec.name) {
        "predicted: the module's own logic runs against an in-memory overlay of \
         the host, so later tasks see the files it would write"
            .to_owned()
    } else if spec.controller_only {
        "runs as usual (it works on the controller and changes no host)".to_owned()
    } else {
        "supported: the module changes nothing and reports `changed` as a real run would".to_owned()
    };
    if READ_ONLY_MODULES.contains(&spec.name) {
        text.push_str("; `check_mode: false` runs it for real even under `hoist diff`");
    }
    text
}

fn free_form_text(spec: &ModuleSpec) -> String {
    match spec.free_form {
        FreeForm::None => "no: in string form only `key=value` pairs".to_owned(),
        FreeForm::Raw => format!(
            "yes: `{}: TEXT`; `key=value` words naming a parameter are taken out of TEXT first",
            spec.name
        ),
        FreeForm::Whole("_raw_params") => format!("yes: `{}: TEXT`", spec.name),
        FreeForm::Whole(param) => format!("yes: `{}: TEXT` sets `{param}`", spec.name),
    }
}

fn type_text(ty: ParamType) -> &'static str {
    match ty {
        ParamType::Mode => "mode",
        other => other.name(),
    }
}

/// Text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn code_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One module's section: `## name`, its summary, a table of facts
/// (names, check mode, diff, free form, Ansible's page), its parameters,
/// their groups and hoist's notes.
pub fn section(module: &dyn Module) -> String {
    let spec = module.spec();
    let mut s = String::new();
    let _ = writeln!(s, "## {}\n", spec.name);
    let _ = writeln!(s, "{}\n", spec.summary);
    let names = super::names_of(spec.name);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    s.push_str("| | |\n|---|---|\n");
    let _ = writeln!(s, "| names | {} |", code_list(&names));
    let _ = writeln!(s, "| check mode | {} |", cell(&check_mode_text(spec)));
    let diff = match spec.diff {
        DiffSupport::No => "no".to_owned(),
        DiffSupport::Yes => "yes: `--diff` shows what it changes".to_owned(),
        DiffSupport::Partly(what) => format!("partly: {what}"),
    };
    let _ = writeln!(s, "| diff | {} |", cell(&diff));
    let _ = writeln!(s, "| free form | {} |", cell(&free_form_text(spec)));
    if spec.controller_only {
        s.push_str("| runs on | the controller |\n");
    }
    let _ = writeln!(s, "| Ansible | [{}]({}) |", fqcn(spec), ansible_url(spec));
    s.push('\n');
    if spec.params.is_empty() {
        s.push_str("No parameters.\n\n");
    } else {
        s.push_str("| parameter | type | required | choices | aliases |\n");
        s.push_str("|---|---|---|---|---|\n");
        for p in spec.params {
            let _ = writeln!(
                s,
                "| `{}`{} | {} | {} | {} | {} |",
                p.name,
                if p.name == "_raw_params" {
                    " (the free-form text)"
                } else {
                    ""
                },
                type_text(p.ty),
                if p.required { "yes" } else { "" },
                cell(&code_list(p.choices)),
                code_list(p.aliases),
            );
        }
        s.push('\n');
    }
    for group in spec.mutually_exclusive {
        let _ = writeln!(s, "Mutually exclusive: {}.\n", code_list(group));
    }
    for group in spec.required_one_of {
        let _ = writeln!(s, "Required, one of: {}.\n", code_list(group));
    }
    if !spec.notes.is_empty() {
        s.push_str("In hoist:\n\n");
        for note in spec.notes {
            let _ = writeln!(s, "- {note}");
        }
        s.push('\n');
    }
    s
}

/// `hoist doc --list`: each module's fully qualified name and summary.
pub fn list() -> String {
    let all = modules();
    let width = all.iter().map(|m| fqcn(m.spec()).len()).max().unwrap_or(0);
    let mut s = String::new();
    for m in all {
        let _ = writeln!(s, "{:width$}  {}", fqcn(m.spec()), m.spec().summary);
    }
    s
}

/// The whole reference, as committed in docs/modules.md.
pub fn markdown() -> String {
    let all = modules();
    let mut s = String::new();
    s.push_str("# Module reference\n\n");
    s.push_str(
        "<!-- Generated from the modules' definitions (src/modules/) by \
         hoist::modules::reference::markdown(). Do not edit by hand: run\n     \
         HOIST_BLESS=1 cargo test --test integration doc::module_reference\n     \
         to rewrite this file. -->\n\n",
    );
    let _ = writeln!(
        s,
        "hoist has {} modules. Their parameters, aliases, choices and \
         results are Ansible's, and so is what they do: each section links to \
         Ansible's page for the module's semantics. This reference lists what \
         hoist accepts and where it differs from Ansible or goes beyond it. \
         `hoist doc MODULE` prints one section, `hoist doc --list` the list.\n",
        all.len()
    );
    s.push_str(
        "Every task is checked against its module's parameters before anything \
         runs: an unknown parameter, a missing required one, a literal value of \
         the wrong type or outside the choices, and a broken exclusive group are \
         errors with their file:line:col. Modules are Rust code that runs on \
         the controller and reaches a host only through its connection: \
         neither Python nor module code is needed on the target. Files are written atomically (a \
         temporary file in the destination's directory, renamed over it).\n\n",
    );
    let refused = crate::playbook::modules_refused();
    if !refused.is_empty() {
        let _ = writeln!(
            s,
            "Ansible modules that hoist refuses by name (the playbook does not \
             load): {}.\n",
            code_list(&refused)
        );
    }
    s.push_str("| module | summary |\n|---|---|\n");
    for m in &all {
        let name = m.spec().name;
        let _ = writeln!(s, "| [{name}](#{name}) | {} |", cell(m.spec().summary));
    }
    s.push('\n');
    for m in all {
        s.push_str(&section(m));
    }
    // One trailing newline.
    while s.ends_with("\n\n") {
        s.pop();
    }
    s
}

/// The module a name given to `hoist doc` refers to.
pub fn find(name: &str) -> Option<&'static dyn Module> {
    super::lookup(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_has_a_summary_and_its_names() {
        for m in registry() {
            let spec = m.spec();
            assert!(
                !spec.summary.is_empty() && !spec.summary.contains('\n'),
                "{}: a one-line summary",
                spec.name
            );
            assert!(
                spec.notes.iter().all(|n| !n.trim().is_empty()),
                "{}: empty note",
                spec.name
            );
            let names = super::super::names_of(spec.name);
            assert!(names.contains(&spec.name.to_owned()), "{names:?}");
            assert!(names.contains(&fqcn(spec)), "{names:?}");
            for n in &names {
                let found = super::super::lookup(n).map(|m| m.spec().name);
                assert_eq!(found, Some(spec.name), "{n}");
            }
        }
    }

    #[test]
    fn collection_modules_link_to_their_collection() {
        let sysctl = find("ansible.posix.sysctl").expect("sysctl");
        assert_eq!(fqcn(sysctl.spec()), "ansible.posix.sysctl");
        assert_eq!(
            ansible_url(sysctl.spec()),
            "https://docs.ansible.com/ansible/latest/collections/ansible/posix/sysctl_module.html"
        );
        let ini = find("ini_file").expect("ini_file");
        assert_eq!(fqcn(ini.spec()), "community.general.ini_file");
        let dnf = find("yum").expect("yum");
        assert_eq!(dnf.spec().name, "dnf");
        assert!(super::super::names_of("dnf").contains(&"ansible.builtin.yum".to_owned()));
    }

    #[test]
    fn sections_say_check_mode_and_diff() {
        let copy = section(find("copy").expect("copy"));
        assert!(copy.contains("| check mode | predicted:"), "{copy}");
        assert!(copy.contains("| diff | yes:"), "{copy}");
        let uri = section(find("uri").expect("uri"));
        assert!(
            uri.contains("| check mode | not supported: the task is skipped"),
            "{uri}"
        );
        let stat = section(find("stat").expect("stat"));
        assert!(stat.contains("`check_mode: false` runs it for real even under `hoist diff`"));
        let meta = section(find("meta").expect("meta"));
        assert!(
            meta.contains("| `_raw_params` (the free-form text) | str | yes |"),
            "{meta}"
        );
    }
}
