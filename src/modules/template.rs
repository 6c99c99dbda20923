//! `template`: render a Jinja template from the controller and put the
//! result on the target, as Ansible's `ansible.builtin.template` does (the
//! rendered text then goes through the same path as `copy`).

use std::sync::OnceLock;

use async_trait::async_trait;
use minijinja::Value;

use super::copy::{CopyOpts, Source, copy_file, format_time};
use super::file::{COMMON, SResult, basename, expand_user, fail, finish, now, refuse_unsupported};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};

pub struct Template;

static PARAMS: [Param; 25] = [
    Param::new("src", ParamType::Path).required(),
    Param::new("dest", ParamType::Path).required(),
    Param::new("backup", ParamType::Bool),
    Param::new("force", ParamType::Bool),
    Param::new("validate", ParamType::Str),
    Param::new("follow", ParamType::Bool),
    Param::new("newline_sequence", ParamType::Str),
    Param::new("trim_blocks", ParamType::Bool),
    Param::new("lstrip_blocks", ParamType::Bool),
    Param::new("output_encoding", ParamType::Str),
    Param::new("block_start_string", ParamType::Str),
    Param::new("block_end_string", ParamType::Str),
    Param::new("variable_start_string", ParamType::Str),
    Param::new("variable_end_string", ParamType::Str),
    Param::new("comment_start_string", ParamType::Str),
    Param::new("comment_end_string", ParamType::Str),
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    COMMON[4],
    COMMON[5],
    COMMON[6],
    COMMON[7],
    COMMON[8],
];

static SPEC: ModuleSpec = ModuleSpec {
    name: "template",
    params: &PARAMS,
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Render a Jinja2 template from the controller into a file on the target.",
    check_note: "",
    diff: DiffSupport::Yes,
    notes: &[
        "Rendered by hoist's templating: minijinja with Ansible's rules (see the guide's \
         Templating section).",
        "Refused: `trim_blocks: false`, `lstrip_blocks: true`, delimiters other than Jinja's \
         (`block_start_string` …), an `output_encoding` other than UTF-8.",
        super::file::NOTE_ATTRS_REFUSED,
    ],
};

/// Ansible's default `DEFAULT_MANAGED_STR`.
const ANSIBLE_MANAGED: &str = "Ansible managed";

/// The controller's host name (`os.uname()[1]`).
fn controller_hostname() -> String {
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            return h.to_owned();
        }
    }
    std::process::Command::new("uname")
        .arg("-n")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The controller's current UTC offset in seconds (from `date +%z`).
fn local_offset() -> i64 {
    static OFFSET: OnceLock<i64> = OnceLock::new();
    *OFFSET.get_or_init(|| {
        let out = std::process::Command::new("date").arg("+%z").output().ok();
        let text = out
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let (sign, digits) = match text.strip_prefix('-') {
            Some(d) => (-1, d),
            None => (1, text.strip_prefix('+').unwrap_or(&text)),
        };
        if digits.len() != 4 {
            return 0;
        }
        let h: i64 = digits[..2].parse().unwrap_or(0);
        let m: i64 = digits[2..].parse().unwrap_or(0);
        sign * (h * 3600 + m * 60)
    })
}

