//! Host addresses and host ranges, as Ansible's `parse_address` and
//! `expand_hostname_range` understand them.
//!
//! * `host:2222`, `192.0.2.1:22`, `[2001:db8::1]:22` carry a port;
//! * `web[01:20].example.com`, `db-[a:f].x`, `h[1:10:2]` are ranges: a
//!   leading zero fixes the width, the optional third part is a stride.

use std::net::Ipv6Addr;
use std::sync::OnceLock;

use regex::Regex;

/// An alphanumeric `[begin:end(:step)]` range as a hostname label may hold.
const ALNUM_RANGE: &str = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]";
/// Numeric and hexadecimal ranges, allowed inside IP addresses.
const NUM_RANGE: &str = r"\[[0-9]+:[0-9]+(?::[0-9]+)?\]";
const HEX_RANGE: &str = r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]";

fn cached(cell: &'static OnceLock<Regex>, pattern: impl FnOnce() -> String) -> &'static Regex {
    cell.get_or_init(|| Regex::new(&pattern()).expect("static regex"))
}

fn bracketed_hostport() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    cached(&R, || r"^\[(.+)\]:([0-9]+)$".into())
}

fn hostport() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    cached(&R, || r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$".into())
}

/// A DNS-ish name whose labels may contain ranges. A label starts with a
/// word character or a range and may not end with `-` or `_` (Ansible uses
/// a look-behind for that; the `regex` crate has none, so the last element
/// is spelled out).
fn hostname() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    cached(&R, || {
        let r = ALNUM_RANGE;
        let label = format!(r"(?:(?:[^\W_]|{r})|(?:\w|{r})(?:[\w-]|{r})*(?:[^\W_]|{r}))");
        format!(r"(?i)^{label}(?:\.{label})*$")
    })
}

fn ipv4() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    cached(&R, || {
        let c = format!(r"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{NUM_RANGE})");
        format!(r"^(?:{c}\.){{3}}{c}$")
    })
}

fn hex_range() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    cached(&R, || format!("(?i){HEX_RANGE}"))
}

/// True for an IPv4 address, ranges allowed in place of any octet.
pub fn is_ipv4(s: &str) -> bool {
    ipv4().is_match(s)
}

/// True for an IPv6 address, ranges allowed in place of any group.
pub fn is_ipv6(s: &str) -> bool {
    if !s.contains(':') {
        return false;
    }
    let plain = hex_range().replace_all(s, "0");
    plain.parse::<Ipv6Addr>().is_ok()
}

/// Splits `address` into a host and an optional port, as Ansible's
/// `parse_address`. Fails when what is left is not an IPv4/IPv6 address or a
/// host name (with ranges only when `allow_ranges`).
pub fn parse_address(address: &str, allow_ranges: bool) -> Result<(String, Option<i64>), String> {
    let mut host = address.to_string();
    let mut port = None;
    for re in [bracketed_hostport(), hostport()] {
        if let Some(c) = re.captures(&host) {
            let h = c[1].to_string();
            port = Some(
                c[2].parse::<i64>()
                    .map_err(|_| format!("port `{}` is out of range", &c[2]))?,
            );
            host = h;
        }
    }
    let valid = is_ipv4(&host) || is_ipv6(&host) || hostname().is_match(&host);
    if !valid {
        return Err(format!("Not a valid network hostname: {host}"));
    }
    if !allow_ranges && host.contains('[') {
        return Err("Detected range in host but was asked to ignore ranges".into());
    }
    Ok((host, port))
}

