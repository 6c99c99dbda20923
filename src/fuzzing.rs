//! What the fuzz targets run (`fuzz/fuzz_targets/*.rs`, see
//! `docs/fuzzing.md`): one function per target, taking the fuzzer's bytes.
//!
//! Not part of hoist's interface. The functions live here, not in the fuzz
//! crate, so that the regression test (`tests/integration/fuzz_regressions.rs`)
//! replays every input under `fuzz/regressions/` and `fuzz/corpus/` through
//! exactly the code the fuzzers run, without cargo-fuzz or a nightly
//! compiler. Each one must return (errors are fine) and never panic, loop or
//! blow up memory, whatever the bytes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use minijinja::Value;
use russh::keys::{Certificate, PublicKey};

use crate::connection::known_hosts::{KnownHosts, host_field_matches};
use crate::connection::ssh_config::{
    LocalEnv, Overrides, SshConfig, parse_proxy_jump, parse_ssh_args,
};
use crate::inventory::Inventory;
use crate::template::{Templar, VarScope};
use crate::vault::{Keyring, Secret};

/// One target: it takes the fuzzer's bytes.
pub type Target = fn(&[u8]);

/// The targets by name (the names of `fuzz/fuzz_targets/*.rs` and of the
/// folders under `fuzz/corpus/` and `fuzz/regressions/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("yaml", yaml),
    ("inventory_ini", inventory_ini),
    ("inventory_yaml", inventory_yaml),
    ("template", template),
    ("vault", vault),
    ("known_hosts", known_hosts),
    ("ssh_config", ssh_config),
];

/// Bytes as text the way hoist's loaders read files they do not refuse
/// outright: invalid UTF-8 replaced.
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The YAML loader: what `yaml::load_file` does with a file's bytes (a
/// vault file is decrypted with the run's keyring, here none: an error;
/// other bytes must be UTF-8), then the value conversion.
pub fn yaml(data: &[u8]) {
    const NAME: &str = "/fuzz/input.yml";
    if crate::vault::is_encrypted(data) {
        let _ = crate::yaml::decrypt_vault_file(data, NAME);
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(node) = crate::yaml::load_str(text, NAME) {
        let _ = node.to_value();
        let _ = node.key_text();
    }
}

/// Walks a parsed inventory as a run does: host and group lists, each
/// host's merged variables and their sources, a few patterns.
fn use_inventory(inv: &Inventory) {
    let hosts = inv.hosts();
    for h in hosts.iter().take(64) {
        let _ = inv.host_vars(h);
        let _ = inv.var_sources(h);
        let _ = inv.group_names(h);
    }
    for g in inv.group_list().iter().take(64) {
        let _ = inv.group_vars(g);
        let _ = inv.group_members(g);
    }
    let _ = inv.groups_map();
    for pattern in ["all", "ungrouped", "*", "web*:&db:!x", "~^a.*", "all[0:2]"] {
        let _ = inv.select(pattern);
    }
}

/// The INI inventory parser (a file with no YAML extension).
pub fn inventory_ini(data: &[u8]) {
    if let Ok(inv) = Inventory::parse_text(&text(data), "/fuzz/hosts", false) {
        use_inventory(&inv);
    }
}

/// The YAML inventory parser (a `.yml` file).
pub fn inventory_yaml(data: &[u8]) {
    if let Ok(inv) = Inventory::parse_text(&text(data), "/fuzz/hosts.yml", true) {
        use_inventory(&inv);
    }
}

fn templar() -> Arc<Templar> {
    static T: OnceLock<Arc<Templar>> = OnceLock::new();
    T.get_or_init(|| Arc::new(Templar::for_fuzzing())).clone()
}

/// Template rendering ([`Templar::for_fuzzing`]: no lookups, limited fuel):
/// the text rendered as a task argument, a template
/// file, an expression and a condition, with a few fixed variables, some of
/// them templates referring to each other; and the same text as the value
/// of a variable that others refer to (lazily templated, recursively).
pub fn template(data: &[u8]) {
    let t = templar();
    let text = text(data);
    let mut vars: IndexMap<String, Value> = IndexMap::new();
    vars.insert("n".into(), Value::from(3));
    vars.insert("s".into(), Value::from("two words"));
    vars.insert("items".into(), Value::from(vec![1, 2, 3]));
    vars.insert(
        "d".into(),
        crate::template::vmap([("k", Value::from("v")), ("n", Value::from(1))]),
    );
    vars.insert("t1".into(), Value::from("{{ n + 1 }}"));
    vars.insert("t2".into(), Value::from("{{ t1 }} and {{ s }}"));
    vars.insert("fuzz".into(), Value::from(text.as_ref()));
    vars.insert("uses_fuzz".into(), Value::from("<{{ fuzz }}>"));
    vars.insert(
        "nested".into(),
        Value::from(vec![
            Value::from("{{ uses_fuzz }}"),
            Value::from("{{ t2 }}"),
        ]),
    );
    let scope = VarScope::new(t.clone(), vars);
    let ctx = scope.value();
    let _ = t.check_syntax(&text);
    let _ = t.render_str(&text, &ctx);
    let _ = t.render_text(&text, &ctx);
    let _ = t.eval(&text, &ctx);
    let _ = t.cond(&text, &ctx);
    // The text as a variable's value, reached through other variables.
    let scope = VarScope::new(t.clone(), scope.raw().clone());
    for name in ["uses_fuzz", "nested", "fuzz"] {
        let _ = scope.var(name);
    }
}

/// The vault target's keyring: the passwords of the repository's vault
/// files (`playbooks/vault-password.txt`, `tests/fixtures/vault/README`),
/// so that the seed corpus decrypts and the fuzzer starts from there.
pub const VAULT_SECRETS: [(&str, &str); 2] = [
    ("lab", "hoist-fixture-pw"),
    ("default", "demo-vault-password-not-a-secret"),
];

/// Vault decoding: the bytes as a vault file or `!vault` value (1.1, or
/// 1.2 with a vault id), opened with [`VAULT_SECRETS`]. Every malformed
/// input is an error.
pub fn vault(data: &[u8]) {
    let keyring = Keyring::new(
        VAULT_SECRETS
            .iter()
            .map(|(id, pw)| Secret::new(*id, zeroize::Zeroizing::new(pw.as_bytes().to_vec())))
            .collect(),
    );
    let _ = crate::vault::parse_envelope(data);
    let _ = keyring.decrypt(data);
}

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOo56js7Q7w5R4Urg/FqLQHZRLy4DnwkvheoUyTvOpfz";
const KEY_RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC+fOcVuk2THkke3O2VPwxOKRlrQp1BLs9pETcDDCMXdelm4ez7xxKTLXaQjaWFMegybSnyLkghr+ilNiS6oHMh6VD4EQiBZpit0bX7g+F/hUhQzZmFuEhMyi9QkfDg1h9h0N82XRLOhbJh5IPDlcLBGUp2HnOUymxvChAxFxK/xqQFqaeNZDPjN/ve+78qFpaMJf/4GDuSByXQyKVGYVTPL6TdbNtB1g59xMNkMxA7cE7TQ2eCtIQmZUJjYW97jf9yBDXNXDbPlVBdXy+VzdK0W9lbbt93AFqiSrJfFxCHjZo1fohTR2KjiyrrN1TR4KC0KSm8HygEKXapNXIxcllv";
/// A host certificate for `server.example.com` and `*.wild.example`.
const CERT: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIAV4b1FZFNZdAL0PkpUO0fsMoELNy7zSpTAcOdA2VYoQAAAAILQ5GFKZAptLoPcv9pH4eI9tnAThZ0yyl7jAlNYVe0tUAAAAAAAAAAAAAAACAAAACGhvc3RjZXJ0AAAAKAAAABJzZXJ2ZXIuZXhhbXBsZS5jb20AAAAOKi53aWxkLmV4YW1wbGUAAAAAAAAAAP//////////AAAAAAAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACDjplU21w9CHRY5ENIfUpgUqJSp0TVuzsmTFSJnRitplgAAAFMAAAALc3NoLWVkMjU1MTkAAABA2iyDnHXDe057/rJJDDe0m6NwJejOwXMG5n7swUpmWdGEoecrzBsC5v6qNOW0BZSQg4k1x3dGBkdHn+o7bBPhBA== cc";

struct Keys {
    ed: PublicKey,
    rsa: PublicKey,
    cert: Certificate,
}

fn keys() -> Option<&'static Keys> {
    static K: OnceLock<Option<Keys>> = OnceLock::new();
    K.get_or_init(|| {
        Some(Keys {
            ed: PublicKey::from_openssh(KEY_A).ok()?,
            rsa: PublicKey::from_openssh(KEY_RSA).ok()?,
            cert: Certificate::from_openssh(CERT).ok()?,
        })
    })
    .as_ref()
}

