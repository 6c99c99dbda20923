//! `user`: local accounts through `useradd`/`usermod`/`userdel`/`chage`
//! and `ssh-keygen`, as Ansible's `user` module on Linux. The account's
//! current state comes from `/etc/passwd`, `/etc/shadow` and `/etc/group`;
//! every command is an argv, never a shell line. In check mode nothing runs
//! but probes, and the result says what would change.

use async_trait::async_trait;
use minijinja::Value;

use super::file::{SResult, expand_user, fail, fail_with, finish, join};
use super::group::{
    GroupEnt, PasswdEnt, find_bin, parse_group, parse_passwd, read_text, run_argv, run_argv_hiding,
    shadow_fields,
};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};
use crate::connection::FileKind;

pub struct User;

static SPEC: ModuleSpec = ModuleSpec {
    name: "user",
    params: &[
        Param::new("name", ParamType::Str)
            .required()
            .aliases(&["user"]),
        Param::new("state", ParamType::Str).choices(&["absent", "present"]),
        Param::new("uid", ParamType::Int),
        Param::new("non_unique", ParamType::Bool),
        Param::new("group", ParamType::Str),
        Param::new("groups", ParamType::List),
        Param::new("comment", ParamType::Str),
        Param::new("home", ParamType::Path),
        Param::new("shell", ParamType::Path),
        Param::new("password", ParamType::Str),
        Param::new("login_class", ParamType::Str),
        Param::new("password_expire_max", ParamType::Int),
        Param::new("password_expire_min", ParamType::Int),
        Param::new("password_expire_warn", ParamType::Int),
        Param::new("hidden", ParamType::Bool),
        Param::new("seuser", ParamType::Str),
        Param::new("force", ParamType::Bool),
        Param::new("remove", ParamType::Bool),
        Param::new("create_home", ParamType::Bool).aliases(&["createhome"]),
        Param::new("skeleton", ParamType::Str),
        Param::new("system", ParamType::Bool),
        Param::new("move_home", ParamType::Bool),
        Param::new("append", ParamType::Bool),
        Param::new("generate_ssh_key", ParamType::Bool),
        Param::new("ssh_key_bits", ParamType::Int),
        Param::new("ssh_key_type", ParamType::Str),
        Param::new("ssh_key_file", ParamType::Path),
        Param::new("ssh_key_comment", ParamType::Str),
        Param::new("ssh_key_passphrase", ParamType::Str),
        Param::new("update_password", ParamType::Str).choices(&["always", "on_create"]),
        Param::new("expires", ParamType::Float),
        Param::new("password_lock", ParamType::Bool),
        Param::new("local", ParamType::Bool),
        Param::new("profile", ParamType::Str),
        Param::new("authorization", ParamType::Str),
        Param::new("role", ParamType::Str),
        Param::new("umask", ParamType::Str),
        Param::new("password_expire_account_disable", ParamType::Int),
        Param::new("uid_min", ParamType::Int),
        Param::new("uid_max", ParamType::Int),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Create, change or remove local user accounts.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[
        "Runs `useradd`/`usermod`/`userdel`/`chage` and `ssh-keygen` as argv, reading the \
         account from /etc/passwd, /etc/shadow and /etc/group (Linux). The password hash is \
         set with `chpasswd -e` on standard input, never on a command line, and is a secret \
         of the run.",
        "Free text such as `comment` is stored literally: Ansible expands `$VAR` in these \
         commands' arguments, hoist does not.",
        "`local: true` (libuser) is refused; `login_class`, `hidden`, `profile`, \
         `authorization` and `role` (BSD, macOS, Solaris) are accepted and ignored.",
    ],
};

#[async_trait]
impl Module for User {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        finish(run(args, ctx).await)
    }
}

