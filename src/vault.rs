//! Ansible Vault, byte-compatible with ansible-vault (ansible-core 2.19):
//! the envelope (`$ANSIBLE_VAULT;1.1;AES256`, `1.2;AES256;<vault-id>`),
//! the AES256 cipher, and the run's [`Keyring`] of vault secrets.
//!
//! The cipher is ansible-core's `VaultAES256`: PBKDF2-HMAC-SHA256 (10000
//! iterations) derives 80 bytes from the password and a random 32-byte
//! salt: the AES-256 key, the HMAC-SHA256 key and the 16-byte initial
//! counter. The plaintext is PKCS#7-padded and encrypted with AES-256-CTR
//! (the whole 128-bit block is the big-endian counter); the HMAC covers
//! the ciphertext. The body is `hex(hex(salt) \n hex(hmac) \n hex(ct))`,
//! cut into lines of 80 characters under the header.
//!
//! Decryption checks the MAC (in constant time) before anything is
//! decrypted, and the padding strictly; a wrong password is an error, never
//! garbage. The vault id in a 1.2 header is not authenticated: it only
//! picks which secret is tried first, as in Ansible.
//!
//! Passwords, derived keys and plaintexts live in [`Zeroizing`] buffers.
//! Every plaintext decrypted for a run is registered with
//! [`crate::secrets::register`] by the loaders (see [`decrypt_registered`]).

pub mod cli;
pub mod sources;

use std::sync::{Arc, RwLock};

use aes::Aes256;
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha2_11::Sha256;
use zeroize::Zeroizing;

/// The first bytes of every vault.
pub const HEADER: &str = "$ANSIBLE_VAULT";

/// The vault id of a secret given without a label (ansible's
/// `DEFAULT_VAULT_IDENTITY`).
pub const DEFAULT_ID: &str = "default";

const ITERATIONS: u32 = 10_000;
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const SALT_LEN: usize = 32;
const BLOCK: usize = 16;

/// Why vault data could not be decrypted (or encrypted). The messages are
/// ansible-core's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultError {
    /// No secret is known at all.
    NoSecrets,
    /// No known secret decrypts the data (wrong password).
    NoMatch,
    /// Not vault data, or a damaged envelope or body.
    Format(String),
    /// Anything else (a cipher we do not know, a password source).
    Other(String),
}

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultError::NoSecrets => {
                f.write_str("Attempting to decrypt but no vault secrets found.")
            }
            VaultError::NoMatch => {
                f.write_str("Decryption failed (no vault secrets were found that could decrypt).")
            }
            VaultError::Format(m) | VaultError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for VaultError {}

/// Whether `data` is vault data (ascii, starting with the header).
/// The plaintexts of inline `!vault` values decrypted in this run, for
/// the `vault_encrypted` test (ansible-core 2.19 keeps a decrypted value's
/// ciphertext with it; hoist's values are plain strings).
fn inline_values() -> &'static RwLock<std::collections::HashSet<String>> {
    static INLINE: std::sync::OnceLock<RwLock<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    INLINE.get_or_init(Default::default)
}

/// Remembers the plaintext of an inline `!vault` value.
pub fn mark_inline(plain: &str) {
    if let Ok(mut set) = inline_values().write() {
        set.insert(plain.to_owned());
    }
}

/// Whether `value` is an inline vault value's plaintext. (Text that merely
/// looks like vault ciphertext is not one, as in ansible-core; a string
/// built from the value and equal to it is, unlike there.)
pub fn is_vault_value(value: &str) -> bool {
    inline_values().read().is_ok_and(|set| set.contains(value))
}

pub fn is_encrypted(data: &[u8]) -> bool {
    data.starts_with(HEADER.as_bytes()) && data.is_ascii()
}

/// The parts of a vault envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub version: String,
    pub cipher: String,
    /// The header's vault id (1.2), if any.
    pub vault_id: Option<String>,
    /// The body lines joined: still hex of the inner hex text.
    pub body: Vec<u8>,
}

