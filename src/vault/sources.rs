//! Where vault passwords come from, as ansible-core's CLI sets its vault
//! secrets up (`setup_vault_secrets`): `--vault-id [label@]source`
//! (several), `--vault-password-file FILE`, `--ask-vault-pass`, the
//! `vault_identity_list` and `vault_password_file` settings. A source is a
//! file (its content, whitespace stripped), an executable (its standard
//! output; a `*-client` script gets `--vault-id LABEL`), or `prompt`.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{DEFAULT_ID, Keyring, Secret};

/// The vault options of a command line, with the settings' defaults.
#[derive(Clone, Debug, Default)]
pub struct VaultOptions {
    /// `--vault-id` values, in order (after `vault_identity_list`).
    pub ids: Vec<String>,
    /// `--vault-password-file` values, then the `vault_password_file`
    /// setting.
    pub password_files: Vec<PathBuf>,
    /// `--ask-vault-pass`.
    pub ask: bool,
}

/// What is being set up: the prompts differ for a new password
/// (`create`, `encrypt` …), which is asked twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Decrypt,
    NewPassword,
}

/// Splits `label@source`; without `@` the whole text is the source.
pub fn split_vault_id(slug: &str) -> (Option<&str>, &str) {
    match slug.split_once('@') {
        Some((label, source)) => (Some(label), source),
        None => (None, slug),
    }
}

/// Reads every secret the options name, in ansible's order. A source that
/// fails is a warning (given to `warn`) as long as another one works; when
/// none works, the last error is returned. `auto_prompt`: with no source at
/// all, ask at the terminal (ansible-vault does, ansible-playbook does not).
pub fn build_keyring(
    opts: &VaultOptions,
    purpose: Purpose,
    auto_prompt: bool,
    warn: &mut dyn FnMut(String),
) -> Result<Keyring, String> {
    let mut slugs: Vec<String> = opts.ids.clone();
    for file in &opts.password_files {
        slugs.push(format!("{DEFAULT_ID}@{}", file.display()));
    }
    if opts.ask || (slugs.is_empty() && auto_prompt) {
        slugs.push(format!("{DEFAULT_ID}@prompt_ask_vault_pass"));
    }
    let mut ring = Keyring::default();
    let mut last_error: Option<String> = None;
    for slug in &slugs {
        let (label, source) = split_vault_id(slug);
        if source == "prompt" || source == "prompt_ask_vault_pass" {
            let id = label.unwrap_or(DEFAULT_ID);
            match prompt_secret(id, source == "prompt_ask_vault_pass", purpose) {
                Ok(pw) => ring.secrets.push(Secret::new(id, pw)),
                Err(e) => {
                    warn(format!(
                        "Error in vault password prompt ({}): {e}",
                        label.unwrap_or("None")
                    ));
                    return Err(e);
                }
            }
            continue;
        }
        match file_secret(Path::new(source), label, &ring) {
            Ok(pw) => ring
                .secrets
                .push(Secret::new(label.unwrap_or(DEFAULT_ID), pw)),
            Err(e) => {
                warn(format!(
                    "Error getting vault password file ({}): {e}",
                    label.unwrap_or("None")
                ));
                last_error = Some(e);
            }
        }
    }
    match last_error {
        Some(e) if ring.is_empty() => Err(e),
        _ => Ok(ring),
    }
}

