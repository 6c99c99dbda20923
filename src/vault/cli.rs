//! `hoist vault create|edit|view|encrypt|decrypt|rekey|encrypt-string`,
//! as ansible-vault: the same options, output and files.
//!
//! Plaintext reaches the disk only where the user asks for it (`decrypt`
//! to a file, `view` and `--output -` to stdout) and, while an editor runs
//! for `create`/`edit`, in a 0600 file inside a private 0700 directory
//! (on /dev/shm when it is writable). That directory is removed on every
//! way out: the editor failing, SIGTERM or SIGHUP to hoist (the editor is
//! stopped first), errors. Ctrl-C belongs to the editor (it gets SIGINT
//! from the terminal too). Files are replaced atomically: a temporary file
//! in the same directory, renamed over the target.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args as ClapArgs, Subcommand};
use zeroize::Zeroizing;

use super::sources::{Purpose, VaultOptions, build_keyring};
use super::{Keyring, Secret, VaultError};

/// The vault password options shared by every command that reads vaults.
#[derive(ClapArgs, Debug, Clone, Default)]
pub struct VaultArgs {
    /// A vault identity to use: `LABEL@SOURCE`, where SOURCE is a password
    /// file, an executable that prints the password, or `prompt`
    /// (repeatable).
    #[arg(long = "vault-id", value_name = "VAULT_ID")]
    pub vault_ids: Vec<String>,
    /// A vault password file (or executable); repeatable. Default:
    /// `vault_password_file` of ansible.cfg, ANSIBLE_VAULT_PASSWORD_FILE,
    /// HOIST_VAULT_PASSWORD_FILE.
    #[arg(
        long = "vault-password-file",
        alias = "vault-pass-file",
        value_name = "FILE"
    )]
    pub vault_password_files: Vec<PathBuf>,
    /// Ask for the vault password on the terminal.
    #[arg(short = 'J', long = "ask-vault-password", alias = "ask-vault-pass")]
    pub ask_vault_pass: bool,
}

impl VaultArgs {
    /// The options with the settings' defaults: `vault_identity_list`
    /// before the `--vault-id`s, `vault_password_file` after the
    /// `--vault-password-file`s (as ansible-core).
    pub fn options(&self, config: Option<&crate::config::Config>) -> VaultOptions {
        let mut ids: Vec<String> = config
            .map(|c| c.vault_identity_list.value.clone())
            .unwrap_or_default();
        ids.extend(self.vault_ids.iter().cloned());
        let mut password_files = self.vault_password_files.clone();
        if let Some(f) = config.and_then(|c| c.vault_password_file.value.clone()) {
            password_files.push(f);
        }
        VaultOptions {
            ids,
            password_files,
            ask: self.ask_vault_pass,
        }
    }

    /// For `apply`, `diff`, `run`, `vars`, `inventory`: reads the secrets
    /// and installs them as the run's keyring. Errors are printed; false
    /// then.
    pub fn install(&self, config: Option<&crate::config::Config>) -> bool {
        for id in &self.vault_ids {
            if id.contains(';') {
                eprintln!(
                    "ERROR! '{id}' is not a valid vault id. The character ';' is not allowed in vault ids"
                );
                return false;
            }
        }
        let opts = self.options(config);
        let mut warn = |w: String| eprintln!("[WARNING]: {w}");
        match build_keyring(&opts, Purpose::Decrypt, false, &mut warn) {
            Ok(ring) => {
                super::install(ring);
                true
            }
            Err(e) => {
                eprintln!("ERROR! {e}");
                false
            }
        }
    }
}

#[derive(ClapArgs, Debug, Clone)]
pub struct VaultCmd {
    #[command(subcommand)]
    pub action: VaultAction,
}

/// Where the output of `encrypt`/`decrypt`/`encrypt-string` goes.
#[derive(ClapArgs, Debug, Clone, Default)]
pub struct OutputArg {
    /// Output file name for encrypt or decrypt; `-` for stdout.
    #[arg(long = "output", value_name = "OUTPUT_FILE")]
    pub output: Option<String>,
}