/// The arguments, with Ansible's defaults.
struct Opts {
    name: String,
    state: String,
    uid: Option<i64>,
    non_unique: bool,
    seuser: Option<String>,
    group: Option<String>,
    /// The `groups` list joined with commas, as Ansible keeps (and returns) it.
    groups: Option<String>,
    comment: Option<String>,
    home: Option<String>,
    shell: Option<String>,
    password: Option<String>,
    force: bool,
    remove: bool,
    create_home: bool,
    move_home: bool,
    skeleton: Option<String>,
    system: bool,
    append: bool,
    sshkeygen: bool,
    ssh_bits: i64,
    ssh_type: String,
    ssh_file: String,
    ssh_comment: Option<String>,
    ssh_passphrase: Option<String>,
    update_password: String,
    expires: Option<f64>,
    password_lock: Option<bool>,
    umask: Option<String>,
    inactive: Option<i64>,
    uid_min: Option<i64>,
    uid_max: Option<i64>,
    expire_min: Option<i64>,
    expire_max: Option<i64>,
    expire_warn: Option<i64>,
}

async fn opts(args: &Args, ctx: &ModuleCtx<'_>) -> SResult<Opts> {
    let ssh_type = args.str_or("ssh_key_type", "rsa");
    let path = |name: &str| args.str(name);
    let home = match path("home") {
        Some(h) => Some(expand_user(ctx, &h).await?),
        None => None,
    };
    let shell = match path("shell") {
        Some(s) => Some(expand_user(ctx, &s).await?),
        None => None,
    };
    let ssh_file = match path("ssh_key_file") {
        Some(f) => expand_user(ctx, &f).await?,
        None => format!(".ssh/id_{ssh_type}"),
    };
    if args.bool_or("local", false) {
        return Err(fail(
            "local: true (luseradd/lusermod from libuser) is not supported by hoist",
        ));
    }
    Ok(Opts {
        name: args.str_or("name", ""),
        state: args.str_or("state", "present"),
        uid: args.int("uid"),
        non_unique: args.bool_or("non_unique", false),
        seuser: args.str("seuser"),
        group: args.str("group"),
        groups: args.str_list("groups").map(|g| g.join(",")),
        comment: args.str("comment"),
        home,
        shell,
        password: args
            .str("password")
            .inspect(|p| crate::secrets::register(p)),
        force: args.bool_or("force", false),
        remove: args.bool_or("remove", false),
        create_home: args.bool_or("create_home", true),
        move_home: args.bool_or("move_home", false),
        skeleton: args.str("skeleton"),
        system: args.bool_or("system", false),
        append: args.bool_or("append", false),
        sshkeygen: args.bool_or("generate_ssh_key", false),
        ssh_bits: args.int("ssh_key_bits").unwrap_or(0),
        ssh_type,
        ssh_file,
        ssh_comment: args.str("ssh_key_comment"),
        ssh_passphrase: args.str("ssh_key_passphrase"),
        update_password: args.str_or("update_password", "always"),
        expires: args
            .get("expires")
            .and_then(|v| f64::try_from(v.clone()).ok()),
        password_lock: args.bool("password_lock"),
        umask: args.str("umask"),
        inactive: args.int("password_expire_account_disable"),
        uid_min: args.int("uid_min"),
        uid_max: args.int("uid_max"),
        expire_min: args.int("password_expire_min"),
        expire_max: args.int("password_expire_max"),
        expire_warn: args.int("password_expire_warn"),
    })
}

/// Ansible's warning for a `password` that does not look like a crypt hash.
fn password_looks_unhashed(p: &str) -> bool {
    if p.is_empty() || ["*", "!", "*************"].contains(&p) {
        return false;
    }
    if p.contains([':', '*', '!']) || !p.contains('$') {
        return true;
    }
    let fields: Vec<&str> = p.split('$').collect();
    if fields.len() < 3 {
        return true;
    }
    let last = fields[fields.len() - 1];
    if last
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '=')))
    {
        return true;
    }
    let want = match fields[1] {
        "1" => Some(22),
        "5" | "y" => Some(43),
        "6" => Some(86),
        _ => None,
    };
    want.is_some_and(|n| last.chars().count() != n)
}

/// What the target says about the account.
struct Db {
    passwd: Vec<PasswdEnt>,
    group: Vec<GroupEnt>,
    shadow: String,
}

