//! `hostname`: the host's name, as Ansible's `hostname` module. On a
//! systemd host (or with `use: systemd`/`debian`) through `hostnamectl`;
//! elsewhere the permanent name is /etc/hostname and the live name is set
//! with `hostname NAME` (Ansible's Debian strategy only writes the file,
//! leaving the running name as it was until a reboot). Returns `name`, the
//! `ansible_hostname`/`nodename`/`fqdn`/`domain` facts, and a
//! `hostname = …` diff.

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;

use super::file::{SResult, fail, finish};
use super::group::{find_bin, run_argv};
use super::{
    Args, DiffSupport, FileDiff, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::{FileAttrs, FileKind};
use crate::template::vmap;

pub struct Hostname;

static SPEC: ModuleSpec = ModuleSpec {
    name: "hostname",
    params: &[
        Param::new("name", ParamType::Str).required(),
        Param::new("use", ParamType::Str).choices(&[
            "alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin", "openbsd",
            "openrc", "redhat", "sles", "solaris", "systemd",
        ]),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Set the host's name.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[
        "`use` may be `systemd` (`hostnamectl`; `debian` means the same), `alpine`, or unset \
         (systemd when /run/systemd/system exists); other strategies are refused.",
        "Without systemd the live name is set too (`hostname NAME`), where Ansible's Debian \
         strategy only writes /etc/hostname.",
    ],
};

#[async_trait]
impl Module for Hostname {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        finish(run(args, ctx).await)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Strategy {
    /// hostnamectl --static / --transient.
    Systemd,
    /// /etc/hostname, and `hostname` for the live name (`-F` on Alpine).
    File { alpine: bool },
}

const FILE: &str = "/etc/hostname";

async fn command(ctx: &ModuleCtx<'_>, argv: Vec<String>, read_only: bool) -> SResult<String> {
    let (rc, out, err) = run_argv(ctx, &argv, None, read_only).await?;
    if rc != 0 {
        return Err(fail(format!(
            "Command failed rc={rc}, out={out}, err={err}"
        )));
    }
    Ok(out.trim().to_owned())
}

async fn current(ctx: &ModuleCtx<'_>, s: Strategy) -> SResult<String> {
    match s {
        Strategy::Systemd => {
            let bin = find_bin(ctx, "hostnamectl").await?;
            command(ctx, vec![bin, "--transient".into(), "status".into()], true).await
        }
        Strategy::File { .. } => {
            let bin = find_bin(ctx, "hostname").await?;
            command(ctx, vec![bin], true).await
        }
    }
}

async fn permanent(ctx: &ModuleCtx<'_>, s: Strategy) -> SResult<String> {
    match s {
        Strategy::Systemd => {
            let bin = find_bin(ctx, "hostnamectl").await?;
            command(ctx, vec![bin, "--static".into(), "status".into()], true).await
        }
        Strategy::File { .. } => match ctx.conn.stat(FILE, true).await? {
            Some(st) if st.kind == FileKind::File => Ok(ctx
                .conn
                .read_file(FILE)
                .await?
                .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
                .unwrap_or_default()),
            _ => Ok(String::new()),
        },
    }
}

fn too_long(name: &str) -> SResult<()> {
    if name.chars().count() > 64 {
        return Err(fail(
            "name cannot be longer than 64 characters on systemd servers, try a shorter name",
        ));
    }
    Ok(())
}

async fn set_current(ctx: &ModuleCtx<'_>, s: Strategy, name: &str) -> SResult<()> {
    let argv = match s {
        Strategy::Systemd => {
            too_long(name)?;
            vec![
                find_bin(ctx, "hostnamectl").await?,
                "--transient".into(),
                "set-hostname".into(),
                name.to_owned(),
            ]
        }
        Strategy::File { alpine: true } => {
            vec![find_bin(ctx, "hostname").await?, "-F".into(), FILE.into()]
        }
        Strategy::File { alpine: false } => {
            // `--` so a name starting with '-' is not an option.
            vec![
                find_bin(ctx, "hostname").await?,
                "--".into(),
                name.to_owned(),
            ]
        }
    };
    command(ctx, argv, false).await.map(|_| ())
}

async fn set_permanent(ctx: &ModuleCtx<'_>, s: Strategy, name: &str) -> SResult<()> {
    match s {
        Strategy::Systemd => {
            too_long(name)?;
            let argv = vec![
                find_bin(ctx, "hostnamectl").await?,
                "--pretty".into(),
                "--static".into(),
                "set-hostname".into(),
                name.to_owned(),
            ];
            command(ctx, argv, false).await.map(|_| ())
        }
        Strategy::File { .. } => {
            let old = ctx.conn.stat(FILE, true).await?;
            let attrs = FileAttrs {
                mode: Some(old.as_ref().map_or(0o644, |s| s.mode)),
                owner: old.as_ref().map(|s| s.uid.to_string()),
                group: old.as_ref().map(|s| s.gid.to_string()),
            };
            if let Err(e) = ctx
                .conn
                .write_file(FILE, format!("{name}\n").as_bytes(), &attrs)
                .await
            {
                return Err(fail(format!("failed to update hostname: {e}")));
            }
            Ok(())
        }
    }
}

async fn run(args: &Args, ctx: &ModuleCtx<'_>) -> SResult<Outcome> {
    let check = ctx.check_mode || ctx.predict;
    let name = args.str_or("name", "");
    let strategy = match args.str("use").as_deref() {
        Some("systemd" | "debian") => Strategy::Systemd,
        Some("alpine") => Strategy::File { alpine: true },
        Some(other) => {
            return Err(fail(format!(
                "use: {other} is not supported by hoist (supported: systemd, debian, alpine, or leave it unset)"
            )));
        }
        None => {
            let systemd = ctx.conn.stat("/run/systemd/system", true).await?.is_some();
            if systemd {
                Strategy::Systemd
            } else {
                Strategy::File { alpine: false }
            }
        }
    };
    let current_name = current(ctx, strategy).await?;
    let permanent_name = permanent(ctx, strategy).await?;

    let mut changed = false;
    let live_first = strategy != Strategy::Systemd;
    for step in 0..2 {
        let live = (step == 0) == live_first;
        let have = if live { &current_name } else { &permanent_name };
        if *have != name {
            if !check {
                if live {
                    if let Strategy::File { alpine: true } = strategy {
                        // hostname -F reads the file: write it first.
                        set_permanent(ctx, strategy, &name).await?;
                    }
                    set_current(ctx, strategy, &name).await?;
                } else {
                    set_permanent(ctx, strategy, &name).await?;
                }
            }
            changed = true;
        }
    }
    let live = if check {
        current_name.clone()
    } else {
        name.clone()
    };
    let before = if name != current_name {
        current_name
    } else {
        permanent_name
    };

    // socket.getfqdn() of the live name, from /etc/hosts only (no DNS
    // query leaves the target on hoist's behalf).
    let hosts = super::group::read_text(ctx, "/etc/hosts").await?;
    let fqdn = getfqdn(&hosts, &live);
    let domain = fqdn.split('.').skip(1).collect::<Vec<_>>().join(".");
    let mut facts = IndexMap::new();
    facts.insert(
        "ansible_hostname".to_owned(),
        Value::from(name.split('.').next().unwrap_or_default()),
    );
    facts.insert("ansible_nodename".to_owned(), Value::from(name.clone()));
    facts.insert("ansible_fqdn".to_owned(), Value::from(fqdn));
    facts.insert("ansible_domain".to_owned(), Value::from(domain));

    let mut out = Outcome::changed(changed);
    out.set("name", name.clone());
    out.set("ansible_facts", vmap(facts.clone()));
    out.facts = facts;
    if changed {
        out.diffs.push(FileDiff {
            before_header: String::new(),
            after_header: String::new(),
            before: format!("hostname = {before}\n"),
            after: format!("hostname = {name}\n"),
        });
    }
    Ok(out)
}

/// Python's `socket.getfqdn(name)` answered by an /etc/hosts text: the
/// first name with a dot on the first line that lists `name`, else `name`.
fn getfqdn(hosts: &str, name: &str) -> String {
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let names: Vec<&str> = line.split_whitespace().skip(1).collect();
        if names.contains(&name) {
            return names
                .iter()
                .find(|n| n.contains('.'))
                .unwrap_or(&names[0])
                .to_string();
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_from_hosts() {
        let hosts =
            "127.0.0.1 localhost\n# 10.0.0.1 web1.old web1\n10.0.0.2 web1.example.org web1 # x\n";
        assert_eq!(getfqdn(hosts, "web1"), "web1.example.org");
        assert_eq!(getfqdn(hosts, "localhost"), "localhost");
        assert_eq!(getfqdn(hosts, "other"), "other");
    }
}