/// Python's `str(datetime.fromtimestamp(t))` on the controller.
fn py_datetime(t: f64) -> String {
    let base = format_time(t, local_offset(), ' ');
    let micros = ((t - t.floor()) * 1e6).round() as u64;
    if micros == 0 || micros >= 1_000_000 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

/// Renders a template's text as Ansible's template action does. The
/// templating engine normalizes newlines, drops the final one and restores
/// the trailing newlines of a string result (a file that is one expression
/// of another type, like `{{ port }}\n`, is written without them); output
/// newlines are then put in `newline_sequence`. Text without Jinja markup
/// is not templated at all, so it is written as it is.
fn render(
    ctx: &ModuleCtx<'_>,
    text: &str,
    extra: &[(&str, Value)],
    file: &std::path::Path,
    newline: &str,
) -> Result<String, String> {
    let out = ctx.env.render_template(text, extra, file)?;
    Ok(if newline == "\n" || !crate::template::is_template(text) {
        out
    } else {
        out.replace('\n', newline)
    })
}

async fn run_template(args: &Args, ctx: &ModuleCtx<'_>) -> SResult<Outcome> {
    refuse_unsupported(args)?;
    let src = args.str("src").unwrap_or_default();
    let dest = args.str("dest").unwrap_or_default();
    if src.is_empty() || dest.is_empty() {
        return Err(fail("src and dest are required"));
    }
    let newline = match args.str("newline_sequence").as_deref() {
        None | Some("\n") | Some("\\n") => "\n",
        Some("\r") | Some("\\r") => "\r",
        Some("\r\n") | Some("\\r\\n") => "\r\n",
        Some(_) => return Err(fail("newline_sequence needs to be one of: \n, \r or \r\n")),
    };
    if !args.bool_or("trim_blocks", true) {
        return Err(fail("trim_blocks: false is not supported by hoist yet"));
    }
    if args.bool_or("lstrip_blocks", false) {
        return Err(fail("lstrip_blocks: true is not supported by hoist yet"));
    }
    for (name, default) in [
        ("block_start_string", "{%"),
        ("block_end_string", "%}"),
        ("variable_start_string", "{{"),
        ("variable_end_string", "}}"),
        ("comment_start_string", "{#"),
        ("comment_end_string", "#}"),
    ] {
        if args.str(name).is_some_and(|v| v != default) {
            return Err(fail(format!(
                "{name} other than '{default}' is not supported by hoist yet"
            )));
        }
    }
    if let Some(enc) = args.str("output_encoding") {
        let e = enc.to_ascii_lowercase().replace('_', "-");
        if !e.is_empty() && e != "utf-8" && e != "utf8" {
            return Err(fail(format!(
                "output_encoding {enc} is not supported by hoist yet (only utf-8)"
            )));
        }
    }

    let Some(found) = ctx.env.find_file("templates", &src) else {
        return Err(fail(format!(
            "Could not find or access '{src}' on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option"
        )));
    };
    let found = std::path::absolute(&found).unwrap_or(found);
    let fullpath = found.to_string_lossy().into_owned();
    let meta = std::fs::metadata(&found)
        .map_err(|e| fail(format!("could not find src={fullpath}, {e}")))?;
    if meta.is_dir() {
        return Err(fail(format!(
            "IsADirectoryError: [Errno 21] Is a directory: '{fullpath}'"
        )));
    }
    let bytes =
        std::fs::read(&found).map_err(|e| fail(format!("could not find src={fullpath}, {e}")))?;
    // A vaulted template is decrypted, as Ansible's loader does.
    let bytes = crate::vault::decrypt_file_data(bytes, &fullpath).map_err(fail)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = crate::yaml::utf8_diagnostic(&fullpath, e.as_bytes(), e.utf8_error());
        let place = at.span.map(|s| s.to_string()).unwrap_or_default();
        fail(format!(
            "Template source files must be utf-8 encoded ({place}: {})",
            at.message
        ))
    })?;

    use std::os::unix::fs::MetadataExt;
    let src_mode = meta.mode() & 0o7777;
    let uid = meta.uid();
    let template_uid = crate::connection::local::user_name(uid).unwrap_or_else(|| uid.to_string());
    let mtime = meta.mtime() as f64 + meta.mtime_nsec() as f64 / 1e9;
    let dest = expand_user(ctx, &dest).await?;
    let extra: Vec<(&str, Value)> = vec![
        ("template_host", Value::from(controller_hostname())),
        ("template_path", Value::from(src.as_str())),
        ("template_mtime", Value::from(py_datetime(mtime))),
        ("template_uid", Value::from(template_uid)),
        ("template_run_date", Value::from(py_datetime(now()))),
        ("template_destpath", Value::from(dest.as_str())),
        ("template_fullpath", Value::from(fullpath.as_str())),
        ("ansible_managed", Value::from(ANSIBLE_MANAGED)),
    ];
    // A syntax error says only "template line N": name the file too.
    // Other errors keep ansible-core's wording.
    let rendered = render(ctx, &text, &extra, &found, newline).map_err(|e| {
        if e.starts_with("template syntax error") {
            fail(format!("{fullpath}: {e}"))
        } else {
            fail(e)
        }
    })?;

    let mut opts = CopyOpts::from_args(args);
    // The template action hands a rendered file to copy: follow defaults off.
    opts.follow = args.bool_or("follow", false);
    let source = Source {
        data: rendered.into_bytes(),
        rel: basename(&fullpath),
        diff_header: fullpath.clone(),
        is_content: false,
        src_report: Some(fullpath.clone()),
        src_mode: Some(src_mode),
        keep_stat: None,
    };
    Ok(match copy_file(ctx, &opts, &source, &dest).await? {
        Some(out) => out,
        None => Outcome::changed(false)
            .with("dest", dest.as_str())
            .with("src", fullpath.as_str()),
    })
}

#[async_trait]
impl Module for Template {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        finish(run_template(args, ctx).await)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::modules::FileDiff;
    use crate::modules::testing::{TestEnv, run};
    use crate::template::py_str;

    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn s(out: &Outcome, key: &str) -> String {
        out.data.get(key).map(py_str).unwrap_or_default()
    }