impl Db {
    async fn load(ctx: &ModuleCtx<'_>) -> SResult<Db> {
        // /etc/shadow is unreadable without become: read as empty then, as
        // Ansible's getspnam fails.
        // The three files in one round trip. /etc/shadow is unreadable
        // without become: read as empty then, as Ansible's getspnam fails.
        let mut files = ctx
            .conn
            .read_files(&["/etc/shadow", "/etc/passwd", "/etc/group"])
            .await?
            .into_iter();
        let mut text = |unreadable_is_empty: bool| -> SResult<String> {
            match files.next() {
                Some(Ok(b)) => Ok(b
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()),
                Some(Err(_)) if unreadable_is_empty => Ok(String::new()),
                Some(Err(e)) => Err(super::file::Stop::Module(e.into())),
                None => Ok(String::new()),
            }
        };
        let shadow = text(true)?;
        let passwd = text(false)?;
        let group = text(false)?;
        Ok(Db {
            passwd: parse_passwd(&passwd),
            group: parse_group(&group),
            shadow,
        })
    }

    fn user(&self, name: &str) -> Option<&PasswdEnt> {
        self.passwd.iter().find(|p| p.name == name)
    }

    /// `user_info`: the passwd entry with the shadow hash when the passwd
    /// field is `x` or empty.
    fn info(&self, name: &str) -> Option<PasswdEnt> {
        let mut p = self.user(name)?.clone();
        if p.passwd.chars().count() <= 1 {
            p.passwd = self.shadow(name).map(|f| f[1].clone()).unwrap_or_default();
        }
        Some(p)
    }

    fn shadow(&self, name: &str) -> Option<Vec<String>> {
        shadow_fields(&self.shadow, name)
    }

    /// A shadow number field as getspnam gives it (-1 when empty).
    fn shadow_num(&self, name: &str, idx: usize) -> Option<i64> {
        let f = self.shadow(name)?;
        let v = f[idx].trim();
        Some(if v.is_empty() {
            -1
        } else {
            v.parse().unwrap_or(-1)
        })
    }

    /// Ansible's `group_info`: a gid first, then a name.
    fn group_info(&self, g: &str) -> Option<&GroupEnt> {
        if let Ok(gid) = g.trim().parse::<u32>()
            && let Some(e) = self.group.iter().find(|e| e.gid == gid)
        {
            return Some(e);
        }
        self.group.iter().find(|e| e.name == g)
    }

    /// Every group listing the user as a member.
    fn membership(&self, name: &str) -> Vec<String> {
        self.group
            .iter()
            .filter(|g| g.members.iter().any(|m| m == name))
            .map(|g| g.name.clone())
            .collect()
    }
}

/// Days since the epoch as `YYYY-MM-DD` (proleptic Gregorian).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn expires_day(e: f64) -> i64 {
    (e / 86_400.0).floor() as i64
}

type Ran = Option<(i64, String, String)>;

