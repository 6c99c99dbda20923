//! `known_hosts`: add or remove a host's key in a known_hosts file, as
//! Ansible's module does (its `ssh-keygen -F`/`-R` lookups done here with
//! hoist's own known_hosts matching: patterns, negation, `|1|` hashes).

use async_trait::async_trait;
use minijinja::Value;

use super::command::expand_path;
use super::file::{add_path_info, finish};
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult,
    ModuleSpec, Outcome, Param, ParamType,
};
use crate::connection::FileAttrs;
use crate::connection::known_hosts::{hashed_host_field, host_field_matches};
use crate::template::vmap;

pub struct KnownHostsModule;

static SPEC: ModuleSpec = ModuleSpec {
    name: "known_hosts",
    params: &[
        Param::new("name", ParamType::Str)
            .required()
            .aliases(&["host"]),
        Param::new("key", ParamType::Str),
        Param::new("path", ParamType::Path),
        Param::new("hash_host", ParamType::Bool),
        Param::new("state", ParamType::Str).choices(&["absent", "present"]),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Add or remove a host's key in a known_hosts file.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[
        "Entries are found with hoist's own known_hosts matching (patterns, negation, hashed \
         `|1|` names) instead of `ssh-keygen -F`/`-R`.",
    ],
};

/// `normalize_known_hosts_key`: (options, host, type, key).
#[derive(Clone, Debug, PartialEq)]
struct Norm {
    options: Option<String>,
    host: String,
    ty: String,
    key: String,
}

fn normalize(line: &str) -> Option<Norm> {
    let k: Vec<&str> = line.split_whitespace().collect();
    if k.first()?.starts_with('@') {
        Some(Norm {
            options: Some(k.first()?.to_string()),
            host: k.get(1)?.to_string(),
            ty: k.get(2)?.to_string(),
            key: k.get(3)?.to_string(),
        })
    } else {
        Some(Norm {
            options: None,
            host: k.first()?.to_string(),
            ty: k.get(1)?.to_string(),
            key: k.get(2)?.to_string(),
        })
    }
}

/// The host field of a key line.
fn host_field(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    if first.starts_with('@') {
        words.next()
    } else {
        Some(first)
    }
}

/// `ssh-keygen -F host`: the 1-based numbers and text of matching lines.
fn lookup(text: &str, host: &str) -> Vec<(usize, String)> {
    text.split('\n')
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty()
                && !t.starts_with('#')
                && host_field(t).is_some_and(|f| host_field_matches(f, host))
        })
        .map(|(i, l)| (i + 1, l.trim().to_owned()))
        .collect()
}

/// `search_for_host_key`: (found, replace_or_add, found_line).
fn search(
    text: Option<&str>,
    host: &str,
    key: Option<&str>,
) -> Result<(bool, bool, Option<usize>), String> {
    let Some(text) = text else {
        return Ok((false, false, None));
    };
    let hits = lookup(text, host);
    if hits.is_empty() {
        return Ok((false, false, None));
    }
    let Some(key) = key else {
        return Ok((true, false, None));
    };
    let mut new = normalize(key).ok_or("invalid key")?;
    for (n, line) in hits {
        let found_line = Some(n);
        let Some(found) = normalize(&line) else {
            continue;
        };
        match found.options.as_deref() {
            Some(o) if o.starts_with("@cert-authority") || o.starts_with("@revoke") => {
                if new == found {
                    return Ok((true, false, found_line));
                }
            }
            _ => {
                if new.host.starts_with("|1|") && found.host.starts_with("|1|") {
                    new.host = found.host.clone();
                }
                if new == found {
                    return Ok((true, false, found_line));
                } else if new.ty == found.ty {
                    return Ok((true, true, found_line));
                }
            }
        }
    }
    Ok((true, true, None))
}

/// Python's `splitlines(keepends=True)` for `\n`-separated text.
fn lines_keep(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_owned).collect()
}

#[async_trait]
impl Module for KnownHostsModule {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        let name = args.str_or("name", "");
        let host = name.to_lowercase();
        let key_param = args.str("key");
        let path = expand_path(conn, &args.str_or("path", "~/.ssh/known_hosts")).await?;
        let hash_host = args.bool_or("hash_host", false);
        let state = args.str_or("state", "present");
        let present = state == "present";

