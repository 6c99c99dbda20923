//! `sysctl` (ansible.posix): a kernel parameter in a sysctl file and,
//! with `sysctl_set`/`reload`, its live value, as that module does on
//! Linux (`sysctl -e -n`, `sysctl -w`, `sysctl -p FILE`).

use async_trait::async_trait;

use super::command::expand_path;
use super::lineinfile::resolve_links;
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleError, ModuleResult, ModuleSpec, Outcome,
    Param, ParamType,
};
use crate::connection::{Connection, ExecRequest, FileAttrs, FileKind};

pub struct Sysctl;

static SPEC: ModuleSpec = ModuleSpec {
    name: "sysctl",
    params: &[
        Param::new("name", ParamType::Str)
            .required()
            .aliases(&["key"]),
        Param::new("value", ParamType::Str).aliases(&["val"]),
        Param::new("state", ParamType::Str).choices(&["present", "absent"]),
        Param::new("reload", ParamType::Bool),
        Param::new("sysctl_set", ParamType::Bool),
        Param::new("ignoreerrors", ParamType::Bool),
        Param::new("sysctl_file", ParamType::Path),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Set a kernel parameter in a sysctl file and, if asked, its live value.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[],
};

/// The module's `_parse_value`: booleans become 1/0, the rest is stripped.
pub(crate) fn parse_value(v: &str) -> String {
    match v.to_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => "1".into(),
        "n" | "no" | "off" | "0" | "false" | "f" => "0".into(),
        _ => v.trim().to_owned(),
    }
}

fn values_equal(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// The file's lines as read (stripped) and the values they set.
pub(crate) struct SysctlFile {
    pub lines: Vec<String>,
    pub values: Vec<(String, String)>,
}

fn is_setting(line: &str) -> bool {
    let t = line.trim();
    !(t.is_empty() || t.starts_with('#') || t.starts_with(';') || !t.contains('='))
}

pub(crate) fn parse_file(text: &str) -> SysctlFile {
    let mut lines = Vec::new();
    let mut values: Vec<(String, String)> = Vec::new();
    for raw in text.split_inclusive('\n') {
        let line = raw.trim().to_owned();
        if is_setting(&line)
            && let Some((k, v)) = line.split_once('=')
        {
            let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
            match values.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => values.push((k, v)),
            }
        }
        lines.push(line);
    }
    SysctlFile { lines, values }
}

