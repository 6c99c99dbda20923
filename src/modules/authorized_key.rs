//! `authorized_key`: SSH public keys in a user's `authorized_keys`, as
//! `ansible.posix.authorized_key` manages them: keys are matched by their
//! base64 blob, lines the module does not understand are kept, new keys go
//! after the existing ones, `exclusive` drops every other line. The file is
//! written atomically, owned by the user with mode 0600, and `~/.ssh` is
//! created 0700 (`manage_dir`). Keys from URLs are refused: hoist does not
//! make targets or the controller fetch from the network in a module.

use std::collections::BTreeMap;

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;

use super::file::{SResult, dirname, expand_user, fail, finish, join, realpath};
use super::group::users;
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::{FileAttrs, FileKind};

pub struct AuthorizedKey;

static SPEC: ModuleSpec = ModuleSpec {
    name: "authorized_key",
    params: &[
        Param::new("user", ParamType::Str).required(),
        Param::new("key", ParamType::Str).required(),
        Param::new("path", ParamType::Path),
        Param::new("manage_dir", ParamType::Bool),
        Param::new("state", ParamType::Str).choices(&["absent", "present"]),
        Param::new("key_options", ParamType::Str),
        Param::new("exclusive", ParamType::Bool),
        Param::new("comment", ParamType::Str),
        Param::new("validate_certs", ParamType::Bool),
        Param::new("follow", ParamType::Bool),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Add or remove SSH public keys in a user's authorized_keys file.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[
        "Keys given as a URL are refused: hoist does not fetch from the network in a module. \
         Read the keys on the controller (a lookup) and pass them as text; `validate_certs` \
         is accepted and ignored.",
    ],
};

#[async_trait]
impl Module for AuthorizedKey {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        finish(run(args, ctx).await)
    }
}

const KEY_TYPES: &[&str] = &[
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "ssh-ed25519",
    "ssh-dss",
    "ssh-rsa",
];

/// Key options in their order; a name may repeat (`permitopen` …).
type Options = Vec<(String, Option<String>)>;

/// One line of an authorized_keys file.
#[derive(Clone, Debug, PartialEq)]
enum Line {
    Key {
        blob: String,
        kind: String,
        options: Options,
        comment: String,
    },
    /// A comment or a line that holds no key: written back as it was.
    Other(String),
}

/// Splits `a,b="x,y",c` on the commas outside quotes.
fn parse_options(s: &str) -> Options {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut push = |cur: &mut String| {
        if !cur.is_empty() {
            let part = std::mem::take(cur);
            match part.split_once('=') {
                Some((k, v)) => out.push((k.to_owned(), Some(v.to_owned()))),
                None => out.push((part, None)),
            }
        }
    };
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == ',' => push(&mut cur),
            None => {
                // A quote opens a quoted part only when it is closed later.
                if (c == '"' || c == '\'') && chars[i + 1..].contains(&c) {
                    quote = Some(c);
                }
                cur.push(c);
            }
        }
    }
    push(&mut cur);
    out
}

/// Options compared as Ansible compares them: per name, the values in order.
fn options_key(o: &Options) -> BTreeMap<&str, Vec<Option<&str>>> {
    let mut m: BTreeMap<&str, Vec<Option<&str>>> = BTreeMap::new();
    for (k, v) in o {
        m.entry(k.as_str()).or_default().push(v.as_deref());
    }
    m
}