/// Splits vault text into header fields and body, as ansible-core's
/// `parse_vaulttext_envelope` (lines are stripped, so the indented lines
/// of an inline `!vault |` value parse too).
pub fn parse_envelope(data: &[u8]) -> Result<Envelope, VaultError> {
    let bad = || VaultError::Format("Vault envelope format error.".into());
    let text = std::str::from_utf8(data).map_err(|_| bad())?;
    let text = text.trim_start();
    if !text.starts_with(HEADER) {
        return Err(VaultError::Format(
            "Input is not vault encrypted data.".into(),
        ));
    }
    let mut lines = text.lines();
    let header = lines.next().ok_or_else(bad)?;
    let fields: Vec<&str> = header.trim().split(';').map(str::trim).collect();
    if fields.len() < 3 {
        return Err(bad());
    }
    let vault_id = fields
        .get(3)
        .map(|s| (*s).to_owned())
        .filter(|s| !s.is_empty());
    let body: Vec<u8> = lines.flat_map(|l| l.trim().bytes()).collect();
    Ok(Envelope {
        version: fields[1].to_owned(),
        cipher: fields[2].to_owned(),
        vault_id,
        body,
    })
}

/// The header and the body cut into 80-column lines, each ending in a
/// newline, as ansible-core's `format_vaulttext_envelope`: a vault id other
/// than `default` makes the version 1.2 and is written in the header.
pub fn format_envelope(body: &[u8], vault_id: Option<&str>) -> String {
    let mut out = String::from(HEADER);
    match vault_id {
        Some(id) if !id.is_empty() && id != DEFAULT_ID => {
            out.push_str(";1.2;AES256;");
            out.push_str(id);
        }
        _ => out.push_str(";1.1;AES256"),
    }
    out.push('\n');
    for chunk in body.chunks(80) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

fn unhex(data: &[u8]) -> Result<Vec<u8>, VaultError> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bad = || VaultError::Format("Vault format unhexlify error.".into());
    if !data.len().is_multiple_of(2) {
        return Err(bad());
    }
    data.chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)
}

fn hex(data: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(data.len() * 2);
    for b in data {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
    out
}

/// The 80 bytes PBKDF2 derives: AES key, HMAC key, initial counter.
struct Keys(Zeroizing<[u8; 2 * KEY_LEN + IV_LEN]>);

impl Keys {
    fn derive(password: &[u8], salt: &[u8]) -> Result<Keys, VaultError> {
        let mut out = Zeroizing::new([0u8; 2 * KEY_LEN + IV_LEN]);
        pbkdf2::pbkdf2::<Hmac<Sha256>>(password, salt, ITERATIONS, out.as_mut())
            .map_err(|_| VaultError::Other("key derivation failed".into()))?;
        Ok(Keys(out))
    }
    fn aes(&self) -> &[u8] {
        &self.0[..KEY_LEN]
    }
    fn mac(&self) -> &[u8] {
        &self.0[KEY_LEN..2 * KEY_LEN]
    }
    fn iv(&self) -> &[u8] {
        &self.0[2 * KEY_LEN..]
    }
    fn hmac(&self) -> Result<Hmac<Sha256>, VaultError> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.mac())
            .map_err(|_| VaultError::Other("bad HMAC key".into()))
    }
    fn apply_ctr(&self, buf: &mut [u8]) -> Result<(), VaultError> {
        let mut cipher = Ctr128BE::<Aes256>::new_from_slices(self.aes(), self.iv())
            .map_err(|_| VaultError::Other("bad AES key".into()))?;
        cipher.apply_keystream(buf);
        Ok(())
    }
}

/// Encrypts with the AES256 cipher and this salt; returns the envelope's
/// body (hex of the inner hex text), without header or line breaks.
pub fn encrypt_body(plaintext: &[u8], password: &[u8], salt: &[u8]) -> Result<Vec<u8>, VaultError> {
    let keys = Keys::derive(password, salt)?;
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut data = Zeroizing::new(Vec::with_capacity(plaintext.len() + pad));
    data.extend_from_slice(plaintext);
    data.extend(std::iter::repeat_n(u8::try_from(pad).unwrap_or(16), pad));
    keys.apply_ctr(&mut data)?;
    let mut mac = keys.hmac()?;
    mac.update(&data);
    let tag = mac.finalize().into_bytes();
    let mut inner = hex(salt);
    inner.push(b'\n');
    inner.extend(hex(&tag));
    inner.push(b'\n');
    inner.extend(hex(&data));
    Ok(hex(&inner))
}

