//! `command`: run a program on the target, without a shell.
//!
//! Also home to what `shell` shares with it ([`run_command`]) and to a few
//! Python-compatible helpers other modules use to run commands the way
//! Ansible's `run_command` does: [`py_shlex_split`], [`expand_user_and_vars`],
//! [`exec_error`], plus local time formatting.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use minijinja::Value;

use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::{ConnError, ConnErrorKind, Connection, ExecRequest, FileKind};

pub struct Command;

/// The parameters of `command` and `shell` (one module in Ansible).
pub(crate) const COMMAND_PARAMS: &[Param] = &[
    Param::new("_raw_params", ParamType::Str),
    Param::new("cmd", ParamType::Str),
    Param::new("argv", ParamType::List),
    Param::new("chdir", ParamType::Path),
    Param::new("executable", ParamType::Str),
    Param::new("expand_argument_vars", ParamType::Bool),
    Param::new("creates", ParamType::Path),
    Param::new("removes", ParamType::Path),
    Param::new("stdin", ParamType::Str),
    Param::new("stdin_add_newline", ParamType::Bool),
    Param::new("strip_empty_ends", ParamType::Bool),
];

static SPEC: ModuleSpec = ModuleSpec {
    name: "command",
    params: COMMAND_PARAMS,
    free_form: FreeForm::Raw,
    mutually_exclusive: &[],
    required_one_of: &[],
    // Runs in check mode only to evaluate creates/removes; otherwise it
    // reports itself skipped, as Ansible's does.
    check_mode: true,
    controller_only: false,
    summary: "Run a program on the target, without a shell.",
    check_note: "skipped; with `creates` or `removes` it reports whether the command would \
                 run, and runs nothing (as Ansible)",
    diff: DiffSupport::No,
    notes: &[
        "A command whose arguments hold a secret of the run (a vault value, a `--secret-env` \
         variable …) gets a warning: arguments show in `ps` to every user of the host. Pass \
         such values on `stdin` or in `environment:`.",
    ],
};

#[async_trait]
impl Module for Command {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        run_command(args, ctx, false).await
    }
}

fn none() -> Value {
    Value::from(())
}

/// The result skeleton Ansible's command module always returns.
fn base_result() -> Outcome {
    let mut out = Outcome::changed(false);
    out.set("stdout", "");
    out.set("stderr", "");
    out.set("rc", none());
    out.set("cmd", none());
    out.set("start", none());
    out.set("end", none());
    out.set("delta", none());
    out.msg = Some(String::new());
    out
}

/// Adds `stdout_lines`/`stderr_lines` as Ansible's action plugins do.
pub(crate) fn add_lines(out: &mut Outcome) {
    for (key, lines_key) in [("stdout", "stdout_lines"), ("stderr", "stderr_lines")] {
        if let Some(v) = out.data.get(key) {
            let text = v.as_str().map(str::to_owned).unwrap_or_default();
            let lines: Vec<Value> = py_splitlines(&text).into_iter().map(Value::from).collect();
            out.set(lines_key, Value::from(lines));
        }
    }
}

fn fail_with(mut out: Outcome, rc: i64, msg: impl Into<String>) -> ModuleResult {
    out.failed = true;
    out.set("rc", rc);
    out.msg = Some(msg.into());
    add_lines(&mut out);
    Ok(out)
}