/// known_hosts parsing, then lookups of fixed keys and a certificate under
/// a few names (plain, `[host]:port`, an address, a certificate principal).
pub fn known_hosts(data: &[u8]) {
    let kh = KnownHosts::parse_str(&text(data), Path::new("/fuzz/known_hosts"));
    let _ = kh.warnings();
    let Some(k) = keys() else {
        return;
    };
    for (host, port) in [("server.example.com", 22), ("web1", 2222), ("10.0.0.5", 22)] {
        let _ = kh.check(host, port, &k.ed);
        let _ = kh.check(host, port, &k.rsa);
        let _ = kh.check_with_address(host, Some("192.0.2.7"), port, &k.ed);
        let _ = kh.check_certificate(host, port, &k.cert);
        let _ = kh.has_cert_authority(host, port);
        let _ = kh.algorithms_for(host, port);
    }
    if let Some(field) = text(data).split_whitespace().next() {
        let _ = host_field_matches(field, "server.example.com");
    }
}

/// ssh_config parsing and resolution of a few names, with the text also
/// taken as `ansible_ssh_args`-style options (their overrides applied) and
/// as a `ProxyJump` value. Text with an `Include` is not parsed as a file:
/// including reads the file system, which a fuzzer must not steer.
pub fn ssh_config(data: &[u8]) {
    let text = text(data);
    let _ = parse_proxy_jump(&text);
    let overrides = match parse_ssh_args(&text) {
        Ok((_, o)) => {
            let _ = o.validate();
            o
        }
        Err(_) => Overrides::new(),
    };
    if text.to_ascii_lowercase().contains("include") {
        return;
    }
    let Ok(cfg) = SshConfig::parse_str(&text, "/fuzz/ssh_config") else {
        return;
    };
    let _ = cfg.warnings();
    let env = LocalEnv {
        user: "fuzz".into(),
        uid: 1000,
        home: PathBuf::from("/home/fuzz"),
        hostname: "control.example.com".into(),
    };
    for alias in ["web1", "server.example.com", "10.0.0.5"] {
        let target = cfg.resolve_with_env(alias, &Overrides::new(), &env);
        let _ = target.host_key_name();
        let _ = target.all_known_hosts_files();
        for jump in &target.proxy_jump {
            let _ = cfg.resolve_with_env(&jump.host, &jump.overrides(), &env);
        }
        let _ = cfg.resolve_with_env(alias, &overrides, &env);
    }
}