/// Parses one line: `None` when it holds no key of a known type.
fn parse_key(raw: &str) -> Option<Line> {
    let raw = raw.replace("\\#", "#");
    let parts: Vec<&str> = raw
        .split([' ', '\t', '\r', '\n'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.first() == Some(&"#") {
        return Some(Line::Other(raw));
    }
    let idx = parts.iter().position(|p| KEY_TYPES.contains(p))?;
    let blob = parts.get(idx + 1)?;
    Some(Line::Key {
        blob: (*blob).to_owned(),
        kind: parts[idx].to_owned(),
        options: if idx > 0 {
            parse_options(&parts[..idx].join(" "))
        } else {
            Vec::new()
        },
        comment: parts[idx + 2..].join(" "),
    })
}

/// The file's lines by identity (the key blob, or the whole line), each
/// with its rank, in Python dict order.
fn parse_file(text: &str) -> IndexMap<String, (usize, Line)> {
    let mut m = IndexMap::new();
    for (rank, line) in splitlines_keep(text).into_iter().enumerate() {
        match parse_key(line) {
            Some(Line::Other(raw)) => {
                m.insert(raw.clone(), (rank, Line::Other(raw)));
            }
            Some(k @ Line::Key { .. }) => {
                let Line::Key { blob, .. } = &k else { continue };
                m.insert(blob.clone(), (rank, k));
            }
            None => {
                m.insert(line.to_owned(), (rank, Line::Other(line.to_owned())));
            }
        }
    }
    m
}

fn splitlines_keep(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == '\n' {
            out.push(&text[start..=i]);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn serialize(keys: &IndexMap<String, (usize, Line)>) -> String {
    let mut entries: Vec<&(usize, Line)> = keys.values().collect();
    entries.sort_by_key(|(rank, _)| *rank);
    let mut out = String::new();
    for (_, line) in entries {
        // A kept line that lacked its newline (the file's last) gets one
        // when something follows it.
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        match line {
            Line::Other(raw) => out.push_str(raw),
            Line::Key {
                blob,
                kind,
                options,
                comment,
            } => {
                if !options.is_empty() {
                    let opts: Vec<String> = options
                        .iter()
                        .map(|(k, v)| match v {
                            Some(v) => format!("{k}={v}"),
                            None => k.clone(),
                        })
                        .collect();
                    out.push_str(&opts.join(","));
                    out.push(' ');
                }
                out.push_str(&format!("{kind} {blob} {comment}\n"));
            }
        }
    }
    out
}

fn same_key(a: &Line, b: &Line) -> bool {
    match (a, b) {
        (
            Line::Key {
                blob: b1,
                kind: k1,
                options: o1,
                comment: c1,
            },
            Line::Key {
                blob: b2,
                kind: k2,
                options: o2,
                comment: c2,
            },
        ) => b1 == b2 && k1 == k2 && c1 == c2 && options_key(o1) == options_key(o2),
        _ => false,
    }
}

/// Applies the wanted keys to the file's lines; true when anything changed.
fn enforce(
    existing: &mut IndexMap<String, (usize, Line)>,
    new_keys: &[Line],
    present: bool,
    exclusive: bool,
) -> bool {
    let mut changed = false;
    let max_rank = existing.len();
    let mut keep: Vec<String> = Vec::new();
    for (rank, k) in new_keys.iter().enumerate() {
        let Line::Key { blob, .. } = k else { continue };
        let mut matched = false;
        let mut mismatch = false;
        if let Some((_, cur)) = existing.get(blob) {
            if present && !same_key(k, cur) {
                mismatch = true;
            } else {
                matched = true;
            }
        }
        if present {
            keep.push(blob.clone());
            if mismatch {
                existing.shift_remove(blob);
                changed = true;
            }
            if !matched {
                existing.insert(blob.clone(), (max_rank + rank, k.clone()));
                changed = true;
            }
        } else if matched {
            existing.shift_remove(blob);
            changed = true;
        }
    }
    if present && exclusive {
        let before = existing.len();
        existing.retain(|id, _| keep.contains(id));
        changed |= existing.len() != before;
    }
    changed
}

async fn run(args: &Args, ctx: &ModuleCtx<'_>) -> SResult<Outcome> {
    let check = ctx.check_mode || ctx.predict;
    let user = args.str_or("user", "");
    let key = args.str_or("key", "");
    let path = match args.str("path") {
        Some(p) => Some(expand_user(ctx, &p).await?),
        None => None,
    };
    let manage_dir = args.bool_or("manage_dir", true);
    let state = args.str_or("state", "present");
    let key_options = args.str("key_options");
    let exclusive = args.bool_or("exclusive", false);
    let comment = args.str("comment");
    let follow = args.bool_or("follow", false);
    if key.starts_with("http") {
        return Err(fail(format!(
            "Error getting key from: {key} (hoist does not fetch keys from URLs; get the keys on the controller, e.g. with a lookup, and pass them as text)"
        )));
    }

    let mut new_keys = Vec::new();
    for line in key.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let Some(mut k) = parse_key(line).filter(|k| matches!(k, Line::Key { .. })) else {
            return Err(fail(format!("invalid key specified: {line}")));
        };
        if let Line::Key {
            options,
            comment: c,
            ..
        } = &mut k
        {
            if let Some(o) = &key_options {
                *options = parse_options(o);
            }
            if let Some(want) = &comment {
                *c = want.clone();
            }
        }
        new_keys.push(k);
    }

    // Where the file is, and whose.
    let account = users(ctx).await?.into_iter().find(|u| u.name == user);
    let keyfile = match (&path, &account) {
        (Some(p), _) if check => p.clone(),
        (_, None) => {
            if check && path.is_none() {
                return Err(fail(
                    "Either user must exist or you must provide full path to key file in check mode",
                ));
            }
            return Err(fail(format!(
                "Failed to lookup user {user}: \"getpwnam(): name not found: '{user}'\""
            )));
        }
        (Some(p), Some(_)) => p.clone(),
        (None, Some(a)) => join(&join(&a.home, ".ssh"), "authorized_keys"),
    };
    let existing_text = match ctx.conn.stat(&keyfile, true).await? {
        Some(st) if st.kind == FileKind::File => ctx
            .conn
            .read_file(&keyfile)
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let mut keys = parse_file(&existing_text);
    let do_write = enforce(&mut keys, &new_keys, state == "present", exclusive);

    let mut out = Outcome::default();
    if do_write {
        let filename = if follow {
            realpath(ctx, &keyfile).await?
        } else {
            keyfile.clone()
        };
        let after = serialize(&keys);
        if ctx.diff {
            out.diffs.push(FileDiff {
                before_header: keyfile.clone(),
                after_header: filename.clone(),
                before: existing_text.clone(),
                after: after.clone(),
            });
        }
        if check {
            out.changed = true;
            return Ok(out);
        }
        let Some(a) = &account else {
            return Err(fail(format!("Failed to lookup user {user}")));
        };
        let (uid, gid) = (a.uid.to_string(), a.gid.to_string());
        if manage_dir {
            let sshdir = match &path {
                Some(p) => dirname(p),
                None => join(&a.home, ".ssh"),
            };
            if ctx.conn.stat(&sshdir, true).await?.is_none()
                && let Err(e) = ctx.conn.mkdir(&sshdir, 0o700).await
            {
                return Err(fail(format!("Failed to create directory {sshdir} : {e}")));
            }
            ctx.conn
                .chown(&sshdir, Some(&uid), Some(&gid), true)
                .await?;
            ctx.conn.chmod(&sshdir, 0o700).await?;
        }
        let base = dirname(&filename);
        if ctx.conn.stat(&base, true).await?.is_none() {
            let mode = 0o777 & !super::file::target_umask(ctx).await;
            let mut cur = String::new();
            for part in base.split('/').filter(|p| !p.is_empty()) {
                cur = format!("{cur}/{part}");
                if ctx.conn.stat(&cur, true).await?.is_none() {
                    ctx.conn.mkdir(&cur, mode).await?;
                }
            }
        }
        ctx.conn
            .write_file(
                &filename,
                after.as_bytes(),
                &FileAttrs {
                    mode: Some(0o600),
                    owner: Some(uid),
                    group: Some(gid),
                },
            )
            .await?;
        out.changed = true;
    } else if check {
        return Ok(out);
    }
    out.set("user", user);
    out.set("key", key);
    out.set("path", path.map(Value::from).unwrap_or(Value::from(())));
    out.set("manage_dir", manage_dir);
    out.set("state", state);
    out.set(
        "key_options",
        key_options.map(Value::from).unwrap_or(Value::from(())),
    );
    out.set("exclusive", exclusive);
    out.set(
        "comment",
        comment.map(Value::from).unwrap_or(Value::from(())),
    );
    out.set("validate_certs", args.bool_or("validate_certs", true));
    out.set("follow", follow);
    out.set("keyfile", keyfile);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK36yAEpkO2B4vZbcD1XMmxOkoVUClOWt+7B9vnUYgA8";
    const K2: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7";

    fn key(line: &str) -> Line {
        parse_key(line).unwrap_or(Line::Other(String::new()))
    }

    #[test]
    fn parses_lines_with_options_and_comments() {
        let l = key(&format!("no-pty,from=\"10.0.0.1,10.0.0.2\" {K1} me@host x"));
        let Line::Key {
            options, comment, ..
        } = &l
        else {
            panic!("not a key: {l:?}")
        };
        assert_eq!(
            options,
            &vec![
                ("no-pty".to_owned(), None),
                ("from".to_owned(), Some("\"10.0.0.1,10.0.0.2\"".to_owned()))
            ]
        );
        assert_eq!(comment, "me@host x");
        assert_eq!(parse_key("garbage line"), None);
        assert_eq!(parse_key("# c"), Some(Line::Other("# c".into())));
    }

    #[test]
    fn adds_after_existing_keeps_unknown_lines_and_is_idempotent() {
        let text = format!("# managed\n{K2} old\n");
        let mut keys = parse_file(&text);
        let new = vec![key(&format!("{K1} new"))];
        assert!(enforce(&mut keys, &new, true, false));
        let after = serialize(&keys);
        assert_eq!(after, format!("# managed\n{K2} old\n{K1} new\n"));
        let mut again = parse_file(&after);
        assert!(!enforce(&mut again, &new, true, false));
        // exclusive keeps only the given keys (the comment line goes too).
        assert!(enforce(&mut again, &new, true, true));
        assert_eq!(serialize(&again), format!("{K1} new\n"));
        // absent removes by blob, whatever the comment.
        let mut gone = parse_file(&after);
        assert!(enforce(
            &mut gone,
            &[key(&format!("{K2} other"))],
            false,
            false
        ));
        assert_eq!(serialize(&gone), format!("# managed\n{K1} new\n"));
    }

    #[test]
    fn changed_options_replace_the_line_in_place_of_new_keys() {
        let text = format!("{K1} c\n{K2} d\n");
        let mut keys = parse_file(&text);
        let new = vec![key(&format!("no-pty {K1} c"))];
        assert!(enforce(&mut keys, &new, true, false));
        assert_eq!(serialize(&keys), format!("{K2} d\nno-pty {K1} c\n"));
        // A key without a comment is written with a trailing space, as Ansible does.
        let mut k = parse_file("");
        assert!(enforce(&mut k, &[key(K1)], true, false));
        assert_eq!(serialize(&k), format!("{K1} \n"));
    }

    #[test]
    fn option_order_does_not_matter() {
        let a = key(&format!("no-pty,no-agent-forwarding {K1} c"));
        let b = key(&format!("no-agent-forwarding,no-pty {K1} c"));
        assert!(same_key(&a, &b));
    }
}