/// `command` and `shell`: `shell` runs the text through `/bin/sh -c` (or
/// `executable`) and reports `cmd` as the string.
pub(crate) async fn run_command(args: &Args, ctx: &ModuleCtx<'_>, shell: bool) -> ModuleResult {
    let conn = ctx.conn;
    let mut out = base_result();
    let mut warnings: Vec<String> = Vec::new();

    let raw_params = args.str("_raw_params").filter(|s| !s.is_empty());
    let cmd_param = args.str("cmd");
    if raw_params.is_some() && cmd_param.is_some() {
        return Err(ModuleError::Failed(
            "The 'cmd' argument cannot be used when other raw parameters are specified. Please put everything in one or the other place.".into(),
        ));
    }
    let raw = raw_params.or(cmd_param);
    let argv = args.str_list("argv").filter(|l| !l.is_empty());
    let mut executable = args.str("executable").filter(|s| !s.is_empty());
    let expand_vars = args.bool_or("expand_argument_vars", true);
    let strip = args.bool_or("strip_empty_ends", true);

    if !shell && let Some(exe) = executable.take() {
        warnings.push(format!(
            "As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '{exe}'."
        ));
    }
    if !warnings.is_empty() {
        out.set("warnings", Value::from(warnings.clone()));
    }

    let raw_blank = raw.as_deref().is_none_or(|s| s.trim().is_empty());
    if raw_blank && argv.is_none() {
        return fail_with(out, 256, "no command given");
    }
    if raw.is_some() && argv.is_some() {
        return fail_with(out, 256, "only command or argv can be given, not both");
    }

    // What to run, and what to report as `cmd`.
    enum Cmd {
        List(Vec<String>),
        Text(String),
    }
    let cmd = match (raw, argv) {
        (Some(text), _) if shell => Cmd::Text(text),
        (Some(text), _) => Cmd::List(py_shlex_split(&text).map_err(ModuleError::Failed)?),
        (None, Some(list)) => Cmd::List(list),
        (None, None) => return fail_with(out, 256, "no command given"),
    };
    match &cmd {
        Cmd::List(l) => out.set("cmd", Value::from(l.clone())),
        Cmd::Text(t) => out.set("cmd", t.as_str()),
    }

    let chdir = match args.str("chdir").filter(|s| !s.is_empty()) {
        Some(dir) => {
            let dir = expand_path(conn, &dir).await?;
            match conn.stat(&dir, true).await? {
                Some(st) if st.kind == FileKind::Directory => {}
                Some(_) => {
                    out.msg = Some(format!(
                        "Unable to change directory before execution: [Errno 20] Not a directory: b'{dir}'"
                    ));
                    out.failed = true;
                    add_lines(&mut out);
                    return Ok(out);
                }
                None => {
                    out.msg = Some(format!(
                        "Unable to change directory before execution: [Errno 2] No such file or directory: b'{dir}'"
                    ));
                    out.failed = true;
                    add_lines(&mut out);
                    return Ok(out);
                }
            }
            Some(dir)
        }
        None => None,
    };

    let shoulda = if ctx.check_mode { "Would" } else { "Did" };
    let creates = match args.str("creates").filter(|s| !s.is_empty()) {
        Some(c) => Some(expand_path(conn, &c).await?),
        None => None,
    };
    let removes = match args.str("removes").filter(|s| !s.is_empty()) {
        Some(r) => Some(expand_path(conn, &r).await?),
        None => None,
    };
    let in_dir = |p: &str| match &chdir {
        Some(d) if !p.starts_with('/') => format!("{}/{p}", d.trim_end_matches('/')),
        _ => p.to_owned(),
    };
    let mut skip_msg = None;
    if let Some(c) = &creates
        && glob_matches(conn, &in_dir(c)).await?
    {
        skip_msg = Some(format!("{shoulda} not run command since '{c}' exists"));
        out.set("stdout", format!("skipped, since {c} exists"));
        out.set("rc", 0);
    }
    if skip_msg.is_none()
        && let Some(r) = &removes
        && !glob_matches(conn, &in_dir(r)).await?
    {
        skip_msg = Some(format!(
            "{shoulda} not run command since '{r}' does not exist"
        ));
        out.set("stdout", format!("skipped, since {r} does not exist"));
        out.set("rc", 0);
    }
    if let Some(m) = skip_msg {
        out.msg = Some(m);
        add_lines(&mut out);
        return Ok(out);
    }

    out.changed = true;
    let (rc, stdout, stderr);
    if ctx.check_mode {
        rc = 0;
        stdout = String::new();
        stderr = String::new();
        out.msg = Some("Command would have run if not in check mode".into());
        if creates.is_none() && removes.is_none() {
            out.skipped = true;
            out.changed = false;
        }
    } else {
        let argv = match &cmd {
            Cmd::Text(text) => {
                let sh = executable.clone().unwrap_or_else(|| "/bin/sh".into());
                vec![sh, "-c".into(), text.clone()]
            }
            Cmd::List(list) if shell => {
                let joined = list
                    .iter()
                    .map(|a| py_shlex_quote(a))
                    .collect::<Vec<_>>()
                    .join(" ");
                let sh = executable.clone().unwrap_or_else(|| "/bin/sh".into());
                vec![sh, "-c".into(), joined]
            }
            Cmd::List(list) if expand_vars => expand_user_and_vars(conn, list.clone()).await?,
            Cmd::List(list) => list.clone(),
        };
        let stdin = args.str("stdin").map(|mut s| {
            if !s.is_empty() && args.bool_or("stdin_add_newline", true) {
                s.push('\n');
            }
            s.into_bytes()
        });
        let mut req = ExecRequest {
            argv: argv.clone(),
            stdin,
            chdir: chdir.clone(),
            env: Vec::new(),
            read_only: false,
            short: false,
            hidden: Vec::new(),
        };
        keep_secrets_off_the_command_line(&mut req, shell, &mut warnings);
        if !warnings.is_empty() {
            out.set("warnings", Value::from(warnings.clone()));
        }
        let start = SystemTime::now();
        let res = conn.exec(&req).await;
        let end = SystemTime::now();
        let output = match res {
            Ok(o) => o,
            Err(e) => {
                let (errno, msg) = exec_error(&e, &argv)?;
                let mut fail = Outcome::failure(msg);
                fail.set("rc", errno);
                fail.set("stdout", "");
                fail.set("stderr", "");
                fail.set(
                    "cmd",
                    argv.iter()
                        .map(|a| py_shlex_quote(a))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                if !warnings.is_empty() {
                    fail.set("warnings", Value::from(warnings));
                }
                add_lines(&mut fail);
                return Ok(fail);
            }
        };
        let (start_us, end_us) = (epoch_micros(start), epoch_micros(end));
        out.set("start", py_datetime(start_us));
        out.set("end", py_datetime(end_us));
        out.set("delta", py_timedelta(end_us - start_us));
        rc = output.rc;
        stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    }
    let strip_ends = |s: String| {
        if strip {
            s.trim_end_matches(['\r', '\n']).to_owned()
        } else {
            s
        }
    };
    out.set("stdout", strip_ends(stdout));
    out.set("stderr", strip_ends(stderr));
    out.set("rc", rc);
    if rc != 0 {
        out.failed = true;
        out.msg = Some("non-zero return code".into());
    }
    add_lines(&mut out);
    Ok(out)
}

/// Turns a failure to start a program into Ansible's `(rc, msg)`:
/// `[Errno 2] No such file or directory: b'prog'`. Unreachable hosts stay errors.
/// The variable a shell script that holds a secret travels in.
const SCRIPT_VAR: &str = "HOIST_SHELL_SCRIPT";

/// A secret never goes onto the host's command line, where `ps` shows it
/// to every user: a shell script that holds one is passed in an
/// environment variable (which only its user can read) and evaluated by
/// the shell, so the shell's command line is the same for every script.
/// A program's own arguments cannot be hidden: holding a secret is
/// worth a warning.
fn keep_secrets_off_the_command_line(
    req: &mut ExecRequest,
    shell: bool,
    warnings: &mut Vec<String>,
) {
    if !req.argv.iter().any(|a| crate::secrets::contains(a)) {
        return;
    }
    if shell && req.argv.len() == 3 && req.argv[1] == "-c" {
        let script = std::mem::replace(
            &mut req.argv[2],
            format!("__hoist_c=${SCRIPT_VAR}; unset {SCRIPT_VAR}; eval \"$__hoist_c\""),
        );
        req.env.push((SCRIPT_VAR.to_owned(), script));
        return;
    }
    warnings.push(
        "An argument of this command holds a secret: other users of the host can see it \
         while the command runs (ps). Pass it on standard input (stdin:), in an environment \
         variable (environment:), or use the shell module."
            .to_owned(),
    );
}

pub(crate) fn exec_error(e: &ConnError, argv: &[String]) -> Result<(i64, String), ModuleError> {
    if e.kind == ConnErrorKind::Unreachable {
        return Err(ModuleError::Unreachable(e.msg.clone()));
    }
    let prog = argv.first().map(String::as_str).unwrap_or("");
    // The local connection reports "[Errno N] Description (os error N): 'prog'".
    if let Some(rest) = e.msg.strip_prefix("[Errno ")
        && let Some((num, text)) = rest.split_once("] ")
        && let Ok(errno) = num.parse::<i64>()
    {
        let text = text.split(" (os error").next().unwrap_or(text);
        let text = text.split(": '").next().unwrap_or(text);
        return Ok((errno, format!("[Errno {errno}] {text}: b'{prog}'")));
    }
    Ok((2, e.msg.clone()))
}

// ---------------------------------------------------------------------------
// Python's shlex.split / shlex.quote

/// Splits a command line as Python's `shlex.split` (POSIX mode, no comments).
pub(crate) fn py_shlex_split(s: &str) -> Result<Vec<String>, String> {
    #[derive(PartialEq)]
    enum St {
        Space,
        Word,
        Single,
        Double,
    }
    let mut out = Vec::new();
    let mut token = String::new();
    let mut has_token = false;
    let mut state = St::Space;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match state {
            St::Space | St::Word => match c {
                ' ' | '\t' | '\r' | '\n' => {
                    if has_token {
                        out.push(std::mem::take(&mut token));
                        has_token = false;
                    }
                    state = St::Space;
                }
                '\\' => {
                    let n = chars.next().ok_or("No escaped character")?;
                    token.push(n);
                    has_token = true;
                    state = St::Word;
                }
                '\'' => {
                    has_token = true;
                    state = St::Single;
                }
                '"' => {
                    has_token = true;
                    state = St::Double;
                }
                _ => {
                    token.push(c);
                    has_token = true;
                    state = St::Word;
                }
            },
            St::Single => {
                if c == '\'' {
                    state = St::Word;
                } else {
                    token.push(c);
                }
            }
            St::Double => match c {
                '"' => state = St::Word,
                '\\' => {
                    let n = chars.next().ok_or("No escaped character")?;
                    if n != '"' && n != '\\' {
                        token.push('\\');
                    }
                    token.push(n);
                }
                _ => token.push(c),
            },
        }
    }
    if state == St::Single || state == St::Double {
        return Err("No closing quotation".into());
    }
    if has_token {
        out.push(token);
    }
    Ok(out)
}