    fn setup(name: &str, text: &str) -> (tempfile::TempDir, TestEnv) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("templates")).unwrap();
        std::fs::write(tmp.path().join("templates").join(name), text).unwrap();
        let env = TestEnv::new(
            tmp.path(),
            &[
                ("port", Value::from(8080)),
                (
                    "names",
                    Value::from(vec![Value::from("a"), Value::from("b")]),
                ),
            ],
        );
        (tmp, env)
    }

    #[tokio::test]
    async fn renders_once_then_unchanged() {
        let text = "# {{ ansible_managed }}\nport={{ port }}\n{% for n in names %}\nname={{ n }}\n{% endfor %}\n";
        let (tmp, env) = setup("app.conf.j2", text);
        let dest = tmp.path().join("app.conf");
        let args = format!("src: app.conf.j2\ndest: {}\nmode: '0640'\n", dest.display());
        let want = "# Ansible managed\nport=8080\nname=a\nname=b\n";

        let out = run(&Template, &args, &env, true, true).await.unwrap();
        assert!(out.changed);
        assert!(!dest.exists());
        let src_path = tmp.path().join("templates/app.conf.j2");
        assert_eq!(
            out.diffs,
            vec![FileDiff {
                before_header: "before".into(),
                after_header: format!("after: {}", src_path.display()),
                before: String::new(),
                after: want.into(),
            }]
        );

        let out = run(&Template, &args, &env, false, false).await.unwrap();
        assert!(out.changed, "{out:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), want);
        assert_eq!(mode_of(&dest), 0o640);
        assert_eq!(s(&out, "dest"), dest.display().to_string());
        assert_eq!(s(&out, "mode"), "0640");

        let out = run(&Template, &args, &env, false, true).await.unwrap();
        assert!(!out.changed);
        assert!(out.diffs.is_empty());

        // A changed variable: the diff is against the file on the target.
        std::fs::write(&dest, "port=1\n").unwrap();
        let out = run(&Template, &args, &env, true, true).await.unwrap();
        assert!(out.changed);
        assert_eq!(
            out.diffs[0].before_header,
            format!("before: {}", dest.display())
        );
        assert_eq!(out.diffs[0].before, "port=1\n");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "port=1\n");
    }

    #[tokio::test]
    async fn trailing_newlines_and_newline_sequence() {
        let (tmp, env) = setup("t.j2", "a\r\nb={{ port }}\n\n");
        let dest = tmp.path().join("t");
        let out = run(
            &Template,
            &format!("src: t.j2\ndest: {}\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "a\nb=8080\n\n");
        let out = run(
            &Template,
            &format!(
                "src: t.j2\ndest: {}\nnewline_sequence: '\\r\\n'\n",
                dest.display()
            ),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert_eq!(
            std::fs::read_to_string(&dest).unwrap(),
            "a\r\nb=8080\r\n\r\n"
        );
    }

    /// ansible-playbook 2.19 writes a file that is one integer expression
    /// without its newline, and text without Jinja markup as it is, even
    /// with `newline_sequence`.
    #[tokio::test]
    async fn one_expression_files_and_plain_text() {
        let (tmp, env) = setup("port.j2", "{{ port }}\n");
        std::fs::write(tmp.path().join("templates/plain.j2"), "a\r\nb\n").unwrap();
        for (src, extra, want) in [
            ("port.j2", "", "8080"),
            ("plain.j2", "newline_sequence: '\\r\\n'\n", "a\r\nb\n"),
        ] {
            let dest = tmp.path().join(src);
            let args = format!("src: {src}\ndest: {}\n{extra}", dest.display());
            let out = run(&Template, &args, &env, false, false).await.unwrap();
            assert!(out.changed, "{out:?}");
            assert_eq!(std::fs::read_to_string(&dest).unwrap(), want, "{src}");
        }
    }

    #[tokio::test]
    async fn template_vars_and_directory_dest() {
        let (tmp, env) = setup(
            "info.j2",
            "{{ template_path }} {{ template_destpath }} {{ template_fullpath }}",
        );
        let dir = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        let out = run(
            &Template,
            &format!("src: info.j2\ndest: {}\n", dir.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed, "{out:?}");
        let written = std::fs::read_to_string(dir.join("info.j2")).unwrap();
        assert_eq!(
            written,
            format!(
                "info.j2 {} {}",
                dir.display(),
                tmp.path().join("templates/info.j2").display()
            )
        );
    }

    #[tokio::test]
    async fn preserve_mode_and_errors() {
        let (tmp, env) = setup("x.j2", "x\n");
        std::fs::set_permissions(
            tmp.path().join("templates/x.j2"),
            std::fs::Permissions::from_mode(0o751),
        )
        .unwrap();
        let dest = tmp.path().join("x");
        let out = run(
            &Template,
            &format!("src: x.j2\ndest: {}\nmode: preserve\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert_eq!(mode_of(&dest), 0o751);

        let out = run(
            &Template,
            &format!("src: missing.j2\ndest: {}\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);
        assert!(
            out.msg
                .unwrap()
                .starts_with("Could not find or access 'missing.j2'")
        );

        std::fs::write(tmp.path().join("templates/bad.j2"), "{{ nope }}").unwrap();
        let out = run(
            &Template,
            &format!("src: bad.j2\ndest: {}\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "x\n");

        let out = run(
            &Template,
            &format!("src: x.j2\ndest: {}\nlstrip_blocks: true\n", dest.display()),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert!(out.failed);

        let out = run(
            &Template,
            &format!(
                "src: x.j2\ndest: {}\nvalidate: grep -q nothing %s\n",
                tmp.path().join("new").display()
            ),
            &env,
            false,
            false,
        )
        .await
        .unwrap();
        assert_eq!(out.msg.as_deref(), Some("failed to validate"));
        assert!(!tmp.path().join("new").exists());
    }
}
