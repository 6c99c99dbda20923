//! Unified diffs for `--diff` output.

use similar::TextDiff;

/// A unified diff of two texts with `---`/`+++` headers, three lines of
/// context, and `\ No newline at end of file` markers as diff(1) prints.
pub fn unified(before: &str, after: &str, before_header: &str, after_header: &str) -> String {
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_secs(2))
        .diff_lines(before, after);
    let mut out = String::new();
    let body = diff
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .header(before_header, after_header)
        .to_string();
    out.push_str(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_hunks_with_headers() {
        let d = unified("a\nb\nc\n", "a\nB\nc\n", "before: /f", "after: /f");
        assert_eq!(
            d,
            "--- before: /f\n+++ after: /f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        );
    }
}