/// Python's `shlex.quote`.
pub(crate) fn py_shlex_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

/// Python's `str.splitlines()`.
pub(crate) fn py_splitlines(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => {
                out.push(std::mem::take(&mut cur));
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

// ---------------------------------------------------------------------------
// os.path.expanduser / os.path.expandvars, evaluated on the target

fn has_var_ref(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'$'
            && b.get(i + 1)
                .is_some_and(|&n| n == b'{' || n == b'_' || n.is_ascii_alphanumeric() || n >= 0x80)
    })
}

/// The target's environment (as a module process there would see it).
async fn target_env(conn: &dyn Connection) -> Result<HashMap<String, String>, ModuleError> {
    let mut env = HashMap::new();
    for (argv, sep) in [(vec!["env", "-0"], '\0'), (vec!["env"], '\n')] {
        match conn.exec(&ExecRequest::argv(argv).read_only()).await {
            Ok(o) if o.rc == 0 => {
                let text = String::from_utf8_lossy(&o.stdout);
                for entry in text.split(sep) {
                    if let Some((k, v)) = entry.split_once('=') {
                        env.insert(k.to_owned(), v.to_owned());
                    }
                }
                return Ok(env);
            }
            Ok(_) => continue,
            Err(e) if e.kind == ConnErrorKind::Unreachable => return Err(e.into()),
            Err(_) => continue,
        }
    }
    Ok(env)
}