#[derive(ClapArgs, Debug, Clone, Default)]
pub struct EncryptIdArg {
    /// The vault id used to encrypt (required if more than one vault id
    /// is given; default: `vault_encrypt_identity` of ansible.cfg).
    #[arg(long = "encrypt-vault-id", value_name = "ENCRYPT_VAULT_ID")]
    pub encrypt_vault_id: Option<String>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum VaultAction {
    /// Create a new encrypted file with $EDITOR.
    Create {
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Open the editor even when stdout is not a terminal.
        #[arg(long = "skip-tty-check")]
        skip_tty_check: bool,
        #[command(flatten)]
        id: EncryptIdArg,
        #[command(flatten)]
        vault: VaultArgs,
    },
    /// Decrypt files (in place, or to --output), or stdin.
    Decrypt {
        #[arg(value_name = "FILE")]
        files: Vec<String>,
        #[command(flatten)]
        output: OutputArg,
        #[command(flatten)]
        vault: VaultArgs,
    },
    /// Edit encrypted files with $EDITOR; they are encrypted again,
    /// atomically, when the editor exits.
    Edit {
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        id: EncryptIdArg,
        #[command(flatten)]
        vault: VaultArgs,
    },
    /// Print the decrypted content of files to stdout.
    View {
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        vault: VaultArgs,
    },
    /// Encrypt files (in place, or to --output), or stdin.
    Encrypt {
        #[arg(value_name = "FILE")]
        files: Vec<String>,
        #[command(flatten)]
        output: OutputArg,
        #[command(flatten)]
        id: EncryptIdArg,
        #[command(flatten)]
        vault: VaultArgs,
    },
    /// Encrypt strings for use as inline `!vault |` values.
    #[command(name = "encrypt-string", alias = "encrypt_string")]
    EncryptString {
        /// The strings to encrypt (`-` or none: read stdin).
        #[arg(value_name = "STRING")]
        strings: Vec<String>,
        /// Prompt for the string to encrypt.
        #[arg(short = 'p', long = "prompt")]
        prompt: bool,
        /// Do not hide input when prompted for the string.
        #[arg(long = "show-input")]
        show_input: bool,
        /// The variable name for each string, in order (repeatable).
        #[arg(short = 'n', long = "name", value_name = "NAME")]
        names: Vec<String>,
        /// The variable name for the string read from stdin.
        #[arg(long = "stdin-name", value_name = "NAME")]
        stdin_name: Option<String>,
        #[command(flatten)]
        output: OutputArg,
        #[command(flatten)]
        id: EncryptIdArg,
        #[command(flatten)]
        vault: VaultArgs,
    },
    /// Encrypt files again with a new password.
    Rekey {
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The new vault password file.
        #[arg(
            long = "new-vault-password-file",
            value_name = "FILE",
            conflicts_with = "new_vault_id"
        )]
        new_vault_password_file: Option<PathBuf>,
        /// The new vault identity (`LABEL@SOURCE`).
        #[arg(long = "new-vault-id", value_name = "VAULT_ID")]
        new_vault_id: Option<String>,
        #[command(flatten)]
        id: EncryptIdArg,
        #[command(flatten)]
        vault: VaultArgs,
    },
}

/// An error of a vault command: the message and the exit code.
struct Fail(String, i32);

fn fail(msg: impl Into<String>) -> Fail {
    Fail(msg.into(), crate::cli::exit::ERROR)
}

fn options_error(msg: impl Into<String>) -> Fail {
    Fail(msg.into(), crate::cli::exit::OPTIONS)
}

/// Runs `hoist vault …` and returns the exit code.
pub fn run(cmd: VaultCmd) -> i32 {
    let config = match crate::config::Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ERROR! {e}");
            return crate::cli::exit::ERROR;
        }
    };
    for w in &config.warnings {
        eprintln!("[WARNING]: {w}");
    }
    // As ansible-vault: whatever is created is private.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let result = dispatch(cmd, &config);
    nix::sys::stat::umask(old);
    match result {
        Ok(()) => crate::cli::exit::OK,
        Err(Fail(msg, code)) => {
            eprintln!("ERROR! {msg}");
            code
        }
    }
}

fn vault_args(action: &VaultAction) -> &VaultArgs {
    match action {
        VaultAction::Create { vault, .. }
        | VaultAction::Decrypt { vault, .. }
        | VaultAction::Edit { vault, .. }
        | VaultAction::View { vault, .. }
        | VaultAction::Encrypt { vault, .. }
        | VaultAction::EncryptString { vault, .. }
        | VaultAction::Rekey { vault, .. } => vault,
    }
}

fn keyring(opts: &VaultOptions, purpose: Purpose) -> Result<Keyring, Fail> {
    let mut warn = |w: String| eprintln!("[WARNING]: {w}");
    let ring = build_keyring(opts, purpose, true, &mut warn).map_err(fail)?;
    if ring.is_empty() {
        return Err(options_error(
            "A vault password is required to use Ansible's Vault",
        ));
    }
    Ok(ring)
}