async fn run(args: &Args, ctx: &ModuleCtx<'_>) -> SResult<Outcome> {
    let mut u = opts(args, ctx).await?;
    let check = ctx.check_mode || ctx.predict;
    let mut warnings: Vec<String> = Vec::new();
    if let Some(p) = &u.password
        && password_looks_unhashed(p)
    {
        warnings.push("The input password appears not to have been hashed. The 'password' argument must be encrypted for this module to work properly.".into());
    }
    if u.groups.is_none() && u.append {
        warnings.push("'append' is set, but no 'groups' are specified. Use 'groups' for appending new groups.This will change to an error in Ansible 2.14.".into());
    }
    let db = Db::load(ctx).await?;
    let exists = db.user(&u.name).is_some();

    let mut out = Outcome::default();
    out.set("name", u.name.clone());
    out.set("state", u.state.clone());
    let only_changed = |warnings: Vec<String>| {
        let mut o = Outcome::changed(true);
        if !warnings.is_empty() {
            o.set("warnings", Value::from(warnings));
        }
        o
    };
    let mut ran: Ran = None;
    if u.state == "absent" {
        if exists {
            if check {
                return Ok(only_changed(warnings));
            }
            let mut cmd = vec![find_bin(ctx, "userdel").await?];
            if u.force {
                cmd.push("-f".into());
            }
            if u.remove {
                cmd.push("-r".into());
            }
            cmd.push(u.name.clone());
            let r = run_argv(ctx, &cmd, None, false).await?;
            failed_rc(&u, &r)?;
            ran = Some(r);
            out.set("force", u.force);
            out.set("remove", u.remove);
        }
    } else {
        if !exists {
            if check {
                return Ok(only_changed(warnings));
            }
            let mut needs_parents = false;
            if let Some(h) = &u.home
                && u.create_home
            {
                let parent = super::file::dirname(h);
                needs_parents = !is_dir(ctx, &parent).await?;
            }
            let r = create_user(ctx, &u, &db).await?;
            failed_rc(&u, &r)?;
            ran = Some(r);
            if needs_parents
                && let Some(home) = &u.home
                && let Some(info) = Db::load(ctx).await?.info(&u.name)
            {
                chown_homedir(ctx, info.uid, info.gid, home).await?;
            }
            out.set("system", u.system);
            out.set("create_home", u.create_home);
        } else {
            ran = modify_user(ctx, &u, &db, check).await?;
            if let Some(r) = &ran {
                failed_rc(&u, r)?;
            }
            out.set("append", u.append);
            out.set("move_home", u.move_home);
        }
        if u.password.is_some() {
            out.set("password", "NOT_LOGGING_PASSWORD");
        }
    }
    out.changed = ran.is_some();
    if let Some((_, stdout, stderr)) = &ran {
        if !stdout.is_empty() {
            out.set("stdout", stdout.clone());
        }
        if !stderr.is_empty() {
            out.set("stderr", stderr.clone());
        }
    }

    if u.state == "present" {
        let db = if ran.is_some() && !check {
            Db::load(ctx).await?
        } else {
            db
        };
        if let Some(info) = db.info(&u.name) {
            out.set("uid", info.uid);
            out.set("group", info.gid);
            out.set("comment", info.gecos.clone());
            out.set("home", info.home.clone());
            out.set("shell", info.shell.clone());
            if let Some(g) = &u.groups {
                out.set("groups", g.clone());
            }
            // A missing home directory is created (as Ansible does, even
            // for an existing account).
            let home = u.home.clone().unwrap_or_else(|| info.home.clone());
            if u.create_home && ctx.conn.stat(&home, true).await?.is_none() {
                if !check {
                    create_homedir(ctx, &u, &home).await?;
                    chown_homedir(ctx, info.uid, info.gid, &home).await?;
                }
                out.changed = true;
            }
            u.home = Some(home);
            if u.sshkeygen {
                let key_file = if u.ssh_file.starts_with('/') {
                    u.ssh_file.clone()
                } else {
                    join(&info.home, &u.ssh_file)
                };
                let (rc, _, err) =
                    ssh_key_gen(ctx, &u, &info, &key_file, check, &mut warnings).await?;
                if let Some(rc) = rc {
                    if rc != 0 {
                        return Err(fail_with(
                            err,
                            &[
                                ("name", Value::from(u.name.clone())),
                                ("rc", Value::from(rc)),
                            ],
                        ));
                    }
                    out.changed = true;
                }
                let fp = if ctx.conn.stat(&key_file, true).await?.is_none() {
                    String::new()
                } else {
                    let cmd = vec![
                        find_bin(ctx, "ssh-keygen").await?,
                        "-l".into(),
                        "-f".into(),
                        key_file.clone(),
                    ];
                    let (rc, so, se) = run_argv(ctx, &cmd, None, true).await?;
                    if rc == 0 {
                        so.trim().to_owned()
                    } else {
                        se.trim().to_owned()
                    }
                };
                out.set("ssh_fingerprint", fp);
                out.set("ssh_key_file", key_file.clone());
                let public = ctx
                    .conn
                    .read_file(&format!("{key_file}.pub"))
                    .await
                    .ok()
                    .flatten()
                    .map(|b| Value::from(String::from_utf8_lossy(&b).trim().to_owned()))
                    .unwrap_or(Value::from(()));
                out.set("ssh_public_key", public);
            }
            // Password ageing.
            let differs = |want: Option<i64>, idx: usize| {
                want.is_some_and(|w| db.shadow_num(&u.name, idx).is_none_or(|cur| cur != w))
            };
            let (min, max, warn) = (
                differs(u.expire_min, 3),
                differs(u.expire_max, 4),
                differs(u.expire_warn, 5),
            );
            if (min || max || warn) && db.shadow(&u.name).is_some() {
                if !check {
                    let mut cmd = vec![find_bin(ctx, "chage").await?];
                    for (on, flag, v) in [
                        (min, "-m", u.expire_min),
                        (max, "-M", u.expire_max),
                        (warn, "-W", u.expire_warn),
                    ] {
                        if on && let Some(v) = v {
                            cmd.extend([flag.to_owned(), v.to_string()]);
                        }
                    }
                    cmd.push(u.name.clone());
                    let r = run_argv(ctx, &cmd, None, false).await?;
                    failed_rc(&u, &r)?;
                }
                out.changed = true;
            }
        }
    }
    if !warnings.is_empty() {
        out.set("warnings", Value::from(warnings));
    }
    super::command::add_lines(&mut out);
    Ok(out)
}