/// Python's `os.path.expandvars` with the given environment.
pub(crate) fn py_expandvars(s: &str, env: &HashMap<String, String>) -> String {
    if !s.contains('$') {
        return s.to_owned();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            // `$name` (word characters) or `${anything but }}`.
            let (name, end) = if chars.get(i + 1) == Some(&'{') {
                match chars[i + 2..].iter().position(|&c| c == '}') {
                    Some(p) => (
                        chars[i + 2..i + 2 + p].iter().collect::<String>(),
                        i + 3 + p,
                    ),
                    None => (String::new(), i + 1),
                }
            } else {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                (chars[i + 1..j].iter().collect::<String>(), j)
            };
            if end > i + 1
                && let Some(v) = env.get(&name)
            {
                out.push_str(v);
                i = end;
                continue;
            }
            // Unknown or malformed: left as it is.
            out.extend(&chars[i..end.max(i + 1)]);
            i = end.max(i + 1);
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The home directory of `user` on the target.
async fn user_home(conn: &dyn Connection, user: &str) -> Result<Option<String>, ModuleError> {
    match conn
        .exec(&ExecRequest::argv(["getent", "passwd", user]).short())
        .await
    {
        Ok(o) if o.rc == 0 => {
            let text = String::from_utf8_lossy(&o.stdout);
            Ok(text
                .lines()
                .next()
                .and_then(|l| l.split(':').nth(5))
                .map(str::to_owned))
        }
        Ok(_) => Ok(None),
        Err(e) if e.kind == ConnErrorKind::Unreachable => Err(e.into()),
        Err(_) => Ok(None),
    }
}

/// Python's `os.path.expanduser` on the target.
async fn py_expanduser(
    conn: &dyn Connection,
    s: String,
    env: Option<&HashMap<String, String>>,
) -> Result<String, ModuleError> {
    if !s.starts_with('~') {
        return Ok(s);
    }
    let i = s[1..].find('/').map(|p| p + 1).unwrap_or(s.len());
    let home = if i == 1 {
        match env.and_then(|e| e.get("HOME")) {
            Some(h) => h.clone(),
            None => conn.home_dir().await?,
        }
    } else {
        match user_home(conn, &s[1..i]).await? {
            Some(h) => h,
            None => return Ok(s),
        }
    };
    let joined = format!("{}{}", home.trim_end_matches('/'), &s[i..]);
    Ok(if joined.is_empty() {
        "/".into()
    } else {
        joined
    })
}

/// What Ansible's `run_command` does to each argument: `expanduser(expandvars(arg))`,
/// with the target's environment.
pub(crate) async fn expand_user_and_vars(
    conn: &dyn Connection,
    args: Vec<String>,
) -> Result<Vec<String>, ModuleError> {
    let env = if args.iter().any(|a| has_var_ref(a)) {
        Some(target_env(conn).await?)
    } else {
        None
    };
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        let a = match &env {
            Some(e) => py_expandvars(&a, e),
            None => a,
        };
        out.push(py_expanduser(conn, a, env.as_ref()).await?);
    }
    Ok(out)
}

/// What Ansible's `type='path'` does to a parameter: `expanduser(expandvars(p))`.
pub(crate) async fn expand_path(conn: &dyn Connection, p: &str) -> Result<String, ModuleError> {
    let mut v = expand_user_and_vars(conn, vec![p.to_owned()]).await?;
    Ok(v.pop().unwrap_or_default())
}

// ---------------------------------------------------------------------------
// glob.glob on the target (creates/removes)

/// Python's `fnmatch.fnmatchcase` for one path component.
pub(crate) fn fnmatch(name: &str, pat: &str) -> bool {
    fn class_end(p: &[char], start: usize) -> Option<usize> {
        // `start` is just after '['.
        let mut j = start;
        if p.get(j) == Some(&'!') {
            j += 1;
        }
        if p.get(j) == Some(&']') {
            j += 1;
        }
        while j < p.len() && p[j] != ']' {
            j += 1;
        }
        (j < p.len()).then_some(j)
    }
    fn class_matches(class: &[char], c: char) -> bool {
        let (neg, body) = match class.first() {
            Some('!') => (true, &class[1..]),
            _ => (false, class),
        };
        let mut hit = false;
        let mut k = 0;
        while k < body.len() {
            if k + 2 < body.len() && body[k + 1] == '-' {
                if body[k] <= c && c <= body[k + 2] {
                    hit = true;
                }
                k += 3;
            } else {
                if body[k] == c {
                    hit = true;
                }
                k += 1;
            }
        }
        hit != neg
    }
    fn go(n: &[char], p: &[char]) -> bool {
        let Some(&first) = p.first() else {
            return n.is_empty();
        };
        match first {
            '*' => (0..=n.len()).any(|k| go(&n[k..], &p[1..])),
            '?' => !n.is_empty() && go(&n[1..], &p[1..]),
            '[' => match class_end(p, 1) {
                Some(end) => {
                    !n.is_empty() && class_matches(&p[1..end], n[0]) && go(&n[1..], &p[end + 1..])
                }
                None => n.first() == Some(&'[') && go(&n[1..], &p[1..]),
            },
            c => n.first() == Some(&c) && go(&n[1..], &p[1..]),
        }
    }
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pat.chars().collect();
    go(&n, &p)
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `os.path.split`.
fn py_split(p: &str) -> (String, String) {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (head, tail) = p.split_at(i);
    let head = if !head.is_empty() && !head.chars().all(|c| c == '/') {
        head.trim_end_matches('/')
    } else {
        head
    };
    (head.to_owned(), tail.to_owned())
}

/// Python's `glob.glob(pattern)` evaluated through the connection.
pub(crate) async fn py_glob(
    conn: &dyn Connection,
    pattern: &str,
) -> Result<Vec<String>, ModuleError> {
    if !has_magic(pattern) {
        let exists = if pattern.ends_with('/') {
            conn.stat(pattern, true)
                .await?
                .is_some_and(|s| s.kind == FileKind::Directory)
        } else {
            conn.stat(pattern, false).await?.is_some()
        };
        return Ok(if exists {
            vec![pattern.to_owned()]
        } else {
            Vec::new()
        });
    }
    let (dirname, basename) = py_split(pattern);
    let dirs: Vec<String> = if dirname.is_empty() {
        vec![String::new()]
    } else if dirname != pattern && has_magic(&dirname) {
        Box::pin(py_glob(conn, &dirname)).await?
    } else {
        vec![dirname.clone()]
    };
    let mut out = Vec::new();
    for dir in dirs {
        let join = |name: &str| {
            if dir.is_empty() {
                name.to_owned()
            } else if dir.ends_with('/') {
                format!("{dir}{name}")
            } else {
                format!("{dir}/{name}")
            }
        };
        if has_magic(&basename) {
            let listing = if dir.is_empty() { "." } else { dir.as_str() };
            let names = match conn.list_dir(listing).await {
                Ok(n) => n,
                Err(e) if e.kind == ConnErrorKind::Unreachable => return Err(e.into()),
                Err(_) => continue,
            };
            for name in names {
                if name.starts_with('.') && !basename.starts_with('.') {
                    continue;
                }
                if fnmatch(&name, &basename) {
                    out.push(join(&name));
                }
            }
        } else if basename.is_empty() {
            if conn
                .stat(&dir, true)
                .await?
                .is_some_and(|s| s.kind == FileKind::Directory)
            {
                out.push(join(""));
            }
        } else if conn.stat(&join(&basename), false).await?.is_some() {
            out.push(join(&basename));
        }
    }
    Ok(out)
}

async fn glob_matches(conn: &dyn Connection, pattern: &str) -> Result<bool, ModuleError> {
    Ok(!py_glob(conn, pattern).await?.is_empty())
}

// ---------------------------------------------------------------------------
// Local time, formatted as Python's datetime/timedelta print

/// Broken-down local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LocalTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

pub(crate) fn epoch_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

/// Days since the epoch to a proleptic Gregorian date.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The controller's local time for a moment given in microseconds since the epoch.
pub(crate) fn local_time_micros(us: i64) -> LocalTime {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000) as u32;
    let mut offset = 0i64;
    let t = secs as nix::libc::time_t;
    // SAFETY: localtime_r only writes into the `tm` we own and reads `t`;
    // an all-zero `tm` is a valid value for the C struct.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !nix::libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        offset = tm.tm_gmtoff;
    }
    let local = secs + offset;
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let rem = local.rem_euclid(86_400);
    LocalTime {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
        micros,
    }
}