/// A host key from an inventory file: the host names it expands to and the
/// port it names, if any (Ansible's `_expand_hostpattern`). Something that
/// is not a recognisable address is taken as a literal name.
pub fn expand_hostpattern(pattern: &str) -> Result<(Vec<String>, Option<i64>), String> {
    let (name, port) = match parse_address(pattern, true) {
        Ok(v) => v,
        // `host:99999999999999999999` has a bad port; it is not a name.
        Err(e) if e.starts_with("port ") => return Err(e),
        Err(_) => (pattern.to_string(), None),
    };
    let names = if name.contains('[') {
        expand_range(&name)?
    } else {
        vec![name]
    };
    Ok((names, port))
}

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn py_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// Expands the first `[begin:end(:step)]` of `line`, then any further ones,
/// exactly as Ansible's `expand_hostname_range`.
pub fn expand_range(line: &str) -> Result<Vec<String>, String> {
    // Ansible replaces the first `[` and the first `]` by `|` and splits.
    let first_open = line.replacen('[', "|", 1).replacen(']', "|", 1);
    let parts: Vec<&str> = first_open.split('|').collect();
    let [head, nrange, tail] = parts[..] else {
        return Err(format!("invalid host range in `{line}`"));
    };
    let bounds: Vec<&str> = nrange.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err("host range must be begin:end or begin:end:step".into());
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    let step = bounds.get(2).copied().unwrap_or("1");
    if end.is_empty() {
        return Err("host range must specify end value".into());
    }
    let width = if beg.starts_with('0') && beg.len() > 1 {
        if beg.len() != end.len() {
            return Err("host range must specify equal-length begin and end formats".into());
        }
        beg.len()
    } else {
        0
    };
    let fill = |s: String| format!("{s:0>width$}");

    let mut seq: Vec<String> = Vec::new();
    let mut alpha = false;
    if let (Some(b), Some(e)) = (LETTERS.find(beg), LETTERS.find(end)) {
        if b > e {
            return Err("host range must have begin <= end".into());
        }
        // A zero or non-numeric step makes Python fall back to the numeric
        // branch, which then fails on the letters.
        if let Some(st) = py_int(step).filter(|s| *s != 0) {
            alpha = true;
            let letters: Vec<char> = LETTERS[b..=e].chars().collect();
            // Python slicing with a negative step from begin up to end is empty.
            if st > 0 {
                seq = letters
                    .iter()
                    .step_by(st as usize)
                    .map(|c| c.to_string())
                    .collect();
            }
        }
    }
    if !alpha {
        let (Some(b), Some(e), Some(st)) = (py_int(beg), py_int(end), py_int(step)) else {
            return Err(format!(
                "invalid host range `[{nrange}]`: bounds must be numbers or single letters"
            ));
        };
        if st == 0 {
            return Err(format!(
                "invalid host range `[{nrange}]`: the step cannot be zero"
            ));
        }
        // In i128: bounds near i64's limits must not overflow.
        let (mut i, stop, st) = (i128::from(b), i128::from(e) + 1, i128::from(st));
        while (st > 0 && i < stop) || (st < 0 && i > stop) {
            seq.push(i.to_string());
            if seq.len() > 1_000_000 {
                return Err(format!("host range `[{nrange}]` is too large"));
            }
            i += st;
        }
    }
    let mut out = Vec::new();
    for item in seq {
        let name = format!("{head}{}{tail}", fill(item));
        if name.contains('[') {
            out.extend(expand_range(&name)?);
        } else {
            out.push(name);
        }
        if out.len() > 1_000_000 {
            return Err(format!("host range in `{line}` expands to too many hosts"));
        }
    }
    Ok(out)
}

/// `127.0.0.1`, `localhost` and `::1`: names that get an implicit local host.
pub const LOCALHOST: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_at_the_integer_limits() {
        assert_eq!(
            expand_range("h[9223372036854775806:9223372036854775807]").unwrap(),
            vec!["h9223372036854775806", "h9223372036854775807"]
        );
        assert_eq!(
            expand_range("h[0:9223372036854775807:4611686018427387904]").unwrap(),
            vec!["h0", "h4611686018427387904"]
        );
        assert!(expand_range("h[-9223372036854775808:9223372036854775807]").is_err());
        assert!(
            expand_hostpattern("web:99999999999999999999")
                .unwrap_err()
                .contains("out of range")
        );
    }

    #[test]
    fn ports_and_addresses() {
        assert_eq!(
            parse_address("web1:2222", true).unwrap(),
            ("web1".into(), Some(2222))
        );
        assert_eq!(
            parse_address("192.0.2.1:22", true).unwrap(),
            ("192.0.2.1".into(), Some(22))
        );
        assert_eq!(
            parse_address("[2001:db8::1]:22", true).unwrap(),
            ("2001:db8::1".into(), Some(22))
        );
        assert_eq!(parse_address("::1", true).unwrap(), ("::1".into(), None));
        assert_eq!(
            parse_address("web[01:03].example.com:22", true).unwrap(),
            ("web[01:03].example.com".into(), Some(22))
        );
        assert!(parse_address("web*", true).is_err());
        assert!(parse_address("bad_", true).is_err());
        assert!(parse_address("a:b", true).is_err());
        assert!(parse_address("web[1:3]", false).is_err());
    }

    #[test]
    fn numeric_ranges_keep_width() {
        let (names, port) = expand_hostpattern("web[01:03].example.com").unwrap();
        assert_eq!(
            names,
            [
                "web01.example.com",
                "web02.example.com",
                "web03.example.com"
            ]
        );
        assert_eq!(port, None);
        assert_eq!(
            expand_range("h[1:10:3]").unwrap(),
            ["h1", "h4", "h7", "h10"]
        );
        assert_eq!(expand_range("h[:2]").unwrap(), ["h0", "h1", "h2"]);
        assert_eq!(expand_range("h[8:11]").unwrap(), ["h8", "h9", "h10", "h11"]);
    }

    #[test]
    fn alpha_and_nested_ranges() {
        assert_eq!(
            expand_range("db-[a:c].x").unwrap(),
            ["db-a.x", "db-b.x", "db-c.x"]
        );
        assert_eq!(expand_range("n[a:e:2]").unwrap(), ["na", "nc", "ne"]);
        assert_eq!(
            expand_range("r[1:2]-[a:b]").unwrap(),
            ["r1-a", "r1-b", "r2-a", "r2-b"]
        );
        let (names, port) = expand_hostpattern("w[1:2]:2200").unwrap();
        assert_eq!(
            (names, port),
            (vec!["w1".to_string(), "w2".to_string()], Some(2200))
        );
    }

    #[test]
    fn range_errors() {
        assert!(
            expand_range("h[01:3]")
                .unwrap_err()
                .contains("equal-length")
        );
        assert!(expand_range("h[1:]").unwrap_err().contains("end value"));
        assert!(expand_range("h[1]").unwrap_err().contains("begin:end"));
        assert!(expand_range("h[c:a]").unwrap_err().contains("begin <= end"));
        assert!(expand_range("h[1:3:0]").is_err());
    }
}
