//! Version comparison for the `version` / `version_compare` tests:
//! distutils `LooseVersion` / `StrictVersion` and Ansible's `SemanticVersion`.

use std::cmp::Ordering;

use minijinja::{Error, ErrorKind};

fn verr(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Num(u128),
    Str(String),
}

/// Splits a version like distutils' `LooseVersion`.
fn loose_parts(v: &str) -> Vec<Part> {
    #[derive(PartialEq, Clone, Copy)]
    enum K {
        Digit,
        Lower,
        Dot,
        Other,
    }
    fn kind(c: char) -> K {
        if c.is_ascii_digit() {
            K::Digit
        } else if c.is_ascii_lowercase() {
            K::Lower
        } else if c == '.' {
            K::Dot
        } else {
            K::Other
        }
    }
    let mut parts = Vec::new();
    let chars: Vec<char> = v.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let k = kind(chars[i]);
        let mut j = i + 1;
        if k != K::Dot {
            while j < chars.len() && kind(chars[j]) == k {
                j += 1;
            }
        }
        let tok: String = chars[i..j].iter().collect();
        match k {
            K::Dot => {}
            K::Digit => match tok.parse::<u128>() {
                Ok(n) => parts.push(Part::Num(n)),
                Err(_) => parts.push(Part::Str(tok)),
            },
            _ => parts.push(Part::Str(tok)),
        }
        i = j;
    }
    parts
}

fn loose_cmp(a: &str, b: &str) -> Result<Ordering, Error> {
    let pa = loose_parts(a);
    let pb = loose_parts(b);
    for (x, y) in pa.iter().zip(pb.iter()) {
        if x == y {
            continue;
        }
        return match (x, y) {
            (Part::Num(x), Part::Num(y)) => Ok(x.cmp(y)),
            (Part::Str(x), Part::Str(y)) => Ok(x.cmp(y)),
            (Part::Num(_), Part::Str(_)) => Err(verr(
                "Version comparison failed: '<' not supported between instances of 'int' and 'str'",
            )),
            (Part::Str(_), Part::Num(_)) => Err(verr(
                "Version comparison failed: '<' not supported between instances of 'str' and 'int'",
            )),
        };
    }
    Ok(pa.len().cmp(&pb.len()))
}

type Strict = ((u64, u64, u64), Option<(char, u64)>);

fn parse_strict(v: &str) -> Result<Strict, Error> {
    let invalid = || {
        verr(format!(
            "Version comparison failed: invalid version number '{v}'"
        ))
    };
    let (main, pre) = match v.find(['a', 'b']) {
        Some(idx) => (&v[..idx], Some(&v[idx..])),
        None => (v, None),
    };
    let nums: Vec<&str> = main.split('.').collect();
    if !(2..=3).contains(&nums.len()) {
        return Err(invalid());
    }
    let mut parsed = [0u64; 3];
    for (i, n) in nums.iter().enumerate() {
        if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid());
        }
        parsed[i] = n.parse().map_err(|_| invalid())?;
    }
    let pre = match pre {
        None => None,
        Some(p) => {
            let letter = p.chars().next().ok_or_else(invalid)?;
            let num = &p[1..];
            if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid());
            }
            Some((letter, num.parse().map_err(|_| invalid())?))
        }
    };
    Ok(((parsed[0], parsed[1], parsed[2]), pre))
}

fn strict_cmp(a: &str, b: &str) -> Result<Ordering, Error> {
    let (va, pa) = parse_strict(a)?;
    let (vb, pb) = parse_strict(b)?;
    Ok(va.cmp(&vb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    }))
}

type Semver = ((u128, u128, u128), Vec<Part>);

fn parse_semver(v: &str) -> Result<Semver, Error> {
    let invalid = || {
        verr(format!(
            "Version comparison failed: invalid semantic version '{v}'"
        ))
    };
    let no_build = v
        .split_once('+')
        .map_or(v, |(a, build)| if build.is_empty() { "" } else { a });
    if no_build.is_empty() {
        return Err(invalid());
    }
    let (core, pre) = match no_build.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (no_build, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    if nums.len() != 3 {
        return Err(invalid());
    }
    let mut parsed = [0u128; 3];
    for (i, n) in nums.iter().enumerate() {
        if n.is_empty()
            || !n.chars().all(|c| c.is_ascii_digit())
            || (n.len() > 1 && n.starts_with('0'))
        {
            return Err(invalid());
        }
        parsed[i] = n.parse().map_err(|_| invalid())?;
    }
    let mut pre_parts = Vec::new();
    if let Some(pre) = pre {
        for ident in pre.split('.') {
            if ident.is_empty() || !ident.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(invalid());
            }
            if ident.chars().all(|c| c.is_ascii_digit()) {
                if ident.len() > 1 && ident.starts_with('0') {
                    return Err(invalid());
                }
                pre_parts.push(Part::Num(ident.parse().map_err(|_| invalid())?));
            } else {
                pre_parts.push(Part::Str(ident.to_string()));
            }
        }
    }
    Ok(((parsed[0], parsed[1], parsed[2]), pre_parts))
}