/// `fix_lines`: every setting as `k=v` (first occurrence only), the named
/// one set or dropped, appended when missing.
pub(crate) fn fix_lines(file: &SysctlFile, name: &str, value: &str, present: bool) -> String {
    let mut checked: Vec<String> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for line in &file.lines {
        let Some((k, v)) = line.split_once('=').filter(|_| is_setting(line)) else {
            out.push(line.clone());
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if checked.iter().any(|c| c == k) {
            continue;
        }
        checked.push(k.to_owned());
        if k == name {
            if present {
                out.push(format!("{k}={value}"));
            }
        } else {
            out.push(format!("{k}={v}"));
        }
    }
    if present && !checked.iter().any(|c| c == name) {
        out.push(format!("{name}={value}"));
    }
    out.iter().map(|l| format!("{}\n", l.trim())).collect()
}

fn lang_c(argv: Vec<String>) -> ExecRequest {
    let mut req = ExecRequest::argv(argv);
    req.env = ["LANG", "LC_ALL", "LC_MESSAGES"]
        .iter()
        .map(|k| ((*k).to_owned(), "C".to_owned()))
        .collect();
    req
}

fn stderr_failed(err: &str) -> bool {
    err.lines().any(|l| {
        l.starts_with("sysctl: setting key \"")
            && (l.ends_with("\": Invalid argument") || l.ends_with("\": Read-only file system"))
    })
}

async fn run_sysctl(
    conn: &dyn Connection,
    argv: Vec<String>,
) -> Result<(i32, String), ModuleError> {
    let r = conn.exec(&lang_c(argv)).await?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    let rc = if stderr_failed(&String::from_utf8_lossy(&r.stderr)) && r.rc == 0 {
        1
    } else {
        r.rc
    };
    Ok((rc, text))
}

#[async_trait]
impl Module for Sysctl {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        let conn = ctx.conn;
        let present = args.str_or("state", "present") == "present";
        let name = args.str_or("name", "").trim().to_owned();
        let raw_value = args.str("value");
        if present && raw_value.is_none() {
            return Ok(Outcome::failure(
                "state is present but all of the following are missing: value",
            ));
        }
        if name.is_empty() {
            return Ok(Outcome::failure("name cannot be blank"));
        }
        if present && raw_value.as_deref() == Some("") {
            return Ok(Outcome::failure("value cannot be blank"));
        }
        let value = raw_value.as_deref().map(parse_value).unwrap_or_default();
        let reload = args.bool_or("reload", true);
        let sysctl_set = args.bool_or("sysctl_set", false);
        let ignore = args.bool_or("ignoreerrors", false);
        let file = expand_path(conn, &args.str_or("sysctl_file", "/etc/sysctl.conf")).await?;

        let probe = conn
            .exec(
                &lang_c(vec![
                    "sysctl".into(),
                    "-e".into(),
                    "-n".into(),
                    name.clone(),
                ])
                .short(),
            )
            .await?;
        let proc_value =
            (probe.rc == 0).then(|| String::from_utf8_lossy(&probe.stdout).into_owned());

        let text = match conn.stat(&file, true).await? {
            Some(st) if st.kind == FileKind::File => conn
                .read_file(&file)
                .await?
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let parsed = parse_file(&text);
        let file_value = parsed
            .values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone());
        let new_text = fix_lines(&parsed, &name, &value, present);

        let mut changed = false;
        let mut write_file = false;
        let mut set_proc = false;
        match (&file_value, present) {
            (None, true) => {
                changed = true;
                write_file = true;
            }
            (None, false) => {}
            (Some(v), false) if !v.is_empty() => {
                changed = true;
                write_file = true;
            }
            (Some(v), _) if *v != value => {
                changed = true;
                write_file = true;
            }
            _ => {
                if reload
                    && proc_value
                        .as_deref()
                        .is_none_or(|p| !values_equal(p, &value))
                {
                    changed = true;
                }
            }
        }
        if sysctl_set && present {
            match &proc_value {
                None => changed = true,
                Some(p) if !values_equal(p, &value) => {
                    changed = true;
                    set_proc = true;
                }
                Some(_) => {}
            }
        }
        if !ctx.check_mode && !ctx.predict {
            if set_proc {
                let mut argv = vec!["sysctl".to_owned()];
                if ignore {
                    argv.push("-e".into());
                }
                argv.push("-w".into());
                argv.push(format!("{name}={value}"));
                let (rc, text) = run_sysctl(conn, argv).await?;
                if rc != 0 {
                    return Ok(Outcome::failure(format!("setting {name} failed: {text}")));
                }
            }
            if write_file {
                let real = resolve_links(conn, &file).await?;
                let exists = conn.stat(&real, true).await?.is_some();
                let attrs = FileAttrs {
                    mode: (!exists).then_some(0o644),
                    ..FileAttrs::default()
                };
                conn.write_file(&real, new_text.as_bytes(), &attrs).await?;
            }
            if changed && reload {
                let mut argv = vec!["sysctl".to_owned()];
                if ignore {
                    argv.push("-e".into());
                }
                argv.push("-p".into());
                argv.push(file.clone());
                let (rc, text) = run_sysctl(conn, argv).await?;
                if rc != 0 {
                    return Ok(Outcome::failure(format!("Failed to reload sysctl: {text}")));
                }
            }
        }
        Ok(Outcome::changed(changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_rewrite_as_the_module() {
        let f = parse_file("# c\nnet.a = 1\n\nnet.b=2\nnet.a=3\n");
        assert_eq!(
            f.values,
            [("net.a".into(), "3".into()), ("net.b".into(), "2".into())]
        );
        assert_eq!(
            fix_lines(&f, "net.b", "5", true),
            "# c\nnet.a=1\n\nnet.b=5\n"
        );
        assert_eq!(
            fix_lines(&f, "net.c", "x y", true),
            "# c\nnet.a=1\n\nnet.b=2\nnet.c=x y\n"
        );
        assert_eq!(fix_lines(&f, "net.a", "", false), "# c\n\nnet.b=2\n");
        assert_eq!(parse_value("Yes"), "1");
        assert_eq!(parse_value(" 4 5 "), "4 5");
        assert!(values_equal("4\t5\n", "4 5"));
    }
}