fn failed_rc(u: &Opts, r: &(i64, String, String)) -> SResult<()> {
    if r.0 != 0 {
        return Err(fail_with(
            r.2.clone(),
            &[
                ("name", Value::from(u.name.clone())),
                ("rc", Value::from(r.0)),
            ],
        ));
    }
    Ok(())
}

async fn is_dir(ctx: &ModuleCtx<'_>, p: &str) -> SResult<bool> {
    Ok(ctx
        .conn
        .stat(p, true)
        .await?
        .is_some_and(|s| s.kind == FileKind::Directory))
}

/// The `-e` value for `useradd`/`usermod`.
fn expires_arg(e: f64) -> String {
    if e < 0.0 {
        String::new()
    } else {
        civil_date(expires_day(e))
    }
}

async fn create_user(ctx: &ModuleCtx<'_>, u: &Opts, db: &Db) -> SResult<(i64, String, String)> {
    let mut cmd = vec![find_bin(ctx, "useradd").await?];
    if let Some(uid) = u.uid {
        cmd.extend(["-u".into(), uid.to_string()]);
        if u.non_unique {
            cmd.push("-o".into());
        }
    }
    if let Some(s) = &u.seuser {
        cmd.extend(["-Z".into(), s.clone()]);
    }
    if let Some(g) = &u.group {
        if db.group_info(g).is_none() {
            return Err(fail(format!("Group {g} does not exist")));
        }
        cmd.extend(["-g".into(), g.clone()]);
    } else if db.group_info(&u.name).is_some() {
        // A group named like the user exists: useradd must not try to
        // create it (USERGROUPS_ENAB).
        cmd.push("-N".into());
    }
    if let Some(gs) = &u.groups
        && !gs.is_empty()
    {
        let mut list: Vec<&str> = Vec::new();
        for g in gs.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            if db.group_info(g).is_none() {
                return Err(fail(format!("Group {g} does not exist")));
            }
            if !list.contains(&g) {
                list.push(g);
            }
        }
        cmd.extend(["-G".into(), list.join(",")]);
    }
    if let Some(c) = &u.comment {
        cmd.extend(["-c".into(), c.clone()]);
    }
    if let Some(h) = &u.home {
        if u.create_home && !is_dir(ctx, &super::file::dirname(h)).await? {
            create_homedir(ctx, u, h).await?;
        }
        cmd.extend(["-d".into(), h.clone()]);
    }
    if let Some(s) = &u.shell {
        cmd.extend(["-s".into(), s.clone()]);
    }
    if let Some(e) = u.expires {
        cmd.extend(["-e".into(), expires_arg(e)]);
    }
    if let Some(i) = u.inactive {
        cmd.extend(["-f".into(), i.to_string()]);
    }
    // The password hash is set afterwards on standard input (see
    // `set_password`), never on the command line.
    if u.create_home {
        cmd.push("-m".into());
        if let Some(k) = &u.skeleton {
            cmd.extend(["-k".into(), k.clone()]);
        }
        if let Some(m) = &u.umask {
            cmd.extend(["-K".into(), format!("UMASK={m}")]);
        }
    } else {
        cmd.push("-M".into());
    }
    if u.system {
        cmd.push("-r".into());
    }
    if let Some(n) = u.uid_min {
        cmd.extend(["-K".into(), format!("UID_MIN={n}")]);
    }
    if let Some(n) = u.uid_max {
        cmd.extend(["-K".into(), format!("UID_MAX={n}")]);
    }
    cmd.push(u.name.clone());
    let r = run_argv_hiding(ctx, &cmd, None, false, &[]).await?;
    match &u.password {
        Some(p) if r.0 == 0 => set_password(ctx, u, p).await,
        _ => Ok(r),
    }
}