/// Decrypts an envelope's body with one password: the MAC is verified
/// first (constant time), then the data decrypted and the PKCS#7 padding
/// checked and removed.
pub fn decrypt_body(body: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let inner = unhex(body)?;
    let mut parts = inner.splitn(3, |b| *b == b'\n');
    let (Some(salt), Some(tag), Some(ct)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(VaultError::Format("Vault format unhexlify error.".into()));
    };
    let salt = unhex(salt)?;
    let tag = unhex(tag)?;
    let ct = unhex(ct)?;
    let keys = Keys::derive(password, &salt)?;
    let mut mac = keys.hmac()?;
    mac.update(&ct);
    mac.verify_slice(&tag)
        .map_err(|_| VaultError::Other("HMAC verification failed".into()))?;
    let mut data = Zeroizing::new(ct);
    keys.apply_ctr(&mut data)?;
    let bad_padding = || VaultError::Other("Invalid padding bytes.".into());
    let pad = usize::from(*data.last().ok_or_else(bad_padding)?);
    if pad == 0 || pad > BLOCK || pad > data.len() || !data.len().is_multiple_of(BLOCK) {
        return Err(bad_padding());
    }
    let keep = data.len() - pad;
    if data[keep..].iter().any(|b| usize::from(*b) != pad) {
        return Err(bad_padding());
    }
    data.truncate(keep);
    Ok(data)
}

/// Fresh random salt for encryption.
pub fn random_salt() -> Result<[u8; SALT_LEN], VaultError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt)
        .map_err(|e| VaultError::Other(format!("no random numbers for the salt: {e}")))?;
    Ok(salt)
}

/// One vault secret: a vault-id label and its password.
pub struct Secret {
    pub id: String,
    password: Zeroizing<Vec<u8>>,
}

impl Secret {
    pub fn new(id: impl Into<String>, password: Zeroizing<Vec<u8>>) -> Secret {
        Secret {
            id: id.into(),
            password,
        }
    }
    pub fn password(&self) -> &[u8] {
        &self.password
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.id)
    }
}

/// The vault secrets known to a run or a `hoist vault` command, in the
/// order they are tried.
#[derive(Debug, Default)]
pub struct Keyring {
    pub secrets: Vec<Secret>,
}

impl Keyring {
    pub fn new(secrets: Vec<Secret>) -> Keyring {
        Keyring { secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The labels, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.secrets.iter().map(|s| s.id.as_str()).collect()
    }

    /// Decrypts vault text: the secrets labelled with the header's vault id
    /// first, then every other one (ansible-core's
    /// `decrypt_and_get_vault_id`). Returns the plaintext and the secret
    /// that opened it.
    pub fn decrypt(&self, data: &[u8]) -> Result<(Zeroizing<Vec<u8>>, &Secret), VaultError> {
        let env = parse_envelope(data)?;
        if env.cipher != "AES256" {
            return Err(VaultError::Other(format!(
                "Cipher '{}' could not be found.",
                env.cipher
            )));
        }
        if self.secrets.is_empty() {
            return Err(VaultError::NoSecrets);
        }
        let header_id = env.vault_id.as_deref();
        let first = self
            .secrets
            .iter()
            .filter(|s| Some(s.id.as_str()) == header_id);
        let rest = self
            .secrets
            .iter()
            .filter(|s| Some(s.id.as_str()) != header_id);
        for secret in first.chain(rest) {
            match decrypt_body(&env.body, secret.password()) {
                Ok(plain) => return Ok((plain, secret)),
                Err(e @ VaultError::Format(_)) => return Err(e),
                Err(_) => continue,
            }
        }
        Err(VaultError::NoMatch)
    }

    /// The secret to encrypt with, as ansible's `match_encrypt_secret`:
    /// the one labelled `encrypt_id` when given (an error if none is), else
    /// the first.
    pub fn encrypt_secret(&self, encrypt_id: Option<&str>) -> Result<&Secret, VaultError> {
        match encrypt_id {
            Some(id) => self.secrets.iter().find(|s| s.id == id).ok_or_else(|| {
                VaultError::Other(format!(
                    "Did not find a match for --encrypt-vault-id={id} in the known vault-ids {}",
                    py_list(&self.ids())
                ))
            }),
            None => self.secrets.first().ok_or_else(|| {
                VaultError::Other("A vault password must be specified to encrypt data".into())
            }),
        }
    }
}

/// Encrypts `plaintext` with `secret` into a whole envelope (header and
/// 80-column lines), the vault id in the header unless it is `default`.
pub fn encrypt(plaintext: &[u8], secret: &Secret) -> Result<String, VaultError> {
    if is_encrypted(plaintext) {
        return Err(VaultError::Other("input is already encrypted".into()));
    }
    let salt = random_salt()?;
    let body = encrypt_body(plaintext, secret.password(), &salt)?;
    Ok(format_envelope(&body, Some(&secret.id)))
}

/// `['a', 'b']`, as Python prints a list of strings.
pub(crate) fn py_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", inner.join(", "))
}

