//! Colours as ansible-playbook's default callback uses them: the SGR codes
//! of ansible-core's default `COLOR_*` settings, each line of a text
//! coloured on its own (as ansible's `stringc`), and the rule for when
//! there is colour at all.

/// `COLOR_OK` (green).
pub const OK: &str = "0;32";
/// `COLOR_CHANGED` (yellow).
pub const CHANGED: &str = "0;33";
/// `COLOR_ERROR` (red).
pub const ERROR: &str = "0;31";
/// `COLOR_SKIP` (cyan).
pub const SKIP: &str = "0;36";
/// `COLOR_UNREACHABLE` (bright red).
pub const UNREACHABLE: &str = "1;31";
/// `COLOR_WARN` (bright purple).
pub const WARN: &str = "1;35";
/// `COLOR_DEBUG` (dark gray): retries.
pub const DEBUG: &str = "1;30";
/// `COLOR_INCLUDED` (cyan).
pub const INCLUDED: &str = "0;36";
/// `COLOR_DIFF_ADD` (green).
pub const DIFF_ADD: &str = "0;32";
/// `COLOR_DIFF_REMOVE` (red).
pub const DIFF_REMOVE: &str = "0;31";
/// `COLOR_DIFF_LINES` (cyan).
pub const DIFF_LINES: &str = "0;36";

/// `text` in `code`, each line on its own (a line's colour never runs
/// into the next); the newlines stay uncoloured, and empty lines bare.
pub fn paint(text: &str, code: &str) -> String {
    text.split('\n')
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("\x1b[{code}m{line}\x1b[0m")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A unified diff coloured as the default callback's `_get_diff`: `+`
/// lines green, `-` lines red, `@@` lines cyan, the rest as it is.
pub fn diff(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            if line.starts_with('+') {
                paint(line, DIFF_ADD)
            } else if line.starts_with('-') {
                paint(line, DIFF_REMOVE)
            } else if line.starts_with("@@") {
                paint(line, DIFF_LINES)
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A boolean setting as ansible-core reads one (`yes`, `on`, `1`,
/// `true`, `t`, `y`; anything else is false).
fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "on" | "1" | "true" | "t"
    )
}

/// Whether output gets colour, as ansible-core's `ANSIBLE_COLOR`: none
/// with `NO_COLOR` (any non-empty value, as no-color.org asks) or
/// `ANSIBLE_NOCOLOR`/`HOIST_NOCOLOR`, none when the stream is not a
/// terminal or the terminal is `dumb`; `ANSIBLE_FORCE_COLOR`/
/// `HOIST_FORCE_COLOR` turn it on whatever else holds.
pub fn enabled(env: &dyn Fn(&str) -> Option<String>, is_tty: bool) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| truthy(&v));
    if set("ANSIBLE_FORCE_COLOR") || set("HOIST_FORCE_COLOR") {
        return true;
    }
    let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
    if no_color || set("ANSIBLE_NOCOLOR") || set("HOIST_NOCOLOR") {
        return false;
    }
    is_tty && env("TERM").is_none_or(|t| t != "dumb")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn colour_follows_the_terminal_and_the_environment() {
        assert!(enabled(&env_of(&[]), true));
        assert!(!enabled(&env_of(&[]), false));
        assert!(!enabled(&env_of(&[("NO_COLOR", "1")]), true));
        // An empty NO_COLOR does not count.
        assert!(enabled(&env_of(&[("NO_COLOR", "")]), true));
        assert!(!enabled(&env_of(&[("ANSIBLE_NOCOLOR", "yes")]), true));
        assert!(enabled(&env_of(&[("ANSIBLE_NOCOLOR", "false")]), true));
        assert!(!enabled(&env_of(&[("TERM", "dumb")]), true));
        // Forcing wins, as in ansible-core, even off a terminal.
        assert!(enabled(&env_of(&[("ANSIBLE_FORCE_COLOR", "1")]), false));
        assert!(enabled(
            &env_of(&[("HOIST_FORCE_COLOR", "true"), ("NO_COLOR", "1")]),
            false
        ));
    }

    #[test]
    fn lines_are_coloured_one_by_one() {
        assert_eq!(paint("a\nb", OK), "\x1b[0;32ma\x1b[0m\n\x1b[0;32mb\x1b[0m");
        assert_eq!(paint("a\n", OK), "\x1b[0;32ma\x1b[0m\n");
        assert_eq!(
            diff("--- before\n+++ after\n@@ -1 +1 @@\n-x\n+y\n z\n"),
            "\x1b[0;31m--- before\x1b[0m\n\x1b[0;32m+++ after\x1b[0m\n\x1b[0;36m@@ -1 +1 @@\x1b[0m\n\x1b[0;31m-x\x1b[0m\n\x1b[0;32m+y\x1b[0m\n z\n"
        );
    }
}