/// The secret to encrypt with: with several and no `--encrypt-vault-id`,
/// an error (as ansible-vault).
fn encrypt_secret<'a>(ring: &'a Keyring, id: Option<&str>) -> Result<&'a Secret, Fail> {
    if ring.secrets.len() > 1 && id.is_none() {
        return Err(options_error(format!(
            "The vault-ids {} are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id",
            ring.ids().join(",")
        )));
    }
    ring.encrypt_secret(id).map_err(|e| fail(e.to_string()))
}

fn dispatch(cmd: VaultCmd, config: &crate::config::Config) -> Result<(), Fail> {
    let args = vault_args(&cmd.action);
    for id in &args.vault_ids {
        if id.contains(';') {
            return Err(options_error(format!(
                "'{id}' is not a valid vault id. The character ';' is not allowed in vault ids"
            )));
        }
    }
    let opts = args.options(Some(config));
    let default_encrypt_id = config.vault_encrypt_identity.value.clone();
    let encrypt_id = |id: &EncryptIdArg| id.encrypt_vault_id.clone().or(default_encrypt_id.clone());
    let stdout_tty = std::io::stdout().is_terminal();
    match &cmd.action {
        VaultAction::Encrypt {
            files, output, id, ..
        } => {
            check_output(output, files.len())?;
            let ring = keyring(&opts, Purpose::NewPassword)?;
            let secret = encrypt_secret(&ring, encrypt_id(id).as_deref())?;
            if files.is_empty() && std::io::stdin().is_terminal() {
                eprintln!("Reading plaintext input from stdin");
            }
            for f in inputs(files) {
                let plain = Zeroizing::new(read_data(&f)?);
                let text = super::encrypt(&plain, secret).map_err(|e| fail(e.to_string()))?;
                write_data(
                    text.as_bytes(),
                    output.output.as_deref().unwrap_or(&f),
                    None,
                )?;
            }
            if stdout_tty {
                eprintln!("Encryption successful");
            }
        }
        VaultAction::Decrypt { files, output, .. } => {
            check_output(output, files.len())?;
            let ring = keyring(&opts, Purpose::Decrypt)?;
            if files.is_empty() && std::io::stdin().is_terminal() {
                eprintln!("Reading ciphertext input from stdin");
            }
            for f in inputs(files) {
                let data = read_data(&f)?;
                let (plain, _) = decrypt_named(&ring, &data, &f)?;
                write_data(&plain, output.output.as_deref().unwrap_or(&f), None)?;
            }
            if stdout_tty {
                eprintln!("Decryption successful");
            }
        }
        VaultAction::View { files, .. } => {
            let ring = keyring(&opts, Purpose::Decrypt)?;
            for f in files {
                let name = f.display().to_string();
                let data = read_data(&name)?;
                let (plain, _) = decrypt_named(&ring, &data, &name)?;
                // As ansible-vault's output without a pager: a line break
                // is added when the text does not end with one.
                let mut out = std::io::stdout().lock();
                let newline: &[u8] = if plain.ends_with(b"\n") { b"" } else { b"\n" };
                out.write_all(&plain)
                    .and_then(|()| out.write_all(newline))
                    .and_then(|()| out.flush())
                    .map_err(|e| fail(format!("cannot write to stdout: {e}")))?;
            }
        }
        VaultAction::EncryptString {
            strings,
            prompt,
            show_input,
            names,
            stdin_name,
            output,
            id,
            ..
        } => {
            let read_stdin = strings.iter().any(|s| s == "-")
                || stdin_name.is_some()
                || (strings.is_empty() && !prompt);
            if *prompt && read_stdin {
                return Err(options_error(
                    "The --prompt option is not supported if also reading input from stdin",
                ));
            }
            let ring = keyring(&opts, Purpose::NewPassword)?;
            let secret = encrypt_secret(&ring, encrypt_id(id).as_deref())?;
            encrypt_strings(
                secret,
                strings,
                names,
                stdin_name.as_deref(),
                *prompt,
                *show_input,
                read_stdin,
                output.output.as_deref(),
            )?;
            if stdout_tty {
                eprintln!("Encryption successful");
            }
        }
        VaultAction::Create {
            files,
            skip_tty_check,
            id,
            ..
        } => {
            let [file] = files.as_slice() else {
                return Err(options_error(
                    "ansible-vault create can take only one filename argument",
                ));
            };
            let ring = keyring(&opts, Purpose::NewPassword)?;
            let secret = encrypt_secret(&ring, encrypt_id(id).as_deref())?;
            if !stdout_tty && !skip_tty_check {
                return Err(options_error("not a tty, editor cannot be opened"));
            }
            if file.is_file() {
                return Err(fail(format!(
                    "{} exists, please use 'edit' instead",
                    file.display()
                )));
            }
            if let Some(dir) = file
                .parent()
                .filter(|d| !d.as_os_str().is_empty() && !d.exists())
            {
                eprintln!("[WARNING]: {} does not exist, creating...", dir.display());
                std::fs::create_dir_all(dir)
                    .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
            }
            edit_with_editor(file, None, secret, Some(&secret.id), &editor(config))?;
        }
        VaultAction::Edit { files, .. } => {
            let ring = keyring(&opts, Purpose::Decrypt)?;
            for f in files {
                let real = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
                let name = real.display().to_string();
                let data = read_data(&name)?;
                let (plain, secret) = decrypt_named(&ring, &data, &name)?;
                // Encrypted again with the secret that opened it, under the
                // header's vault id (as ansible-vault).
                let header_id = super::parse_envelope(&data).ok().and_then(|e| e.vault_id);
                edit_with_editor(
                    &real,
                    Some(&plain),
                    secret,
                    header_id.as_deref(),
                    &editor(config),
                )?;
            }
        }
        VaultAction::Rekey {
            files,
            new_vault_password_file,
            new_vault_id,
            id,
            vault,
        } => {
            let ring = keyring(&opts, Purpose::Decrypt)?;
            let new_opts = VaultOptions {
                ids: new_vault_id.iter().cloned().collect(),
                password_files: new_vault_password_file.iter().cloned().collect(),
                ask: vault.ask_vault_pass,
            };
            let mut warn = |w: String| eprintln!("[WARNING]: {w}");
            let new_ring =
                build_keyring(&new_opts, Purpose::NewPassword, true, &mut warn).map_err(fail)?;
            if new_ring.is_empty() {
                return Err(options_error(
                    "A new vault password is required to use Ansible's Vault rekey",
                ));
            }
            let new_secret = new_ring
                .encrypt_secret(encrypt_id(id).as_deref())
                .map_err(|e| fail(e.to_string()))?;
            for f in files {
                let real = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
                let name = real.display().to_string();
                let data = read_data(&name)?;
                let (plain, _) = decrypt_named(&ring, &data, &name)?;
                let text = super::encrypt(&plain, new_secret).map_err(|e| fail(e.to_string()))?;
                let mode = file_mode(&real);
                crate::atomic::write_atomic(&real, text.as_bytes(), Some(mode.unwrap_or(0o600)))
                    .map_err(|e| fail(format!("Unable to write {name}: {e}")))?;
            }
            eprintln!("Rekey successful");
        }
    }
    Ok(())
}