fn global() -> &'static RwLock<Arc<Keyring>> {
    static KEYRING: std::sync::OnceLock<RwLock<Arc<Keyring>>> = std::sync::OnceLock::new();
    KEYRING.get_or_init(|| RwLock::new(Arc::new(Keyring::default())))
}

/// Makes `keyring` the one the loaders decrypt with (set once by the
/// command line, before anything is loaded).
pub fn install(keyring: Keyring) {
    let mut g = match global().write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    *g = Arc::new(keyring);
}

/// The run's keyring (empty unless [`install`] was called).
pub fn keyring() -> Arc<Keyring> {
    match global().read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

/// Decrypts vault text with the run's keyring and registers the plaintext
/// as a secret (the whole text and, through the registry, each line).
pub fn decrypt_registered(data: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let ring = keyring();
    let (plain, _) = ring.decrypt(data)?;
    crate::secrets::register(&String::from_utf8_lossy(&plain));
    Ok(plain)
}

/// A controller file's content as Ansible's loader reads it for a module
/// source (`copy`/`template` `src:` …): decrypted when it is a vault (and
/// the plaintext registered), else as is. The error names the file.
pub fn decrypt_file_data(data: Vec<u8>, path: &str) -> Result<Vec<u8>, String> {
    if !is_encrypted(&data) {
        return Ok(data);
    }
    match decrypt_registered(&data) {
        Ok(plain) => Ok(plain.to_vec()),
        Err(e) => Err(format!("{e} for {path}")),
    }
}

/// The plays' `vars_files` that are vaults and cannot be decrypted, found
/// before anything runs (the executor loads vars files per host when the
/// play starts; a wrong password should stop the run before any
/// connection). Only names without templates are checked, up to the first
/// templated candidate of a list.
pub fn check_vars_files(playbooks: &[crate::playbook::Playbook]) -> Vec<crate::error::Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for pb in playbooks {
        for play in &pb.plays {
            for (candidates, _) in &play.vars_files {
                for name in candidates {
                    if name.contains("{{") || name.contains("{%") {
                        break;
                    }
                    let path = pb.dir.join(name);
                    if !path.is_file() {
                        continue;
                    }
                    if seen.insert(path.clone())
                        && let Ok(bytes) = std::fs::read(&path)
                        && is_encrypted(&bytes)
                        && let Err(d) =
                            crate::yaml::decrypt_vault_file(&bytes, &path.display().to_string())
                    {
                        out.push(d);
                    }
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(id: &str, pw: &str) -> Secret {
        Secret::new(id, Zeroizing::new(pw.as_bytes().to_vec()))
    }

    /// A vault written by ansible-vault 2.19.14 (`ansible-vault encrypt
    /// --vault-id lab@file`, password `hoist-fixture-pw`), kept as a file.
    const FIXTURE: &str = include_str!("../tests/fixtures/vault/fixture-1.2.yml.vault");
    const FIXTURE_PLAIN: &str = include_str!("../tests/fixtures/vault/fixture-1.2.yml");

    #[test]
    fn decrypts_the_ansible_vault_fixture() {
        let ring = Keyring::new(vec![
            secret("other", "nope"),
            secret("lab", "hoist-fixture-pw"),
        ]);
        let (plain, used) = ring.decrypt(FIXTURE.as_bytes()).unwrap();
        assert_eq!(std::str::from_utf8(&plain).unwrap(), FIXTURE_PLAIN);
        assert_eq!(used.id, "lab");
        let env = parse_envelope(FIXTURE.as_bytes()).unwrap();
        assert_eq!(env.version, "1.2");
        assert_eq!(env.vault_id.as_deref(), Some("lab"));
    }

    #[test]
    fn round_trip_and_format() {
        let s = secret("default", "pw");
        for len in [0, 1, 15, 16, 17, 100] {
            let plain = "x".repeat(len);
            let text = encrypt(plain.as_bytes(), &s).unwrap();
            assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
            assert!(text.ends_with('\n'));
            assert!(text.lines().skip(1).all(|l| l.len() <= 80));
            let ring = Keyring::new(vec![secret("x", "pw")]);
            assert_eq!(
                &ring.decrypt(text.as_bytes()).unwrap().0[..],
                plain.as_bytes()
            );
        }
        let text = encrypt(b"v", &secret("prod", "pw")).unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        assert!(encrypt(text.as_bytes(), &s).is_err());
    }

    #[test]
    fn wrong_password_tampered_mac_and_bad_padding_are_rejected() {
        let s = secret("default", "right");
        let text = encrypt(b"top secret value", &s).unwrap();
        let wrong = Keyring::new(vec![secret("default", "wrong")]);
        assert_eq!(
            wrong.decrypt(text.as_bytes()).unwrap_err(),
            VaultError::NoMatch
        );
        assert_eq!(
            Keyring::default().decrypt(text.as_bytes()).unwrap_err(),
            VaultError::NoSecrets
        );
        // Flip one ciphertext byte: the MAC check fails before decrypting.
        let env = parse_envelope(text.as_bytes()).unwrap();
        let mut inner = unhex(&env.body).unwrap();
        let last = inner.len() - 1;
        inner[last] = if inner[last] == b'0' { b'1' } else { b'0' };
        let tampered = hex(&inner);
        assert!(matches!(
            decrypt_body(&tampered, b"right"),
            Err(VaultError::Other(m)) if m.contains("HMAC")
        ));
        // A valid MAC over ciphertext whose padding is wrong.
        let salt = [7u8; 32];
        let keys = Keys::derive(b"pw", &salt).unwrap();
        let mut data = b"0123456789abcde\x05".to_vec();
        keys.apply_ctr(&mut data).unwrap();
        let mut mac = keys.hmac().unwrap();
        mac.update(&data);
        let tag = mac.finalize().into_bytes();
        let mut inner = hex(&salt);
        inner.push(b'\n');
        inner.extend(hex(&tag));
        inner.push(b'\n');
        inner.extend(hex(&data));
        assert!(matches!(
            decrypt_body(&hex(&inner), b"pw"),
            Err(VaultError::Other(m)) if m.contains("padding")
        ));
        // Not hex at all.
        assert!(matches!(
            decrypt_body(b"zz", b"pw"),
            Err(VaultError::Format(_))
        ));
    }

    #[test]
    fn header_id_is_tried_first_but_not_trusted() {
        let text = encrypt(b"v", &secret("a", "pw-a")).unwrap();
        // The header says `b`, but only `a`'s password opens it.
        let lied = text.replacen(";1.2;AES256;a", ";1.2;AES256;b", 1);
        let ring = Keyring::new(vec![secret("b", "pw-b"), secret("a", "pw-a")]);
        assert_eq!(ring.decrypt(lied.as_bytes()).unwrap().1.id, "a");
    }

    #[test]
    fn inline_values_with_indentation_parse() {
        let text = encrypt(b"inline", &secret("default", "pw")).unwrap();
        let indented: String = text.lines().map(|l| format!("          {l}\n")).collect();
        let ring = Keyring::new(vec![secret("default", "pw")]);
        assert_eq!(&ring.decrypt(indented.as_bytes()).unwrap().0[..], b"inline");
    }

    #[test]
    fn encrypt_secret_choice() {
        let ring = Keyring::new(vec![secret("a", "1"), secret("b", "2")]);
        assert_eq!(ring.encrypt_secret(None).unwrap().id, "a");
        assert_eq!(ring.encrypt_secret(Some("b")).unwrap().id, "b");
        let e = ring.encrypt_secret(Some("c")).unwrap_err().to_string();
        assert_eq!(
            e,
            "Did not find a match for --encrypt-vault-id=c in the known vault-ids ['a', 'b']"
        );
    }
}
