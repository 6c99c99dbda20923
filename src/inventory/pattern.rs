//! Host patterns, as Ansible's `InventoryManager` reads them: `a:b`, `a,b`,
//! `a:&b`, `a:!b`, shell wildcards, `~regex`, and `group[0]`, `group[-1]`,
//! `group[1:3]`, `group[1:]` subscripts.

use std::sync::OnceLock;

use regex::Regex;

use super::addr::parse_address;

/// Splits a pattern into single patterns (Ansible's `split_host_pattern`):
/// on commas if there is one; otherwise the whole text when it is one
/// address (`host:22`, `::1`, `web[1:3]`), else on colons outside brackets
/// (and on whitespace).
pub fn split_host_pattern(pattern: &str) -> Vec<String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if parse_address(pattern, true).is_ok() {
        vec![pattern.to_string()]
    } else {
        static R: OnceLock<Regex> = OnceLock::new();
        let re = R.get_or_init(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").expect("static regex"));
        re.find_iter(pattern)
            .map(|m| m.as_str().to_string())
            .collect()
    };
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Regular patterns first, then `&` intersections, then `!` exclusions;
/// with no regular pattern, `all` is implied.
pub fn order_patterns(patterns: &[String]) -> Vec<String> {
    let mut regular = Vec::new();
    let mut and = Vec::new();
    let mut not = Vec::new();
    for p in patterns.iter().filter(|p| !p.is_empty()) {
        if p.starts_with('!') {
            not.push(p.clone());
        } else if p.starts_with('&') {
            and.push(p.clone());
        } else {
            regular.push(p.clone());
        }
    }
    if regular.is_empty() {
        regular.push("all".to_string());
    }
    regular.into_iter().chain(and).chain(not).collect()
}

/// A subscript: `[i]` is `(i, None)`; `[i:j]` is `(i, Some(j))` with an
/// omitted end as `-1` (to the last host), as Ansible stores it.
pub type Subscript = (i64, Option<i64>);

/// Separates a trailing `[i]`, `[i:j]` or `[i:]` from a pattern. `~regex`
/// patterns never have one. (The Ansible documentation also shows `[:j]`,
/// but ansible-core does not parse it: such a pattern matches nothing, here
/// too.)
pub fn split_subscript(pattern: &str) -> (String, Option<Subscript>) {
    if pattern.starts_with('~') {
        return (pattern.to_string(), None);
    }
    static R: OnceLock<Regex> = OnceLock::new();
    let re = R.get_or_init(|| {
        Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").expect("static regex")
    });
    let Some(c) = re.captures(pattern) else {
        return (pattern.to_string(), None);
    };
    let base = c[1].to_string();
    if let Some(idx) = c.get(2) {
        return match idx.as_str().parse() {
            Ok(i) => (base, Some((i, None))),
            Err(_) => (pattern.to_string(), None),
        };
    }
    let start: i64 = c[3].parse().unwrap_or(i64::MAX);
    let end: i64 = match &c[5] {
        "" => -1,
        e => e.parse().unwrap_or(i64::MAX),
    };
    (base, Some((start, Some(end))))
}

/// Applies a subscript as Ansible's `_apply_subscript`: `[i:j]` is
/// inclusive, `[i]` may be negative; an index past the end is an error.
pub fn apply_subscript(
    hosts: Vec<String>,
    sub: Option<Subscript>,
    pattern: &str,
) -> Result<Vec<String>, String> {
    let Some((start, end)) = sub else {
        return Ok(hosts);
    };
    if hosts.is_empty() {
        return Ok(hosts);
    }
    let len = hosts.len() as i64;
    match end {
        Some(end) if end != 0 => {
            let end = if end == -1 { len - 1 } else { end };
            let lo = start.clamp(0, len) as usize;
            let hi = end.saturating_add(1).clamp(0, len) as usize;
            Ok(if lo < hi {
                hosts[lo..hi].to_vec()
            } else {
                Vec::new()
            })
        }
        _ => {
            let i = if start < 0 { len + start } else { start };
            if (0..len).contains(&i) {
                Ok(vec![hosts[i as usize].clone()])
            } else {
                Err(format!(
                    "No hosts matched the subscripted pattern '{pattern}'"
                ))
            }
        }
    }
}

/// Compiles a single pattern: `~regex` (anchored at the start only, as
/// Python's `re.match`) or a shell wildcard (anchored at both ends).
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let source = match pattern.strip_prefix('~') {
        Some(re) => format!("^(?:{re})"),
        None => fnmatch_translate(pattern),
    };
    Regex::new(&source).map_err(|_| format!("Invalid host list pattern: {pattern}"))
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`, case-sensitive.
pub fn fnmatch_translate(pat: &str) -> String {
    let chars: Vec<char> = pat.chars().collect();
    let mut out = String::from("(?s)^(?:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                if !out.ends_with(".*") {
                    out.push_str(".*");
                }
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str(r"\[");
                    continue;
                }
                let stuff: Vec<char> = chars[i..j].to_vec();
                i = j + 1;
                if stuff.is_empty() {
                    out.push_str("[^\\s\\S]");
                    continue;
                }
                if stuff == ['!'] {
                    out.push('.');
                    continue;
                }
                let (negate, body) = if stuff[0] == '!' {
                    (true, &stuff[1..])
                } else {
                    (false, &stuff[..])
                };
                out.push('[');
                if negate {
                    out.push('^');
                }
                for (k, ch) in body.iter().enumerate() {
                    match ch {
                        // A `-` between two members is a range; escape the rest.
                        '-' if k > 0 && k + 1 < body.len() => out.push('-'),
                        '\\' | '[' | ']' | '^' | '&' | '~' | '|' | '-' => {
                            out.push('\\');
                            out.push(*ch);
                        }
                        _ => out.push(*ch),
                    }
                }
                out.push(']');
            }
            _ => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")$");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(p: &str) -> Vec<String> {
        split_host_pattern(p)
    }

    #[test]
    fn splitting_as_ansible() {
        assert_eq!(split("a,b[1], c[2:3] , d"), ["a", "b[1]", "c[2:3]", "d"]);
        assert_eq!(
            split("web:db:&staging:!phoenix"),
            ["web", "db", "&staging", "!phoenix"]
        );
        assert_eq!(split("web[1:3]"), ["web[1:3]"]);
        assert_eq!(split("host:22"), ["host:22"]);
        assert_eq!(split("::1"), ["::1"]);
        assert_eq!(split("web*:db"), ["web*", "db"]);
        assert_eq!(split("g[0:1]:h"), ["g[0:1]", "h"]);
        assert!(split("").is_empty());
    }

    #[test]
    fn subscripts() {
        assert_eq!(split_subscript("web[0]"), ("web".into(), Some((0, None))));
        assert_eq!(split_subscript("web[-1]"), ("web".into(), Some((-1, None))));
        assert_eq!(
            split_subscript("web[1:2]"),
            ("web".into(), Some((1, Some(2))))
        );
        assert_eq!(
            split_subscript("web[1:]"),
            ("web".into(), Some((1, Some(-1))))
        );
        assert_eq!(split_subscript("web[:1]"), ("web[:1]".into(), None));
        assert_eq!(
            split_subscript("web[0-1]"),
            ("web".into(), Some((0, Some(1))))
        );
        assert_eq!(split_subscript("~web[0]"), ("~web[0]".into(), None));
        assert_eq!(split_subscript("web[:]"), ("web[:]".into(), None));
        let hosts: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            apply_subscript(hosts.clone(), Some((1, Some(-1))), "x").unwrap(),
            ["b", "c"]
        );
        assert_eq!(
            apply_subscript(hosts.clone(), Some((-1, None)), "x").unwrap(),
            ["c"]
        );
        assert_eq!(
            apply_subscript(hosts.clone(), Some((5, Some(9))), "x").unwrap(),
            Vec::<String>::new()
        );
        assert!(
            apply_subscript(hosts, Some((3, None)), "g[3]")
                .unwrap_err()
                .contains("g[3]")
        );
    }

    #[test]
    fn wildcards() {
        let re = compile("web*.example.com").unwrap();
        assert!(re.is_match("web1.example.com"));
        assert!(!re.is_match("web1.example.com.au"));
        assert!(!re.is_match("xweb1.example.com"));
        let re = compile("db[!0-2]").unwrap();
        assert!(re.is_match("db3") && !re.is_match("db1"));
        assert!(compile("a[").unwrap().is_match("a["));
        let re = compile("~(web|db)\\d").unwrap();
        assert!(re.is_match("web1.x") && !re.is_match("xweb1"));
        assert!(compile("~(").is_err());
    }
}