fn check_output(output: &OutputArg, files: usize) -> Result<(), Fail> {
    if output.output.is_some() && files > 1 {
        return Err(options_error(
            "At most one input file may be used with the --output option",
        ));
    }
    Ok(())
}

fn inputs(files: &[String]) -> Vec<String> {
    if files.is_empty() {
        vec!["-".into()]
    } else {
        files.to_vec()
    }
}

fn decrypt_named<'a>(
    ring: &'a Keyring,
    data: &[u8],
    name: &str,
) -> Result<(Zeroizing<Vec<u8>>, &'a Secret), Fail> {
    ring.decrypt(data).map_err(|e| match e {
        VaultError::Format(m) if m.starts_with("Input is not") => fail(format!("{m} for {name}")),
        e => fail(format!("{e} for {name}")),
    })
}

fn read_data(name: &str) -> Result<Vec<u8>, Fail> {
    if name == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| fail(format!("Unable to read source file (-): {e}")))?;
        return Ok(buf);
    }
    std::fs::read(name).map_err(|e| fail(format!("Unable to read source file ({name}): {e}")))
}

/// Writes to stdout (`-`) or, atomically, to a file (mode 0600 for a new
/// or replaced file, as ansible-vault, unless `mode` is given).
fn write_data(data: &[u8], target: &str, mode: Option<u32>) -> Result<(), Fail> {
    if target == "-" {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(data)
            .and_then(|()| out.flush())
            .map_err(|e| fail(format!("cannot write to stdout: {e}")));
    }
    let path = Path::new(target);
    crate::atomic::write_atomic(path, data, Some(mode.unwrap_or(0o600)))
        .map_err(|e| fail(format!("Unable to write to vault file {target}: {e}")))
}

fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// A random hex suffix for temporary names.
/// `editor` of ansible.cfg, ANSIBLE_EDITOR, EDITOR; else `vi`.
fn editor(config: &crate::config::Config) -> String {
    config
        .editor
        .value
        .clone()
        .unwrap_or_else(|| "vi".to_owned())
}

/// The private directory the plaintext lives in while an editor runs:
/// removed (its file overwritten first) when dropped.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new() -> std::io::Result<PrivateDir> {
        use std::os::unix::fs::DirBuilderExt;
        let shm = Path::new("/dev/shm");
        let writable = nix::unistd::access(
            shm,
            nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        )
        .is_ok();
        let base = if shm.is_dir() && writable {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("hoist-vault-{}", crate::atomic::nonce()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(PrivateDir(dir))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for e in entries.flatten() {
                let p = e.path();
                if let Ok(meta) = std::fs::symlink_metadata(&p)
                    && meta.is_file()
                    && let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p)
                {
                    let zeros = vec![0u8; usize::try_from(meta.len()).unwrap_or(0).min(1 << 24)];
                    let _ = f.write_all(&zeros);
                    let _ = f.sync_all();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The last SIGTERM/SIGHUP received while an editor runs (0: none).
static SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn note_signal(sig: nix::libc::c_int) {
    SIGNAL.store(sig, std::sync::atomic::Ordering::SeqCst);
}

/// While alive, SIGTERM and SIGHUP are noted instead of killing hoist, and
/// SIGINT is ignored (the editor, in the same process group, gets it).
struct SignalGuard(Vec<(nix::sys::signal::Signal, nix::sys::signal::SigAction)>);

impl SignalGuard {
    fn new() -> SignalGuard {
        use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
        SIGNAL.store(0, std::sync::atomic::Ordering::SeqCst);
        let note = SigAction::new(
            SigHandler::Handler(note_signal),
            SaFlags::empty(),
            SigSet::empty(),
        );
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        let mut saved = Vec::new();
        for (sig, act) in [
            (Signal::SIGTERM, &note),
            (Signal::SIGHUP, &note),
            (Signal::SIGINT, &ignore),
        ] {
            // SAFETY: the handler only stores to an atomic, which is
            // async-signal-safe; the previous actions are restored on drop.
            if let Ok(old) = unsafe { sigaction(sig, act) } {
                saved.push((sig, old));
            }
        }
        SignalGuard(saved)
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for (sig, old) in self.0.drain(..) {
            // SAFETY: restores the action that was in place before.
            let _ = unsafe { nix::sys::signal::sigaction(sig, &old) };
        }
    }
}

/// Runs the editor on a private copy of `existing` (none: an empty file),
/// then encrypts what it saved into `target` when it changed (always for a
/// new file), atomically, keeping `target`'s mode.
fn edit_with_editor(
    target: &Path,
    existing: Option<&[u8]>,
    secret: &Secret,
    vault_id: Option<&str>,
    editor: &str,
) -> Result<(), Fail> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = PrivateDir::new()
        .map_err(|e| fail(format!("cannot create a private temporary directory: {e}")))?;
    let ext = target
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let tmp = dir.0.join(format!("edit{ext}"));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| fail(format!("Problem creating temporary vault file: {e}")))?;
        f.write_all(existing.unwrap_or_default())
            .map_err(|e| fail(format!("Unable to write to temporary vault file: {e}")))?;
    }
    let mut argv = shlex::split(editor).unwrap_or_else(|| vec![editor.to_owned()]);
    argv.push(tmp.display().to_string());
    let shown = argv.join(" ");
    let guard = SignalGuard::new();
    let mut child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .spawn()
        .map_err(|e| fail(format!("Unable to execute the command \"{shown}\": {e}")))?;
    let status = loop {
        let sig = SIGNAL.load(std::sync::atomic::Ordering::SeqCst);
        if sig != 0 {
            // hoist is being stopped: stop the editor, then the private
            // directory goes with `dir`.
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            let _ = child.wait();
            drop(dir);
            drop(guard);
            return Err(Fail(
                format!(
                    "interrupted by signal {sig}; {} was not changed and the plaintext copy was removed",
                    target.display()
                ),
                128 + sig,
            ));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(50)),
            Err(e) => return Err(fail(format!("cannot wait for the editor: {e}"))),
        }
    };
    drop(guard);
    if !status.success() {
        return Err(fail(format!(
            "the editor \"{shown}\" failed ({status}); {} was not changed",
            target.display()
        )));
    }
    let edited = Zeroizing::new(std::fs::read(&tmp).map_err(|e| {
        fail(format!(
            "Unable to read source file ({}): {e}",
            tmp.display()
        ))
    })?);
    if existing.is_some_and(|old| old == &edited[..]) {
        return Ok(());
    }
    let id_secret = Secret::new(
        vault_id.unwrap_or(super::DEFAULT_ID),
        Zeroizing::new(secret.password().to_vec()),
    );
    let text = super::encrypt(&edited, &id_secret).map_err(|e| fail(e.to_string()))?;
    let mode = file_mode(target).unwrap_or(0o600);
    crate::atomic::write_atomic(target, text.as_bytes(), Some(mode))
        .map_err(|e| fail(format!("Unable to write {}: {e}", target.display())))?;
    drop(dir);
    Ok(())
}