fn semver_cmp(a: &str, b: &str) -> Result<Ordering, Error> {
    let (va, pa) = parse_semver(a)?;
    let (vb, pb) = parse_semver(b)?;
    let ord = va.cmp(&vb);
    if ord != Ordering::Equal {
        return Ok(ord);
    }
    Ok(match (pa.is_empty(), pb.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (x, y) in pa.iter().zip(pb.iter()) {
                let o = match (x, y) {
                    (Part::Num(x), Part::Num(y)) => x.cmp(y),
                    (Part::Str(x), Part::Str(y)) => x.cmp(y),
                    (Part::Num(_), Part::Str(_)) => Ordering::Less,
                    (Part::Str(_), Part::Num(_)) => Ordering::Greater,
                };
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            pa.len().cmp(&pb.len())
        }
    })
}

/// Performs `value <op> version` with the given version type
/// (`loose`, `strict`, `semver`/`semantic`).
pub fn compare(value: &str, version: &str, op: &str, version_type: &str) -> Result<bool, Error> {
    let op = match op {
        "==" | "=" | "eq" => "eq",
        "<" | "lt" => "lt",
        "<=" | "le" => "le",
        ">" | "gt" => "gt",
        ">=" | "ge" => "ge",
        "!=" | "<>" | "ne" => "ne",
        other => {
            return Err(verr(format!(
                "Invalid operator type ({other}). Must be one of '==', '=', 'eq', '<', 'lt', '<=', 'le', '>', 'gt', '>=', 'ge', '!=', '<>', 'ne'"
            )));
        }
    };
    if value.is_empty() {
        return Err(verr("Input version value cannot be empty"));
    }
    if version.is_empty() {
        return Err(verr("Version parameter to compare against cannot be empty"));
    }
    if version_type == "loose" && matches!(op, "eq" | "ne") {
        let equal = loose_parts(value) == loose_parts(version);
        return Ok(if op == "eq" { equal } else { !equal });
    }
    let ord = match version_type {
        "loose" => loose_cmp(value, version)?,
        "strict" => strict_cmp(value, version)?,
        "semver" | "semantic" => semver_cmp(value, version)?,
        "pep440" => {
            return Err(verr("The pep440 version_type is not supported by hoist"));
        }
        other => {
            return Err(verr(format!(
                "Invalid version type ({other}). Must be one of 'loose', 'strict', 'semver', 'semantic', 'pep440'"
            )));
        }
    };
    Ok(match op {
        "eq" => ord == Ordering::Equal,
        "ne" => ord != Ordering::Equal,
        "lt" => ord == Ordering::Less,
        "le" => ord != Ordering::Greater,
        "gt" => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str, op: &str, t: &str) -> bool {
        compare(a, b, op, t).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn test_versions() {
        assert!(c("1.10", "1.9", ">", "loose"));
        assert!(c("1.2.3", "1.2.3", "==", "loose"));
        assert!(!c("2.0.0a1", "2.0.0", "<", "loose"));
        assert!(c("1.0", "1.0.1", "lt", "loose"));
        assert!(c("12.04", "12.4", "eq", "loose"));
        assert!(compare("1.0a", "1.0.1", "<", "loose").is_err());
        assert!(c("1.0a1", "1.0", "<", "strict"));
        assert!(c("1.0.0-alpha", "1.0.0", "<", "semver"));
        assert!(c("1.0.0-alpha.1", "1.0.0-alpha.beta", "<", "semver"));
        assert!(c("1.0.0+build", "1.0.0", "==", "semver"));
        assert!(compare("1.0", "1.0.0", "==", "semver").is_err());
        assert!(compare("1.0", "1.0", "~", "loose").is_err());
    }
}