/// Sets a user's password hash (`!` first when it is locked) with
/// `chpasswd -e`, the hash on standard input: `ps` on the host never shows
/// it, as it would show `useradd -p HASH`.
async fn set_password(ctx: &ModuleCtx<'_>, u: &Opts, hash: &str) -> SResult<(i64, String, String)> {
    let hash = if u.password_lock == Some(true) {
        format!("!{hash}")
    } else {
        hash.to_owned()
    };
    let cmd = vec![find_bin(ctx, "chpasswd").await?, "-e".into()];
    let line = format!("{}:{hash}\n", u.name);
    run_argv_hiding(ctx, &cmd, Some(line.into_bytes()), false, &[]).await
}

/// `usermod` for what differs; `None` when nothing does. In check mode the
/// command is only built.
async fn modify_user(ctx: &ModuleCtx<'_>, u: &Opts, db: &Db, check: bool) -> SResult<Ran> {
    let Some(info) = db.info(&u.name) else {
        return Ok(None);
    };
    // usermod is looked for only when there is something to change: an
    // account that is as asked costs no search on the host.
    let mut cmd: Vec<String> = vec!["usermod".into()];
    if let Some(uid) = u.uid
        && i64::from(info.uid) != uid
    {
        cmd.extend(["-u".into(), uid.to_string()]);
        if u.non_unique {
            cmd.push("-o".into());
        }
    }
    if let Some(g) = &u.group {
        let Some(ginfo) = db.group_info(g) else {
            return Err(fail(format!("Group {g} does not exist")));
        };
        if info.gid != ginfo.gid {
            cmd.extend(["-g".into(), ginfo.gid.to_string()]);
        }
    }
    if let Some(gs) = &u.groups {
        let current = db.membership(&u.name);
        let mut need = false;
        let mut wanted: Vec<String> = Vec::new();
        if gs.is_empty() {
            need = !current.is_empty() && !u.append;
        } else {
            for g in gs.split(',').map(str::trim).filter(|g| !g.is_empty()) {
                let Some(gi) = db.group_info(g) else {
                    return Err(fail(format!("Group {g} does not exist")));
                };
                if !wanted.contains(&gi.name) {
                    wanted.push(gi.name.clone());
                }
            }
            let missing = wanted.iter().any(|g| !current.contains(g));
            let extra = current.iter().any(|g| !wanted.contains(g));
            if u.append {
                if missing {
                    cmd.push("-a".into());
                    need = true;
                }
            } else {
                need = missing || extra;
            }
        }
        if need {
            cmd.extend(["-G".into(), wanted.join(",")]);
        }
    }
    if let Some(c) = &u.comment
        && &info.gecos != c
    {
        cmd.extend(["-c".into(), c.clone()]);
    }
    if let Some(h) = &u.home
        && &info.home != h
    {
        cmd.extend(["-d".into(), h.clone()]);
        if u.move_home {
            cmd.push("-m".into());
        }
    }
    if let Some(s) = &u.shell
        && &info.shell != s
    {
        cmd.extend(["-s".into(), s.clone()]);
    }
    if let Some(e) = u.expires {
        let current = db.shadow_num(&u.name, 7).unwrap_or(0);
        if e < 0.0 {
            if current >= 0 {
                cmd.extend(["-e".into(), String::new()]);
            }
        } else if current < 0 || current != expires_day(e) {
            cmd.extend(["-e".into(), expires_arg(e)]);
        }
    }
    if let Some(i) = u.inactive {
        cmd.extend(["-f".into(), i.to_string()]);
    }
    match u.password_lock {
        Some(true) if !info.passwd.starts_with('!') => cmd.push("-L".into()),
        Some(false) if info.passwd.starts_with('!') => cmd.push("-U".into()),
        _ => {}
    }
    // A new hash is set on standard input (see `set_password`), with its
    // lock state, so `-L`/`-U` are not needed then.
    let mut new_hash = None;
    if u.update_password == "always"
        && let Some(p) = &u.password
        && info.passwd.trim_start_matches('!') != p.trim_start_matches('!')
    {
        cmd.retain(|c| c != "-U" && c != "-L");
        new_hash = Some(p);
    }
    if cmd.len() == 1 && new_hash.is_none() {
        return Ok(None);
    }
    if cmd.len() > 1 {
        cmd[0] = find_bin(ctx, "usermod").await?;
    }
    if check {
        return Ok(Some((0, String::new(), String::new())));
    }
    let mut r = (0, String::new(), String::new());
    if cmd.len() > 1 {
        cmd.push(u.name.clone());
        r = run_argv_hiding(ctx, &cmd, None, false, &[]).await?;
    }
    if let Some(p) = new_hash
        && r.0 == 0
    {
        r = set_password(ctx, u, p).await?;
    }
    Ok(Some(r))
}

