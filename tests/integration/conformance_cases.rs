//! The conformance cases (`tests/conformance`): which playbook runs with
//! which arguments, what it must end with, and which known differences it
//! shows. Shared by the integration tests (hoist against ansible-playbook)
//! and the lab tests (hoist over SSH), hence the `allow`: each uses part.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One run of a conformance playbook.
pub struct Case {
    pub playbook: &'static str,
    /// Extra arguments for both tools.
    pub args: &'static [&'static str],
    /// The hosts that end failed (the exit code is 2 when there are any).
    pub failed: &'static [&'static str],
    /// A second hoist run changes nothing.
    pub idempotent: bool,
    /// Output differences this case shows (see [`Known`]).
    pub known: &'static [Known],
}

/// Output differences between hoist and ansible-core that a case may show,
/// each relaxed on ansible's side (or hoist's) before comparing. Every one
/// is a hoist bug listed in `tests/conformance/README.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Known {}

pub const ALL_KNOWN: &[Known] = &[];

pub const CASES: &[(&str, Case)] = &[
    (
        "roles",
        Case {
            playbook: "roles.yml",
            args: &[],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "includes",
        Case {
            playbook: "includes.yml",
            args: &[],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "blocks",
        Case {
            playbook: "blocks.yml",
            args: &[],
            failed: &["alpha", "gamma"],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "loops",
        Case {
            playbook: "loops.yml",
            args: &[],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "precedence",
        Case {
            playbook: "precedence.yml",
            args: &["-e", "@vars/extra.yml"],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "magic",
        Case {
            playbook: "magic.yml",
            args: &[],
            failed: &["beta.example.com"],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "facts",
        Case {
            playbook: "facts.yml",
            args: &[],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "delegation",
        Case {
            playbook: "delegation.yml",
            args: &[],
            failed: &[],
            idempotent: false,
            known: &[],
        },
    ),
    (
        "handlers",
        Case {
            playbook: "handlers.yml",
            args: &[],
            failed: &["beta.example.com", "gamma"],
            idempotent: false,
            known: &[],
        },
    ),
    (
        "templating",
        Case {
            playbook: "templating.yml",
            args: &[],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "tags",
        Case {
            playbook: "tags.yml",
            args: &["-e", "sel=all"],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "tags_inner",
        Case {
            playbook: "tags.yml",
            args: &["-e", "sel=inner", "-t", "t1,inner", "--skip-tags", "shared"],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "tags_includes",
        Case {
            playbook: "tags.yml",
            args: &["-e", "sel=includes", "-t", "includetag,applied,roletag"],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "tags_never",
        Case {
            playbook: "tags.yml",
            args: &["-e", "sel=never", "-t", "debugonly"],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "tags_untagged",
        Case {
            playbook: "tags.yml",
            args: &["-e", "sel=untagged", "-t", "untagged"],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
    (
        "tags_skip_play",
        Case {
            playbook: "tags.yml",
            args: &["-e", "sel=none", "--skip-tags", "playtag,t1"],
            failed: &[],
            idempotent: true,
            known: &[],
        },
    ),
];

/// The suite's directory in the source tree.
pub fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read suite").flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy suite");
        }
    }
}

/// Every `known_*` tag the suite's files use, sorted.
pub fn known_tags() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("read suite").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yml") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let mut rest = text.as_str();
                while let Some(i) = rest.find("known_") {
                    let tag: String = rest[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let before = rest[..i].chars().last();
                    if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                        out.push(tag.clone());
                    }
                    rest = &rest[i + tag.len()..];
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&suite_dir(), &mut out);
    out.sort();
    out.dedup();
    out
}

/// The case's arguments plus `--skip-tags` for every known hoist bug
/// (merged into the case's own `--skip-tags`).
pub fn args_skipping_known(case: &Case) -> Vec<String> {
    // HOIST_CONFORMANCE_TRY=known_a,known_b compares those marked tasks
    // too: how to check that a fix lets a mark go.
    let trying = std::env::var("HOIST_CONFORMANCE_TRY").unwrap_or_default();
    let trying: Vec<&str> = trying.split(',').map(str::trim).collect();
    let known = known_tags()
        .into_iter()
        .filter(|t| !trying.contains(&t.as_str()))
        .collect::<Vec<_>>()
        .join(",");
    let mut out = Vec::new();
    let mut merged = false;
    let mut it = case.args.iter();
    while let Some(a) = it.next() {
        out.push((*a).to_owned());
        if *a == "--skip-tags"
            && let Some(v) = it.next()
        {
            out.push(format!("{v},{known}"));
            merged = true;
        }
    }
    if !merged {
        out.push("--skip-tags".into());
        out.push(known);
    }
    out
}
