//! The run's secrets: plaintexts hoist must never print. Whatever learns a
//! secret (a decrypted vault value, a `no_log` task's arguments, a
//! `--secret-env` variable, a value rendered from a secret) registers it
//! here; every place that writes output for people or machines passes its
//! text through [`redact`], which shows each occurrence as [`MASK`].
//!
//! Matching is by exact substring (leftmost-longest). Values shorter than
//! [`MIN_LEN`] characters are not matched inside other text: masking every
//! `1` or `no` in the output would hide everything and protect nothing.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret looks like in output.
pub const MASK: &str = "********";

/// The shortest secret that is masked inside other text.
pub const MIN_LEN: usize = 4;

#[derive(Default)]
struct Registry {
    secrets: Vec<String>,
    matcher: Option<Arc<AhoCorasick>>,
}

fn registry() -> &'static RwLock<Registry> {
    static REGISTRY: std::sync::OnceLock<RwLock<Registry>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(Registry::default()))
}

/// Remembers `secret` (and each of its lines, for output that splits
/// text into lines) so that it is masked from now on.
pub fn register(secret: &str) {
    let mut parts: Vec<&str> = vec![secret];
    if secret.contains('\n') {
        parts.extend(secret.lines());
    }
    let parts: Vec<&str> = parts
        .into_iter()
        .map(|p| p.trim_end_matches('\r'))
        .filter(|p| p.chars().count() >= MIN_LEN)
        .collect();
    if parts.is_empty() {
        return;
    }
    let mut reg = match registry().write() {
        Ok(r) => r,
        Err(p) => p.into_inner(),
    };
    let mut added = false;
    for p in parts {
        if !reg.secrets.iter().any(|s| s == p) {
            reg.secrets.push(p.to_owned());
            added = true;
        }
    }
    if added {
        reg.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&reg.secrets)
            .ok()
            .map(Arc::new);
    }
}

/// Whether any secret is known (when none is, nothing needs checking).
pub fn any() -> bool {
    registry().read().map_or(true, |r| !r.secrets.is_empty())
}

fn matcher() -> Option<Arc<AhoCorasick>> {
    registry().read().ok().and_then(|r| r.matcher.clone())
}

/// Whether `text` contains a registered secret.
pub fn contains(text: &str) -> bool {
    matcher().is_some_and(|m| m.is_match(text))
}

/// `text` with every registered secret in it shown as [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    match matcher() {
        Some(m) if m.is_match(text) => {
            let masks = vec![MASK; m.patterns_len()];
            Cow::Owned(m.replace_all(text, &masks))
        }
        _ => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The registry is global: each test uses secrets of its own.
    #[test]
    fn masks_registered_values_longest_first() {
        assert_eq!(redact("pw=hunter2-a"), "pw=hunter2-a");
        register("hunter2-a");
        register("hunter2-abc");
        register("no");
        assert!(any());
        assert!(contains("x hunter2-a y"));
        assert_eq!(
            redact("a hunter2-abc b hunter2-a c no"),
            "a ******** b ******** c no"
        );
    }

    #[test]
    fn multi_line_secrets_mask_line_by_line_too() {
        register("first-line-xyz\nsecond-line-xyz\n");
        assert_eq!(redact("got: second-line-xyz"), format!("got: {MASK}"));
        assert_eq!(
            redact("first-line-xyz\nsecond-line-xyz\n"),
            format!("{MASK}")
        );
    }
}