/// `str(datetime)`: `2024-01-02 03:04:05.123456` (no fraction when zero).
pub(crate) fn py_datetime(us: i64) -> String {
    let t = local_time_micros(us);
    let mut s = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    if t.micros != 0 {
        s.push_str(&format!(".{:06}", t.micros));
    }
    s
}

/// `str(timedelta)`: `0:00:00.001234`, `1 day, 2:03:04`.
pub(crate) fn py_timedelta(us: i64) -> String {
    let days = us.div_euclid(86_400_000_000);
    let rem = us.rem_euclid(86_400_000_000);
    let secs = rem / 1_000_000;
    let micros = rem % 1_000_000;
    let mut s = String::new();
    if days != 0 {
        let plural = if days.abs() != 1 { "s" } else { "" };
        s.push_str(&format!("{days} day{plural}, "));
    }
    s.push_str(&format!(
        "{}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ));
    if micros != 0 {
        s.push_str(&format!(".{micros:06}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::{TestEnv, run};

    fn env(dir: &std::path::Path) -> TestEnv {
        TestEnv::new(dir, &[])
    }

    fn s(out: &Outcome, key: &str) -> String {
        out.data
            .get(key)
            .map(crate::template::py_str)
            .unwrap_or_default()
    }

    #[test]
    fn shlex_split_matches_python() {
        assert_eq!(py_shlex_split("echo a  b").unwrap(), ["echo", "a", "b"]);
        assert_eq!(
            py_shlex_split("echo 'a b' \"c d\"").unwrap(),
            ["echo", "a b", "c d"]
        );
        assert_eq!(
            py_shlex_split(r#"echo "a\"b" 'c\d' e\ f"#).unwrap(),
            ["echo", "a\"b", "c\\d", "e f"]
        );
        assert_eq!(
            py_shlex_split(r#"x "\$y" "\\""#).unwrap(),
            ["x", "\\$y", "\\"]
        );
        assert_eq!(py_shlex_split("a '' b").unwrap(), ["a", "", "b"]);
        assert_eq!(py_shlex_split("a#b #c").unwrap(), ["a#b", "#c"]);
        assert_eq!(py_shlex_split("pre'fix'\"x\"").unwrap(), ["prefixx"]);
        assert!(py_shlex_split("echo 'oops").is_err());
        assert!(py_shlex_split("echo \\").is_err());
    }

    #[test]
    fn quote_and_splitlines() {
        assert_eq!(py_shlex_quote("abc"), "abc");
        assert_eq!(py_shlex_quote(""), "''");
        assert_eq!(py_shlex_quote("a b"), "'a b'");
        assert_eq!(py_shlex_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(py_splitlines("a\nb\r\nc\rd\n"), ["a", "b", "c", "d"]);
        assert_eq!(py_splitlines(""), Vec::<String>::new());
        assert_eq!(py_splitlines("a\n\nb"), ["a", "", "b"]);
    }

    #[test]
    fn expandvars_matches_python() {
        let env: HashMap<String, String> = [
            ("HOME".to_string(), "/home/u".to_string()),
            ("X_1".into(), "v".into()),
        ]
        .into_iter()
        .collect();
        assert_eq!(py_expandvars("$HOME/a", &env), "/home/u/a");
        assert_eq!(py_expandvars("${HOME}x", &env), "/home/ux");
        assert_eq!(py_expandvars("$X_1$X_1", &env), "vv");
        assert_eq!(
            py_expandvars("$NOPE and $ and ${} ${open", &env),
            "$NOPE and $ and ${} ${open"
        );
        assert_eq!(py_expandvars("cost: 5$", &env), "cost: 5$");
    }

    #[test]
    fn fnmatch_cases() {
        assert!(fnmatch("foo.txt", "*.txt"));
        assert!(fnmatch("a", "?"));
        assert!(!fnmatch("ab", "?"));
        assert!(fnmatch("b", "[abc]"));
        assert!(!fnmatch("b", "[!abc]"));
        assert!(fnmatch("5", "[0-9]"));
        assert!(fnmatch("[x", "[x"));
        assert!(fnmatch("]", "[]]"));
    }

    #[test]
    fn time_formats() {
        assert_eq!(py_timedelta(1234), "0:00:00.001234");
        assert_eq!(py_timedelta(3_723_000_000), "1:02:03");
        assert_eq!(py_timedelta(86_400_000_000 + 1), "1 day, 0:00:00.000001");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[tokio::test]
    async fn runs_without_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(dir.path());
        let out = run(
            &Command,
            r#"_raw_params: printf '%s|' "a b" 'c"d' '$NOT_DEFINED_HOIST_X' ';' '*' "it's""#,
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(!out.failed, "{out:?}");
        assert!(out.changed);
        assert_eq!(s(&out, "stdout"), "a b|c\"d|$NOT_DEFINED_HOIST_X|;|*|it's|");
        assert_eq!(s(&out, "rc"), "0");
        assert_eq!(
            out.data.get("cmd").unwrap(),
            &Value::from(vec![
                "printf",
                "%s|",
                "a b",
                "c\"d",
                "$NOT_DEFINED_HOIST_X",
                ";",
                "*",
                "it's"
            ])
        );
        assert_eq!(out.msg.as_deref(), Some(""));
        let delta = s(&out, "delta");
        assert!(delta.starts_with("0:00:0"), "{delta}");
        let start = s(&out, "start");
        assert!(start.len() == 26 || start.len() == 19, "{start}");
        assert_eq!(&start[4..5], "-");
    }

    #[tokio::test]
    async fn expands_defined_vars_unless_told_not_to() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(dir.path());
        let home = std::env::var("HOME").unwrap_or_default();
        let out = run(&Command, "_raw_params: echo $HOME ~", &e, false, false)
            .await
            .unwrap();
        assert_eq!(s(&out, "stdout"), format!("{home} {home}"));
        let out = run(
            &Command,
            "_raw_params: echo $HOME\nexpand_argument_vars: false",
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(s(&out, "stdout"), "$HOME");
    }

    #[tokio::test]
    async fn argv_and_cmd_forms() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(dir.path());
        let out = run(
            &Command,
            "argv: [echo, 'two words', 'x;y']",
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(s(&out, "stdout"), "two words x;y");
        assert_eq!(
            out.data.get("cmd").unwrap(),
            &Value::from(vec!["echo", "two words", "x;y"])
        );
        let out = run(&Command, "cmd: echo hi", &e, false, false)
            .await
            .unwrap();
        assert_eq!(s(&out, "stdout"), "hi");
        assert_eq!(
            out.data.get("stdout_lines").unwrap(),
            &Value::from(vec!["hi"])
        );
        let out = run(&Command, "cmd: echo hi\nargv: [echo]", &e, false, false)
            .await
            .unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some("only command or argv can be given, not both")
        );
        assert_eq!(s(&out, "rc"), "256");
        let out = run(&Command, "chdir: /tmp", &e, false, false)
            .await
            .unwrap();
        assert!(out.failed);
        assert_eq!(out.msg.as_deref(), Some("no command given"));
    }

    #[tokio::test]
    async fn nonzero_rc_fails_with_output() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(dir.path());
        let out = run(
            &Command,
            "_raw_params: ls /definitely/not/here",
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);
        assert!(out.changed);
        assert_eq!(out.msg.as_deref(), Some("non-zero return code"));
        assert_ne!(s(&out, "rc"), "0");
        assert!(s(&out, "stderr").contains("/definitely/not/here"));
        assert_eq!(s(&out, "stdout"), "");
        assert_eq!(
            out.data.get("stdout_lines").unwrap(),
            &Value::from(Vec::<String>::new())
        );
    }

    #[tokio::test]
    async fn missing_program() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(dir.path());
        let out = run(
            &Command,
            "_raw_params: hoist-no-such-program --x",
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);
        assert!(!out.changed);
        assert_eq!(s(&out, "rc"), "2");
        assert_eq!(
            out.msg.as_deref(),
            Some("[Errno 2] No such file or directory: b'hoist-no-such-program'")
        );
    }

    #[tokio::test]
    async fn chdir_stdin_and_strip() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(dir.path());
        std::fs::write(dir.path().join("marker"), "").unwrap();
        let y = format!("_raw_params: ls\nchdir: {}", dir.path().display());
        let out = run(&Command, &y, &e, false, false).await.unwrap();
        assert_eq!(s(&out, "stdout"), "marker");
        let out = run(&Command, "_raw_params: cat\nstdin: hello", &e, false, false)
            .await
            .unwrap();
        assert_eq!(s(&out, "stdout"), "hello");
        let out = run(
            &Command,
            "_raw_params: cat\nstdin: hello\nstrip_empty_ends: false",
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(s(&out, "stdout"), "hello\n");
        let out = run(
            &Command,
            "_raw_params: cat\nstdin: hello\nstrip_empty_ends: false\nstdin_add_newline: false",
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(s(&out, "stdout"), "hello");
        let out = run(
            &Command,
            "_raw_params: ls\nchdir: /hoist/nope",
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some(
                "Unable to change directory before execution: [Errno 2] No such file or directory: b'/hoist/nope'"
            )
        );
    }

    #[tokio::test]
    async fn creates_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(dir.path());
        let d = dir.path().display();
        std::fs::write(dir.path().join("there.txt"), "").unwrap();
        let out = run(
            &Command,
            &format!("_raw_params: echo ran\ncreates: {d}/there.txt"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(!out.changed && !out.failed && !out.skipped);
        assert_eq!(
            out.msg.as_deref(),
            Some(format!("Did not run command since '{d}/there.txt' exists").as_str())
        );
        assert_eq!(
            s(&out, "stdout"),
            format!("skipped, since {d}/there.txt exists")
        );
        assert_eq!(s(&out, "rc"), "0");
        // Glob patterns, and relative paths resolved against chdir.
        let out = run(
            &Command,
            &format!("_raw_params: echo ran\ncreates: {d}/*.txt"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(!out.changed);
        let out = run(
            &Command,
            &format!("_raw_params: echo ran\ncreates: '*.txt'\nchdir: {d}"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(!out.changed);
        let out = run(
            &Command,
            &format!("_raw_params: echo ran\ncreates: {d}/*.log"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert_eq!(s(&out, "stdout"), "ran");
        let out = run(
            &Command,
            &format!("_raw_params: echo ran\nremoves: {d}/gone"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(!out.changed);
        assert_eq!(
            out.msg.as_deref(),
            Some(format!("Did not run command since '{d}/gone' does not exist").as_str())
        );
        let out = run(
            &Command,
            &format!("_raw_params: echo ran\nremoves: {d}/there.txt"),
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
    }

    #[tokio::test]
    async fn check_mode() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(dir.path());
        let d = dir.path().display();
        let target = dir.path().join("made");
        let y = format!("_raw_params: touch {}", target.display());
        let out = run(&Command, &y, &e, true, false).await.unwrap();
        assert!(out.skipped && !out.changed && !out.failed);
        assert_eq!(
            out.msg.as_deref(),
            Some("Command would have run if not in check mode")
        );
        assert!(!target.exists());
        let out = run(
            &Command,
            &format!("{y}\ncreates: {}", target.display()),
            &e,
            true,
            false,
        )
        .await
        .unwrap();
        assert!(!out.skipped && out.changed);
        assert_eq!(s(&out, "rc"), "0");
        assert!(!target.exists());
        std::fs::write(&target, "").unwrap();
        let out = run(
            &Command,
            &format!("{y}\ncreates: {d}/made"),
            &e,
            true,
            false,
        )
        .await
        .unwrap();
        assert!(!out.changed);
        assert_eq!(
            out.msg.as_deref(),
            Some(format!("Would not run command since '{d}/made' exists").as_str())
        );
    }

    #[tokio::test]
    async fn executable_is_ignored_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(dir.path());
        let out = run(
            &Command,
            "_raw_params: echo $0\nexecutable: /bin/bash",
            &e,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(s(&out, "stdout"), "$0");
        assert!(s(&out, "warnings").contains("no longer supported"));
    }
}
