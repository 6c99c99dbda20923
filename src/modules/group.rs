//! `group`: local groups through `groupadd`/`groupmod`/`groupdel`, as
//! Ansible's `group` module on Linux. Whether a group exists and its gid are
//! read from `/etc/group`; the account helpers here (parsing `/etc/group`,
//! `/etc/passwd`, `/etc/shadow`, finding sbin programs, running them) are
//! shared with `user` and `getent`.

use async_trait::async_trait;

use super::command::exec_error;
use super::file::{SResult, Stop, fail, fail_with, finish};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};
use crate::connection::{ConnErrorKind, ExecRequest};
use minijinja::Value;

pub struct Group;

static SPEC: ModuleSpec = ModuleSpec {
    name: "group",
    params: &[
        Param::new("name", ParamType::Str).required(),
        Param::new("state", ParamType::Str).choices(&["absent", "present"]),
        Param::new("force", ParamType::Bool),
        Param::new("gid", ParamType::Int),
        Param::new("system", ParamType::Bool),
        Param::new("local", ParamType::Bool),
        Param::new("non_unique", ParamType::Bool),
        Param::new("gid_min", ParamType::Int),
        Param::new("gid_max", ParamType::Int),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Create, change or remove local groups.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "Runs `groupadd`/`groupmod`/`groupdel` as argv, reading the group's state from \
         /etc/group (Linux).",
    ],
};

// ---------------------------------------------------------------------------
// Account databases

/// One line of `/etc/group`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupEnt {
    pub name: String,
    pub passwd: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// One line of `/etc/passwd`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PasswdEnt {
    pub name: String,
    pub passwd: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

/// Lines of a colon-separated account file, skipping blanks, comments and
/// NIS `+`/`-` entries (as glibc's files backend does).
fn records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines().filter_map(|l| {
        let l = l.trim_end_matches('\r');
        if l.is_empty() || l.starts_with('#') || l.starts_with('+') || l.starts_with('-') {
            return None;
        }
        Some(l.split(':').collect())
    })
}

/// Parses `/etc/group`; malformed lines are skipped.
pub(crate) fn parse_group(text: &str) -> Vec<GroupEnt> {
    records(text)
        .filter_map(|f| {
            if f.len() < 4 {
                return None;
            }
            Some(GroupEnt {
                name: f[0].to_owned(),
                passwd: f[1].to_owned(),
                gid: f[2].trim().parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
        })
        .collect()
}

/// Parses `/etc/passwd`; malformed lines are skipped.
pub(crate) fn parse_passwd(text: &str) -> Vec<PasswdEnt> {
    records(text)
        .filter_map(|f| {
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEnt {
                name: f[0].to_owned(),
                passwd: f[1].to_owned(),
                uid: f[2].trim().parse().ok()?,
                gid: f[3].trim().parse().ok()?,
                gecos: f[4].to_owned(),
                home: f[5].to_owned(),
                // A shell containing ':' cannot exist; keep the rest as is.
                shell: f[6..].join(":"),
            })
        })
        .collect()
}

/// The fields of `name`'s line in `/etc/shadow` (all nine, empty when
/// missing).
pub(crate) fn shadow_fields(text: &str, name: &str) -> Option<Vec<String>> {
    records(text).find(|f| f[0] == name).map(|f| {
        let mut v: Vec<String> = f.iter().map(|s| (*s).to_owned()).collect();
        v.resize(9, String::new());
        v
    })
}

/// A whole account file through the connection (empty when missing).
pub(crate) async fn read_text(ctx: &ModuleCtx<'_>, path: &str) -> SResult<String> {
    Ok(ctx
        .conn
        .read_file(path)
        .await?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default())
}

pub(crate) async fn groups(ctx: &ModuleCtx<'_>) -> SResult<Vec<GroupEnt>> {
    Ok(parse_group(&read_text(ctx, "/etc/group").await?))
}

pub(crate) async fn users(ctx: &ModuleCtx<'_>) -> SResult<Vec<PasswdEnt>> {
    Ok(parse_passwd(&read_text(ctx, "/etc/passwd").await?))
}

/// A group by name, or by gid when `key` is numeric and no group has that
/// name (as Ansible's `grp.getgrnam` fallback to `getgrgid` in `user`).
pub(crate) fn find_group<'a>(all: &'a [GroupEnt], key: &str, by_gid: bool) -> Option<&'a GroupEnt> {
    all.iter().find(|g| g.name == key).or_else(|| {
        if !by_gid {
            return None;
        }
        let gid: u32 = key.parse().ok()?;
        all.iter().find(|g| g.gid == gid)
    })
}

// ---------------------------------------------------------------------------
// Programs

/// The directories Ansible's `get_bin_path` adds to `PATH`.
const SBIN: &str = "/sbin:/usr/sbin:/usr/local/sbin";

