//! What the package and service modules share: finding a program on the
//! target as Ansible's `get_bin_path` does, running an argv with extra
//! environment variables, and building a command's argv together with the
//! text Ansible shows for it in messages.

use super::command::exec_error;
use super::{ModuleCtx, ModuleError};
use crate::connection::{ExecRequest, FileKind};

/// Where `get_bin_path` looks besides `PATH` (sbin directories first, as
/// Ansible appends them to a typical `PATH`).
const BIN_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The full path of `name` on the target, or `None`.
pub(crate) async fn find_bin(
    ctx: &ModuleCtx<'_>,
    name: &str,
) -> Result<Option<String>, ModuleError> {
    for dir in BIN_DIRS {
        let p = format!("{dir}/{name}");
        if let Some(st) = ctx.conn.stat(&p, true).await?
            && st.kind == FileKind::File
            && st.mode & 0o111 != 0
        {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Ansible's `get_best_parsable_locale`: the first of C.utf8, C.UTF-8,
/// en_US.utf8, en_US.UTF-8, C and POSIX that `locale -a` lists on the
/// target, else `C`. Modules that parse command output run with it.
pub(crate) async fn best_parsable_locale(ctx: &ModuleCtx<'_>) -> Result<String, ModuleError> {
    const PREFERENCES: [&str; 6] = [
        "C.utf8",
        "C.UTF-8",
        "en_US.utf8",
        "en_US.UTF-8",
        "C",
        "POSIX",
    ];
    let Some(locale) = find_bin(ctx, "locale").await? else {
        return Ok("C".into());
    };
    let r = run(ctx, &[locale, "-a".into()], &[], true).await?;
    if r.rc != 0 {
        return Ok("C".into());
    }
    let available: Vec<&str> = r.stdout.trim().lines().collect();
    Ok(PREFERENCES
        .iter()
        .find(|p| available.contains(p))
        .unwrap_or(&"C")
        .to_string())
}

/// Ansible's message when a required program is missing.
pub(crate) fn missing_bin(name: &str) -> String {
    format!(
        "Failed to find required executable \"{name}\" in paths: {}",
        BIN_DIRS.join(":")
    )
}

/// What a command printed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ran {
    pub rc: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `argv` with `env`; `read_only` marks a probe that may run while
/// check mode predicts. A program that cannot start gives Ansible's rc and
/// message instead of an error.
pub(crate) async fn run(
    ctx: &ModuleCtx<'_>,
    argv: &[String],
    env: &[(&str, &str)],
    read_only: bool,
) -> Result<Ran, ModuleError> {
    let mut req = ExecRequest::argv(argv.iter().cloned());
    req.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    req.read_only = read_only;
    match ctx.conn.exec(&req).await {
        Ok(o) => Ok(Ran {
            rc: i64::from(o.rc),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }),
        Err(e) => {
            let (rc, msg) = exec_error(&e, argv)?;
            Ok(Ran {
                rc,
                stdout: String::new(),
                stderr: msg,
            })
        }
    }
}

/// A command line built slot by slot: each slot adds argv words and the text
/// Ansible's format string puts there (empty slots leave Ansible's double
/// spaces in messages). The argv never passes through a shell or a splitter.
#[derive(Clone, Debug, Default)]
pub(crate) struct CmdLine {
    pub argv: Vec<String>,
    shown: Vec<String>,
}

impl CmdLine {
    pub fn new() -> CmdLine {
        CmdLine::default()
    }
    /// Adds words shown as they are, space-separated.
    pub fn words<S: AsRef<str>>(&mut self, words: &[S]) -> &mut CmdLine {
        let ws: Vec<String> = words.iter().map(|w| w.as_ref().to_owned()).collect();
        self.shown.push(ws.join(" "));
        self.argv.extend(ws);
        self
    }
    /// Adds one slot: `words` when `on`, else an empty slot.
    pub fn flag(&mut self, on: bool, word: &str) -> &mut CmdLine {
        if on {
            self.words(&[word])
        } else {
            self.shown.push(String::new());
            self
        }
    }
    /// Adds words with their own display text.
    pub fn shown_as<S: AsRef<str>>(&mut self, words: &[S], shown: &str) -> &mut CmdLine {
        self.argv
            .extend(words.iter().map(|w| w.as_ref().to_owned()));
        self.shown.push(shown.to_owned());
        self
    }
    /// Appends text to the display without a slot separator and words to the argv
    /// (Ansible's `cmd += " -t 'rel'"`).
    pub fn append<S: AsRef<str>>(&mut self, words: &[S], shown: &str) -> &mut CmdLine {
        self.argv
            .extend(words.iter().map(|w| w.as_ref().to_owned()));
        match self.shown.last_mut() {
            Some(last) => last.push_str(shown),
            None => self.shown.push(shown.to_owned()),
        }
        self
    }
    /// The command as Ansible's messages show it.
    pub fn display(&self) -> String {
        self.shown.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_keeps_ansible_spacing() {
        let mut c = CmdLine::new();
        c.words(&["/usr/bin/apt-get", "-y"])
            .flag(false, "--force-yes")
            .flag(true, "--simulate")
            .words(&["install"])
            .shown_as(&["a b", "c$d"], "'a b' 'c$d'")
            .append(&["-t", "stable"], " -t 'stable'");
        assert_eq!(
            c.display(),
            "/usr/bin/apt-get -y  --simulate install 'a b' 'c$d' -t 'stable'"
        );
        assert_eq!(
            c.argv,
            [
                "/usr/bin/apt-get",
                "-y",
                "--simulate",
                "install",
                "a b",
                "c$d",
                "-t",
                "stable"
            ]
        );
    }
}