/// The mode a new home gets: `HOME_MODE`, else from `UMASK`, in
/// /etc/login.defs (0755 when neither is set).
fn home_mode(login_defs: &str) -> u32 {
    let mut mode = 0o755;
    for line in login_defs.lines() {
        let mut w = line.split_whitespace();
        let (Some(k), Some(v), None) = (w.next(), w.next(), w.next()) else {
            continue;
        };
        if !line.starts_with(k) || !v.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(n) = u32::from_str_radix(v, 8) else {
            continue;
        };
        if k == "HOME_MODE" {
            return n;
        }
        if k == "UMASK" {
            mode = 0o777 & !n;
        }
    }
    mode
}

/// Creates a home directory as Ansible does when useradd cannot (missing
/// parents) or did not (the account existed): a copy of the skeleton, or
/// an empty directory, with the login.defs mode.
async fn create_homedir(ctx: &ModuleCtx<'_>, u: &Opts, path: &str) -> SResult<()> {
    if ctx.conn.stat(path, true).await?.is_some() {
        return Ok(());
    }
    let skel = u.skeleton.clone().unwrap_or_else(|| "/etc/skel".into());
    let parent = super::file::dirname(path);
    let mkdir = vec![find_bin(ctx, "mkdir").await?, "-p".into(), "--".into()];
    let r = if skel != "/dev/null" && ctx.conn.stat(&skel, true).await?.is_some() {
        let r = run_argv(ctx, &[mkdir.clone(), vec![parent]].concat(), None, false).await?;
        if r.0 != 0 {
            return Err(fail(r.2.trim_end().to_owned()));
        }
        let cp = vec![
            find_bin(ctx, "cp").await?,
            "-RP".into(),
            "--preserve=mode,timestamps".into(),
            "--".into(),
            skel,
            path.to_owned(),
        ];
        run_argv(ctx, &cp, None, false).await?
    } else {
        run_argv(ctx, &[mkdir, vec![path.to_owned()]].concat(), None, false).await?
    };
    if r.0 != 0 {
        return Err(fail(r.2.trim_end().to_owned()));
    }
    if ctx.conn.stat("/etc/login.defs", true).await?.is_some() {
        let defs = read_text(ctx, "/etc/login.defs").await?;
        ctx.conn.chmod(path, home_mode(&defs)).await?;
    }
    Ok(())
}

/// Gives the home directory and everything in it to the account.
async fn chown_homedir(ctx: &ModuleCtx<'_>, uid: u32, gid: u32, path: &str) -> SResult<()> {
    let cmd = vec![
        find_bin(ctx, "chown").await?,
        "-R".into(),
        "-P".into(),
        format!("{uid}:{gid}"),
        "--".into(),
        path.to_owned(),
    ];
    let r = run_argv(ctx, &cmd, None, false).await?;
    if r.0 != 0 {
        return Err(fail(r.2.trim_end().to_owned()));
    }
    Ok(())
}