/// Finds a program on the target as Ansible's `get_bin_path` does (the
/// login `PATH` plus the sbin directories); fails as it does when missing.
pub(crate) async fn find_bin(ctx: &ModuleCtx<'_>, name: &str) -> SResult<String> {
    Ok(match find_bin_opt(ctx, name).await? {
        Some(p) => p,
        None => {
            return Err(fail(format!(
                "Failed to find required executable \"{name}\" in paths: {SBIN} and the login PATH"
            )));
        }
    })
}

/// [`find_bin`] without failing.
pub(crate) async fn find_bin_opt(ctx: &ModuleCtx<'_>, name: &str) -> SResult<Option<String>> {
    const SCRIPT: &str = r#"IFS=:
for d in $PATH /sbin /usr/sbin /usr/local/sbin; do
  if [ -n "$d" ] && [ -f "$d/$1" ] && [ -x "$d/$1" ]; then printf '%s\n' "$d/$1"; exit 0; fi
done
exit 1
"#;
    let req = ExecRequest::argv(["/bin/sh", "-c", SCRIPT, "hoist-which", name]).short();
    match ctx.conn.exec(&req).await {
        Ok(o) if o.rc == 0 => {
            let p = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            Ok((!p.is_empty()).then_some(p))
        }
        Ok(_) => Ok(None),
        Err(e) if e.kind == ConnErrorKind::Unreachable => Err(Stop::Module(e.into())),
        Err(e) => Err(fail(e.msg)),
    }
}

/// Runs argv (never through a shell) and returns `(rc, stdout, stderr)`
/// as Ansible's `run_command` does.
pub(crate) async fn run_argv(
    ctx: &ModuleCtx<'_>,
    argv: &[String],
    stdin: Option<Vec<u8>>,
    read_only: bool,
) -> SResult<(i64, String, String)> {
    run_argv_hiding(ctx, argv, stdin, read_only, &[]).await
}

/// [`run_argv`] with words (a password hash) that a trace must not show.
pub(crate) async fn run_argv_hiding(
    ctx: &ModuleCtx<'_>,
    argv: &[String],
    stdin: Option<Vec<u8>>,
    read_only: bool,
    hidden: &[String],
) -> SResult<(i64, String, String)> {
    let mut req = ExecRequest::argv(argv.iter().cloned());
    req.stdin = stdin;
    req.read_only = read_only;
    req.hidden = hidden.to_vec();
    match ctx.conn.exec(&req).await {
        Ok(o) => Ok((
            i64::from(o.rc),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )),
        Err(e) => {
            let (rc, msg) = exec_error(&e, argv)?;
            Ok((rc, String::new(), msg))
        }
    }
}

// ---------------------------------------------------------------------------
// The module

struct Opts {
    name: String,
    state: String,
    force: bool,
    gid: Option<i64>,
    system: bool,
    local: bool,
    non_unique: bool,
    gid_min: Option<i64>,
    gid_max: Option<i64>,
}

impl Opts {
    fn from_args(args: &Args) -> SResult<Opts> {
        let o = Opts {
            name: args.str_or("name", ""),
            state: args.str_or("state", "present"),
            force: args.bool_or("force", false),
            gid: args.int("gid"),
            system: args.bool_or("system", false),
            local: args.bool_or("local", false),
            non_unique: args.bool_or("non_unique", false),
            gid_min: args.int("gid_min"),
            gid_max: args.int("gid_max"),
        };
        if o.non_unique && o.gid.is_none() {
            return Err(fail(
                "non_unique is True but all of the following are missing: gid",
            ));
        }
        if o.force && o.local {
            return Err(fail(
                "force is not a valid option for local, force=True and local=True are mutually exclusive",
            ));
        }
        if o.local && o.gid_min.is_some() {
            return Err(fail("'gid_min' can not be used with 'local'"));
        }
        if o.local && o.gid_max.is_some() {
            return Err(fail("'gid_max' can not be used with 'local'"));
        }
        Ok(o)
    }

    fn prog(&self, base: &str) -> String {
        if self.local {
            format!("l{base}")
        } else {
            base.to_owned()
        }
    }
}

#[async_trait]
impl Module for Group {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        finish(run(args, ctx).await)
    }
}