/// `encrypt-string`: each string as `[name: ]!vault |` and the envelope
/// indented by 10 spaces; with several, a `#` line on stderr before each.
#[allow(clippy::too_many_arguments)]
fn encrypt_strings(
    secret: &Secret,
    strings: &[String],
    names: &[String],
    stdin_name: Option<&str>,
    prompt: bool,
    show_input: bool,
    read_stdin: bool,
    output: Option<&str>,
) -> Result<(), Fail> {
    // (plaintext, where it came from, its variable name)
    type Input = (Zeroizing<Vec<u8>>, &'static str, Option<String>);
    let mut plain: Vec<Input> = Vec::new();
    if prompt {
        let name = crate::prompt::line("Variable name (enter for no name): ")
            .map_err(|e| fail(format!("cannot prompt: {e}")))?;
        let text = if show_input {
            crate::prompt::line("String to encrypt:")
        } else {
            crate::prompt::secret("String to encrypt (hidden): ")
        }
        .map_err(|e| fail(format!("cannot prompt: {e}")))?;
        if text.is_empty() {
            return Err(options_error(
                "The plaintext provided from the prompt was empty, not encrypting",
            ));
        }
        plain.push((
            Zeroizing::new(text.into_bytes()),
            "the interactive prompt",
            Some(name).filter(|n| !n.is_empty()),
        ));
    }
    if read_stdin {
        if std::io::stdout().is_terminal() {
            eprintln!(
                "Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)"
            );
        }
        let mut buf = Zeroizing::new(Vec::new());
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| fail(format!("cannot read stdin: {e}")))?;
        if buf.is_empty() {
            return Err(options_error("stdin was empty, not encrypting"));
        }
        plain.push((buf, "stdin", stdin_name.map(str::to_owned)));
    }
    let args: Vec<&String> = strings.iter().filter(|s| *s != "-").collect();
    if !names.is_empty() && args.len() > names.len() {
        eprintln!("The number of --name options do not match the number of args.");
        eprintln!(
            "The last named variable will be \"{}\". The rest will not have names.",
            names.last().map_or("", String::as_str)
        );
    }
    for (i, text) in args.iter().enumerate() {
        if text.is_empty() {
            return Err(options_error(
                "The plaintext provided from the command line args was empty, not encrypting",
            ));
        }
        plain.push((
            Zeroizing::new(text.as_bytes().to_vec()),
            "the command line args",
            names.get(i).cloned(),
        ));
    }
    let several = plain.len() > 1;
    let mut out = String::new();
    for (i, (text, from, name)) in plain.iter().enumerate() {
        let vault = super::encrypt(text, secret).map_err(|e| fail(e.to_string()))?;
        if several {
            let n = i + 1;
            match name {
                Some(name) => eprintln!(
                    "# The encrypted version of variable (\"{name}\", the string #{n} from {from})."
                ),
                None => eprintln!("# The encrypted version of the string #{n} from {from}.)"),
            }
        }
        if let Some(name) = name {
            out.push_str(name);
            out.push_str(": ");
        }
        out.push_str("!vault |");
        for line in vault.lines() {
            out.push('\n');
            out.push_str("          ");
            out.push_str(line);
        }
        out.push('\n');
    }
    write_data(out.as_bytes(), output.unwrap_or("-"), None)
}