        let mut out = Outcome::changed(false)
            .with("name", name.as_str())
            .with(
                "key",
                key_param
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::from(())),
            )
            .with("path", path.as_str())
            .with("hash_host", hash_host)
            .with("state", state.as_str());

        let mut key = key_param.clone().filter(|k| !k.is_empty());
        if key.is_none() && present {
            return Ok(Outcome::failure("No key specified when adding a host"));
        }
        if hash_host && let Some(k) = &key {
            let mut parts: Vec<String> = k.split_whitespace().map(str::to_owned).collect();
            let i = usize::from(parts.first().is_some_and(|p| p.starts_with('@')));
            if let Some(slot) = parts.get_mut(i) {
                *slot = hashed_host_field(&host).map_err(ModuleError::Failed)?;
            }
            key = Some(parts.join(" "));
        }
        if let Some(k) = &mut key
            && !k.ends_with('\n')
        {
            k.push('\n');
        }
        if let Some(k) = &key {
            // sanity_check
            // `\S+(\s+)?,(\s+)?`: a comma after a non-blank character.
            let comma = host
                .find(',')
                .is_some_and(|i| host[..i].chars().any(|c| !c.is_whitespace()));
            if comma {
                return Ok(Outcome::failure(
                    "Comma separated list of names is not supported. Please pass a single name to lookup in the known_hosts file.",
                ));
            }
            if lookup(k, &host).is_empty() {
                return Ok(Outcome::failure(
                    "Host parameter does not match hashed host field in supplied key",
                ));
            }
        }
        let existing = conn
            .read_file(&path)
            .await?
            .map(|d| String::from_utf8_lossy(&d).into_owned());
        let (found, replace_or_add, found_line) =
            search(existing.as_deref(), &host, key.as_deref()).map_err(ModuleError::Failed)?;

        // compute_diff
        let before = existing.clone().unwrap_or_default();
        let mut lines = lines_keep(&before);
        if let Some(n) = found_line
            && (replace_or_add || !present)
            && (1..=lines.len()).contains(&n)
        {
            lines.remove(n - 1);
        }
        if present
            && (replace_or_add || found_line.is_none())
            && let Some(k) = &key
        {
            lines.push(k.clone());
        }
        let after = lines.concat();
        let before_header = if existing.is_some() {
            path.clone()
        } else {
            "/dev/null".into()
        };
        out.set(
            "diff",
            vmap([
                ("before_header", Value::from(before_header.as_str())),
                ("after_header", Value::from(path.as_str())),
                ("before", Value::from(before.as_str())),
                ("after", Value::from(after.as_str())),
            ]),
        );
        let push_diff = |out: &mut Outcome| {
            if ctx.diff && out.changed {
                out.diffs.push(FileDiff {
                    before_header: before_header.clone(),
                    after_header: path.clone(),
                    before: before.clone(),
                    after: after.clone(),
                });
            }
        };
        if !present && found_line.is_none() && key.is_some() {
            return Ok(out);
        }
        if ctx.check_mode {
            // Ansible exits from inside enforce_state here: no parameters
            // in the result.
            for k in ["name", "key", "path", "hash_host", "state"] {
                out.data.shift_remove(k);
            }
            out.changed = replace_or_add || present != found;
            push_diff(&mut out);
            return Ok(out);
        }
        let mut current = existing;
        if found && key.is_none() && !present {
            // ssh-keygen -R: every line for the host goes; the old file is
            // kept as PATH.old.
            let text = current.clone().unwrap_or_default();
            let kept: String = lines_keep(&text)
                .into_iter()
                .filter(|l| {
                    let t = l.trim();
                    t.is_empty()
                        || t.starts_with('#')
                        || !host_field(t).is_some_and(|f| host_field_matches(f, &host))
                })
                .collect();
            conn.write_file(
                &format!("{path}.old"),
                text.as_bytes(),
                &FileAttrs::default(),
            )
            .await?;
            conn.write_file(&path, kept.as_bytes(), &FileAttrs::default())
                .await?;
            current = Some(kept);
            out.changed = true;
        }
        if replace_or_add || found != present {
            let mut new_text = String::new();
            let exists = current.is_some();
            for (i, line) in lines_keep(&current.unwrap_or_default())
                .into_iter()
                .enumerate()
            {
                if found_line == Some(i + 1) && (replace_or_add || !present) {
                    continue;
                }
                new_text.push_str(&line);
            }
            if present && let Some(k) = &key {
                new_text.push_str(k);
            }
            let attrs = FileAttrs {
                mode: (!exists).then_some(0o644),
                ..FileAttrs::default()
            };
            conn.write_file(&path, new_text.as_bytes(), &attrs)
                .await
                .map_err(|e| {
                    ModuleError::Failed(format!("Failed to write to file '{path}': {e}"))
                })?;
            out.changed = true;
        }
        push_diff(&mut out);
        if let Err(e) = add_path_info(ctx, &mut out).await {
            return finish(Err(e));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const K2: &str = "example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake";

    #[test]
    fn search_finds_replaces_and_adds() {
        let text = format!("other ssh-rsa AAAA\n{K1}\n");
        assert_eq!(
            search(Some(&text), "example.com", Some(K1)).unwrap(),
            (true, false, Some(2))
        );
        assert_eq!(
            search(Some(&text), "example.com", Some(K2)).unwrap(),
            (true, true, Some(2))
        );
        assert_eq!(
            search(Some(&text), "nope", Some(K1)).unwrap(),
            (false, false, None)
        );
        assert_eq!(
            search(None, "example.com", Some(K1)).unwrap(),
            (false, false, None)
        );
        let rsa = "example.com ssh-rsa AAAAB3";
        assert_eq!(
            search(Some(&text), "example.com", Some(rsa)).unwrap(),
            (true, true, None)
        );
        assert_eq!(
            search(Some(&text), "example.com", None).unwrap(),
            (true, false, None)
        );
    }
}