async fn run(args: &Args, ctx: &ModuleCtx<'_>) -> SResult<Outcome> {
    let o = Opts::from_args(args)?;
    let check = ctx.check_mode || ctx.predict;
    let all = groups(ctx).await?;
    let current = find_group(&all, &o.name, false).cloned();

    let mut ran: Option<(i64, String, String)> = None;
    if o.state == "absent" {
        if current.is_some() {
            if check {
                return Ok(Outcome::changed(true));
            }
            let mut cmd = vec![find_bin(ctx, &o.prog("groupdel")).await?];
            if o.force {
                cmd.push("-f".into());
            }
            cmd.push(o.name.clone());
            ran = Some(run_argv(ctx, &cmd, None, false).await?);
        }
    } else if let Some(cur) = &current {
        // groupmod is looked for only when there is something to change.
        let mut cmd = vec![o.prog("groupmod")];
        if let Some(gid) = o.gid
            && i64::from(cur.gid) != gid
        {
            if o.local {
                local_check_gid(&all, gid, &o.name)?;
            }
            cmd.extend(["-g".into(), gid.to_string()]);
            if o.non_unique {
                cmd.push("-o".into());
            }
        }
        if cmd.len() > 1 {
            cmd[0] = find_bin(ctx, &o.prog("groupmod")).await?;
            if check {
                ran = Some((0, String::new(), String::new()));
            } else {
                cmd.push(o.name.clone());
                ran = Some(run_argv(ctx, &cmd, None, false).await?);
            }
        }
    } else {
        if check {
            return Ok(Outcome::changed(true));
        }
        let mut cmd = vec![find_bin(ctx, &o.prog("groupadd")).await?];
        if let Some(gid) = o.gid {
            if o.local {
                local_check_gid(&all, gid, &o.name)?;
            }
            cmd.extend(["-g".into(), gid.to_string()]);
            if o.non_unique {
                cmd.push("-o".into());
            }
        }
        if o.system {
            cmd.push("-r".into());
        }
        if let Some(n) = o.gid_min {
            cmd.extend(["-K".into(), format!("GID_MIN={n}")]);
        }
        if let Some(n) = o.gid_max {
            cmd.extend(["-K".into(), format!("GID_MAX={n}")]);
        }
        cmd.push(o.name.clone());
        ran = Some(run_argv(ctx, &cmd, None, false).await?);
    }

    if let Some((rc, _, err)) = &ran
        && *rc != 0
    {
        return Err(fail_with(
            err.clone(),
            &[("name", Value::from(o.name.clone()))],
        ));
    }
    let mut out = Outcome::changed(ran.is_some());
    out.set("name", o.name.clone());
    out.set("state", o.state.clone());
    if let Some((_, stdout, stderr)) = &ran {
        if !stdout.is_empty() {
            out.set("stdout", stdout.clone());
        }
        if !stderr.is_empty() {
            out.set("stderr", stderr.clone());
        }
    }
    let after = if ran.is_some() && !check {
        find_group(&groups(ctx).await?, &o.name, false).cloned()
    } else {
        current
    };
    if let Some(g) = after {
        out.set("system", o.system);
        out.set("gid", g.gid);
    }
    super::command::add_lines(&mut out);
    Ok(out)
}

/// `local: true` refuses a gid another group has (lgroupadd would not).
fn local_check_gid(all: &[GroupEnt], gid: i64, name: &str) -> SResult<()> {
    if gid == 0 {
        return Ok(());
    }
    match all
        .iter()
        .find(|g| i64::from(g.gid) == gid && g.name != name)
    {
        Some(g) => Err(fail(format!(
            "GID '{gid}' already exists with group '{}'",
            g.name
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_group_lines() {
        let text = "root:x:0:\n# comment\n+nis\nadm:x:4:syslog,alice\nbad line\nweird:x:notanumber:\nsp ace $x:x:1001:\n";
        let g = parse_group(text);
        assert_eq!(g.len(), 3);
        assert_eq!(g[0].name, "root");
        assert!(g[0].members.is_empty());
        assert_eq!(g[1].members, vec!["syslog", "alice"]);
        assert_eq!(g[2].name, "sp ace $x");
        assert_eq!(
            find_group(&g, "4", true).map(|g| g.name.as_str()),
            Some("adm")
        );
        assert_eq!(find_group(&g, "4", false), None);
    }

    #[test]
    fn parses_passwd_and_shadow() {
        let text = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice A,,,:/home/alice:/bin/sh\nshort:x:1\n";
        let p = parse_passwd(text);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].gecos, "Alice A,,,");
        assert_eq!(p[1].home, "/home/alice");
        let shadow = "root:*:19000:0:99999:7:::\nalice:$6$abc$def:19001:0:99999:7::20000:\n";
        let f = shadow_fields(shadow, "alice").unwrap_or_default();
        assert_eq!(f[1], "$6$abc$def");
        assert_eq!(f[7], "20000");
        assert_eq!(shadow_fields(shadow, "bob"), None);
    }

    #[test]
    fn local_gid_clash() {
        let g = parse_group("a:x:5000:\n");
        assert!(local_check_gid(&g, 5000, "b").is_err());
        assert!(local_check_gid(&g, 5000, "a").is_ok());
    }
}