/// `ssh-keygen` for the account unless the key exists (or `force`).
/// Returns Ansible's `(rc, out, err)`; `rc: None` when nothing was done.
async fn ssh_key_gen(
    ctx: &ModuleCtx<'_>,
    u: &Opts,
    info: &PasswdEnt,
    key_file: &str,
    check: bool,
    warnings: &mut Vec<String>,
) -> SResult<(Option<i64>, String, String)> {
    if !u.ssh_file.starts_with('/') && !check && ctx.conn.stat(&info.home, true).await?.is_none() {
        return Ok((
            Some(1),
            String::new(),
            format!("User {} home directory does not exist", u.name),
        ));
    }
    let pub_file = format!("{key_file}.pub");
    let ssh_dir = super::file::dirname(key_file);
    if ctx.conn.stat(&ssh_dir, true).await?.is_none() {
        if check {
            return Ok((Some(0), String::new(), String::new()));
        }
        if let Err(e) = ctx.conn.mkdir(&ssh_dir, 0o700).await {
            return Ok((
                Some(1),
                String::new(),
                format!("Failed to create {ssh_dir}: {e}"),
            ));
        }
        let (uid, gid) = (info.uid.to_string(), info.gid.to_string());
        ctx.conn
            .chown(&ssh_dir, Some(&uid), Some(&gid), true)
            .await?;
    }
    let mut overwrite = None;
    if ctx.conn.stat(key_file, false).await?.is_some() {
        if u.force {
            warnings.push(format!(
                "Overwriting existing ssh key private file \"{key_file}\""
            ));
            overwrite = Some(b"y\n".to_vec());
        } else {
            warnings.push(format!(
                "Found existing ssh key private file \"{key_file}\", no force, so skipping ssh-keygen generation"
            ));
            return Ok((
                None,
                "Key already exists, use \"force: yes\" to overwrite".into(),
                String::new(),
            ));
        }
    }
    if ctx.conn.stat(&pub_file, false).await?.is_some() {
        if u.force {
            warnings.push(format!(
                "Overwriting existing ssh key public file \"{pub_file}\""
            ));
            if !check {
                ctx.conn.remove(&pub_file, false).await?;
            }
        } else {
            warnings.push(format!(
                "Found existing ssh key public file \"{pub_file}\", no force, so skipping ssh-keygen generation"
            ));
            return Ok((
                None,
                "Public key already exists, use \"force: yes\" to overwrite".into(),
                String::new(),
            ));
        }
    }
    if check {
        return Ok((Some(0), String::new(), String::new()));
    }
    let comment = match &u.ssh_comment {
        Some(c) => c.clone(),
        None => {
            let host = read_text(ctx, "/proc/sys/kernel/hostname").await?;
            format!("ansible-generated on {}", host.trim())
        }
    };
    let mut cmd = vec![
        find_bin(ctx, "ssh-keygen").await?,
        "-t".into(),
        u.ssh_type.clone(),
    ];
    if u.ssh_bits > 0 {
        cmd.extend(["-b".into(), u.ssh_bits.to_string()]);
    }
    cmd.extend(["-C".into(), comment, "-f".into(), key_file.to_owned()]);
    // ssh-keygen takes a new passphrase only from a terminal or -N.
    cmd.extend(["-N".into(), u.ssh_passphrase.clone().unwrap_or_default()]);
    let (rc, so, se) = run_argv(ctx, &cmd, overwrite, false).await?;
    if rc == 0 {
        let (uid, gid) = (info.uid.to_string(), info.gid.to_string());
        ctx.conn
            .chown(key_file, Some(&uid), Some(&gid), true)
            .await?;
        ctx.conn
            .chown(&pub_file, Some(&uid), Some(&gid), true)
            .await?;
    }
    Ok((Some(rc), so, se))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(-1), "1969-12-31");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(expires_day(1_704_067_199.0), 19_722);
        assert_eq!(expires_arg(1_704_067_200.0), "2024-01-01");
        assert_eq!(expires_arg(-1.0), "");
    }

    #[test]
    fn unhashed_passwords() {
        assert!(password_looks_unhashed("secret"));
        assert!(password_looks_unhashed("$6$salt$short"));
        assert!(!password_looks_unhashed("!"));
        assert!(!password_looks_unhashed(""));
        let h = format!("$6$salt${}", "a".repeat(86));
        assert!(!password_looks_unhashed(&h));
        assert!(!password_looks_unhashed(
            "$y$j9T$salt$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
        ));
    }

    #[test]
    fn login_defs_home_mode() {
        assert_eq!(home_mode(""), 0o755);
        assert_eq!(home_mode("UMASK\t\t022\n"), 0o755);
        assert_eq!(home_mode("UMASK 027\n#HOME_MODE 0700\n"), 0o750);
        assert_eq!(home_mode("HOME_MODE 0700\nUMASK 022\n"), 0o700);
    }
}