/// Asks at the terminal (twice for a new password); fails clearly when
/// there is no terminal.
fn prompt_secret(
    id: &str,
    ask_vault_pass: bool,
    purpose: Purpose,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let prompts: Vec<String> = match (purpose, ask_vault_pass) {
        (Purpose::Decrypt, true) => vec!["Vault password: ".into()],
        (Purpose::Decrypt, false) => vec![format!("Vault password ({id}): ")],
        (Purpose::NewPassword, true) => {
            vec![
                "New Vault password: ".into(),
                "Confirm New Vault password: ".into(),
            ]
        }
        (Purpose::NewPassword, false) => vec![
            format!("New vault password ({id}): "),
            format!("Confirm new vault password ({id}): "),
        ],
    };
    let mut answers: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    for p in &prompts {
        let line = Zeroizing::new(crate::prompt::secret(p).map_err(|e| {
            format!("cannot ask for the vault password: no terminal to prompt on ({e}); use --vault-password-file or --vault-id LABEL@FILE")
        })?);
        let pw = Zeroizing::new(line.trim().as_bytes().to_vec());
        if pw.is_empty() {
            return Err("Invalid vault password was provided".into());
        }
        answers.push(pw);
    }
    if answers.iter().any(|a| a[..] != answers[0][..]) {
        return Err("Passwords do not match".into());
    }
    answers
        .into_iter()
        .next()
        .ok_or_else(|| "Invalid vault password was provided".into())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// `something-client` or `something-client.EXT`: a script that is told
/// which vault id is wanted.
fn is_client_script(path: &Path) -> bool {
    let name = path.to_string_lossy();
    let stem = match name.rfind('.') {
        Some(dot) if dot > name.rfind('/').map_or(0, |s| s + 1) => &name[..dot],
        _ => &name[..],
    };
    stem.ends_with("-client")
}

/// Python's `bytes.strip()` (ASCII whitespace) and `strip(b'\r\n')`.
fn strip(data: &[u8], chars: &[u8]) -> Vec<u8> {
    let start = data
        .iter()
        .position(|b| !chars.contains(b))
        .unwrap_or(data.len());
    let end = data
        .iter()
        .rposition(|b| !chars.contains(b))
        .map_or(start, |e| e + 1);
    data[start..end].to_vec()
}

const WHITESPACE: &[u8] = b" \t\n\r\x0b\x0c";

fn expand(path: &Path) -> PathBuf {
    let s = path.to_string_lossy();
    let expanded = match (s.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ if s == "~" => std::env::var_os("HOME").map_or(path.to_path_buf(), PathBuf::from),
        _ => path.to_path_buf(),
    };
    std::path::absolute(&expanded).unwrap_or(expanded)
}

/// A password from a file or a script (ansible's `get_file_vault_secret`).
/// A password file that is itself a vault is decrypted with the secrets
/// read before it.
fn file_secret(
    given: &Path,
    label: Option<&str>,
    earlier: &Keyring,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let path = expand(given);
    let shown = path.display();
    if !path.exists() {
        return Err(format!("The vault password file {shown} was not found"));
    }
    if path.is_dir() {
        return Err(format!(
            "The vault password file provided '{shown}' can not be a directory"
        ));
    }
    if is_executable(&path) {
        return script_secret(
            &path,
            is_client_script(given).then_some(label.unwrap_or(DEFAULT_ID)),
        );
    }
    let raw = Zeroizing::new(
        std::fs::read(&path)
            .map_err(|_| format!("Could not read vault password file '{shown}'."))?,
    );
    let mut pw = Zeroizing::new(strip(&raw, WHITESPACE));
    if super::is_encrypted(&pw) {
        let (plain, _) = earlier
            .decrypt(&pw)
            .map_err(|e| format!("{e} for {shown}"))?;
        pw = plain;
    }
    let pw = Zeroizing::new(strip(&pw, b"\r\n"));
    if pw.is_empty() {
        return Err(format!(
            "Invalid vault password was provided from file ({shown})"
        ));
    }
    Ok(pw)
}

/// Runs a password script: its standard output, without surrounding line
/// breaks, is the password. A client script gets `--vault-id LABEL` and
/// exit code 2 means it knows no such id.
fn script_secret(path: &Path, client_id: Option<&str>) -> Result<Zeroizing<Vec<u8>>, String> {
    use std::process::{Command, Stdio};
    let shown = path.display();
    let mut cmd = Command::new(path);
    cmd.stdout(Stdio::piped()).stdin(Stdio::inherit());
    if let Some(id) = client_id {
        cmd.args(["--vault-id", id]).stderr(Stdio::piped());
    }
    let kind = if client_id.is_some() {
        "password client script"
    } else {
        "password script"
    };
    let out = cmd.output().map_err(|e| {
        format!("Problem running vault {kind} {shown} ({e}). If this is not a script, remove the executable bit from the file.")
    })?;
    let stdout = Zeroizing::new(out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    match client_id {
        Some(id) if code == 2 => {
            return Err(format!(
                "Vault password client script {shown} did not find a secret for vault-id={id}: {stderr}"
            ));
        }
        Some(id) if code != 0 => {
            return Err(format!(
                "Vault password client script {shown} returned non-zero ({code}) when getting secret for vault-id={id}: {stderr}"
            ));
        }
        None if code != 0 => {
            return Err(format!(
                "Vault password script {shown} returned non-zero ({code}): None"
            ));
        }
        _ => {}
    }
    let pw = Zeroizing::new(strip(&stdout, b"\r\n"));
    if pw.is_empty() {
        return Err(format!(
            "Invalid vault password was provided from script ({shown})"
        ));
    }
    Ok(pw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn ring(opts: &VaultOptions) -> (Result<Keyring, String>, Vec<String>) {
        let mut warnings = Vec::new();
        let r = build_keyring(opts, Purpose::Decrypt, false, &mut |w| warnings.push(w));
        (r, warnings)
    }

    #[test]
    fn files_scripts_and_clients() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("pw.txt");
        std::fs::write(&plain, "  spaced pw \n\n").unwrap();
        let script = dir.path().join("pw.sh");
        std::fs::write(&script, "#!/bin/sh\nprintf 'from script\\r\\n'\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let client = dir.path().join("pw-client.sh");
        std::fs::write(
            &client,
            "#!/bin/sh\n[ \"$1\" = --vault-id ] || exit 1\n[ \"$2\" = prod ] || { echo unknown >&2; exit 2; }\necho client-$2\n",
        )
        .unwrap();
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).unwrap();
        let opts = VaultOptions {
            ids: vec![
                format!("prod@{}", client.display()),
                format!("s@{}", script.display()),
            ],
            password_files: vec![plain.clone()],
            ask: false,
        };
        let (r, warnings) = ring(&opts);
        let r = r.unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(r.ids(), ["prod", "s", "default"]);
        assert_eq!(r.secrets[0].password(), b"client-prod");
        assert_eq!(r.secrets[1].password(), b"from script");
        assert_eq!(r.secrets[2].password(), b"spaced pw");

        // An unknown id for the client: a warning, the others still work.
        let opts = VaultOptions {
            ids: vec![format!("dev@{}", client.display())],
            password_files: vec![plain],
            ask: false,
        };
        let (r, warnings) = ring(&opts);
        assert_eq!(r.unwrap().ids(), ["default"]);
        assert!(
            warnings[0].contains("did not find a secret for vault-id=dev"),
            "{warnings:?}"
        );
    }

    #[test]
    fn missing_or_empty_files_fail_when_nothing_works() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let opts = VaultOptions {
            ids: vec![format!("a@{}", dir.path().join("nope").display())],
            password_files: vec![empty],
            ask: false,
        };
        let (r, warnings) = ring(&opts);
        assert!(
            r.unwrap_err()
                .contains("Invalid vault password was provided from file")
        );
        assert!(warnings[0].contains("was not found"));
        assert!(ring(&VaultOptions::default()).0.unwrap().is_empty());
    }

    #[test]
    fn client_names() {
        assert!(is_client_script(Path::new("/x/vault-client")));
        assert!(is_client_script(Path::new("/x/vault-client.py")));
        assert!(!is_client_script(Path::new("/x.d/vault")));
        assert!(!is_client_script(Path::new("/x-client.d/vault")));
    }
}
