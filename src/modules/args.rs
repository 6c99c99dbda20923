//! Binding templated task arguments to a module's [`ModuleSpec`], with
//! Ansible's type coercions, and the shared `mode:` parser.

use indexmap::IndexMap;
use minijinja::Value;
use minijinja::value::ValueKind;

use super::{ModuleSpec, ParamType};
use crate::template::py_str;

/// A module's arguments after alias resolution and type coercion, keyed by
/// canonical parameter name. Null values count as not given.
#[derive(Clone, Debug, Default)]
pub struct Args {
    values: IndexMap<&'static str, Value>,
}

/// Ansible's boolean conversion for module arguments.
pub fn to_bool(v: &Value) -> Option<bool> {
    match v.kind() {
        ValueKind::Bool => Some(v.is_true()),
        ValueKind::Number => {
            let f = f64::try_from(v.clone()).ok()?;
            if f == 1.0 {
                Some(true)
            } else if f == 0.0 {
                Some(false)
            } else {
                None
            }
        }
        ValueKind::String => match v.as_str()?.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
            "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn type_of(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::String => "str",
        ValueKind::Bool => "bool",
        ValueKind::Number => {
            if v.is_integer() {
                "int"
            } else {
                "float"
            }
        }
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        ValueKind::None => "NoneType",
        _ => "object",
    }
}

fn coerce(name: &str, ty: ParamType, v: &Value) -> Result<Value, String> {
    let bad = |what: &str| {
        format!(
            "argument '{name}' is of type {} and we were unable to convert to {what}",
            type_of(v)
        )
    };
    Ok(match ty {
        ParamType::Raw | ParamType::Mode => v.clone(),
        ParamType::Str | ParamType::Path => match v.kind() {
            ValueKind::String => v.clone(),
            ValueKind::Seq | ValueKind::Map => return Err(bad("str")),
            _ => Value::from(py_str(v)),
        },
        ParamType::Bool => Value::from(to_bool(v).ok_or_else(|| {
            format!(
                "{}: The value '{}' is not a valid boolean.  Valid booleans include: 'yes', 'on', 'true', '1', 'no', 'off', 'false', '0' (and others)",
                bad("bool"),
                py_str(v)
            )
        })?),
        ParamType::Int => match v.kind() {
            ValueKind::Number if v.is_integer() => v.clone(),
            ValueKind::Number => {
                let f = f64::try_from(v.clone()).map_err(|_| bad("int"))?;
                if f.fract() == 0.0 {
                    Value::from(f as i64)
                } else {
                    return Err(bad("int"));
                }
            }
            ValueKind::String => Value::from(v.as_str().unwrap_or("").trim().parse::<i64>().map_err(|_| bad("int"))?),
            _ => return Err(bad("int")),
        },
        ParamType::Float => match v.kind() {
            ValueKind::Number => Value::from(f64::try_from(v.clone()).map_err(|_| bad("float"))?),
            ValueKind::String => Value::from(v.as_str().unwrap_or("").trim().parse::<f64>().map_err(|_| bad("float"))?),
            _ => return Err(bad("float")),
        },
        ParamType::List => match v.kind() {
            ValueKind::Seq | ValueKind::Iterable => Value::from(v.try_iter().map_err(|_| bad("list"))?.collect::<Vec<_>>()),
            ValueKind::String => Value::from(
                v.as_str()
                    .unwrap_or("")
                    .split(',')
                    .map(|s| Value::from(s.trim()))
                    .collect::<Vec<_>>(),
            ),
            ValueKind::Number | ValueKind::Bool => Value::from(vec![Value::from(py_str(v))]),
            _ => return Err(bad("list")),
        },
        ParamType::Dict => match v.kind() {
            ValueKind::Map => v.clone(),
            _ => return Err(bad("dict")),
        },
    })
}

/// Coerces one literal value as [`Args::bind`] would and checks its
/// choices; used by the loader to refuse mistyped parameters early.
pub fn coerce_for_check(p: &super::Param, v: &Value) -> Result<(), String> {
    let coerced = coerce(p.name, p.ty, v)?;
    if !p.choices.is_empty() {
        let s = py_str(&coerced);
        if !p.choices.contains(&s.as_str()) {
            return Err(format!(
                "value of {} must be one of: {}, got: {s}",
                p.name,
                p.choices.join(", ")
            ));
        }
    }
    Ok(())
}

impl Args {
    /// Resolves aliases, coerces types and checks required parameters,
    /// choices and exclusive groups. Errors read as Ansible's do.
    pub fn bind(spec: &'static ModuleSpec, raw: &IndexMap<String, Value>) -> Result<Args, String> {
        let mut values: IndexMap<&'static str, Value> = IndexMap::new();
        let mut unknown = Vec::new();
        for (k, v) in raw {
            let Some(p) = spec.param(k) else {
                unknown.push(k.clone());
                continue;
            };
            if v.is_none() || v.is_undefined() {
                continue;
            }
            let coerced = coerce(p.name, p.ty, v)?;
            if !p.choices.is_empty() {
                let s = py_str(&coerced);
                if !p.choices.contains(&s.as_str()) {
                    return Err(format!(
                        "value of {} must be one of: {}, got: {s}",
                        p.name,
                        p.choices.join(", ")
                    ));
                }
            }
            values.insert(p.name, coerced);
        }
        if !unknown.is_empty() {
            let mut supported: Vec<&str> =
                spec.all_names().filter(|n| !n.starts_with('_')).collect();
            supported.sort_unstable();
            return Err(format!(
                "Unsupported parameters for ({}) module: {}. Supported parameters include: {}.",
                spec.name,
                unknown.join(", "),
                supported.join(", ")
            ));
        }
        let missing: Vec<&str> = spec
            .params
            .iter()
            .filter(|p| p.required && !values.contains_key(p.name))
            .map(|p| p.name)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing required arguments: {}",
                missing.join(", ")
            ));
        }
        for group in spec.mutually_exclusive {
            let given: Vec<&str> = group
                .iter()
                .copied()
                .filter(|n| values.contains_key(n))
                .collect();
            if given.len() > 1 {
                return Err(format!(
                    "parameters are mutually exclusive: {}",
                    given.join("|")
                ));
            }
        }
        for group in spec.required_one_of {
            if !group.iter().any(|n| values.contains_key(n)) {
                return Err(format!(
                    "one of the following is required: {}",
                    group.join(", ")
                ));
            }
        }
        Ok(Args { values })
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
    pub fn str(&self, name: &str) -> Option<String> {
        self.values.get(name).map(py_str)
    }
    pub fn str_or(&self, name: &str, default: &str) -> String {
        self.str(name).unwrap_or_else(|| default.to_owned())
    }
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.values.get(name).and_then(to_bool)
    }
    pub fn bool_or(&self, name: &str, default: bool) -> bool {
        self.bool(name).unwrap_or(default)
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        self.values
            .get(name)
            .and_then(|v| i64::try_from(v.clone()).ok())
    }
    pub fn list(&self, name: &str) -> Option<Vec<Value>> {
        self.values
            .get(name)
            .and_then(|v| v.try_iter().ok())
            .map(|it| it.collect())
    }
    pub fn str_list(&self, name: &str) -> Option<Vec<String>> {
        self.list(name).map(|l| l.iter().map(py_str).collect())
    }
}

/// Computes the permission bits `mode:` asks for, given the current bits
/// (for symbolic modes) and whether the path is a directory (for `X`).
/// Ints are taken as they are (YAML `0644` is already octal); strings of
/// octal digits are octal; anything else is symbolic (`u+rwx,g-w,o=r`).
pub fn parse_mode(v: &Value, current: u32, is_dir: bool) -> Result<u32, String> {
    match v.kind() {
        ValueKind::Number => {
            let n = i64::try_from(v.clone())
                .map_err(|_| format!("mode must be in octal or symbolic form, got {v}"))?;
            if !(0..=0o7777).contains(&n) {
                return Err(format!("mode must be in octal or symbolic form, got {n}"));
            }
            Ok(n as u32)
        }
        ValueKind::String => {
            let s = v.as_str().unwrap_or("").trim();
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                let n = u32::from_str_radix(s, 8)
                    .map_err(|_| format!("mode must be in octal or symbolic form: {s}"))?;
                if n > 0o7777 {
                    return Err(format!("mode must be in octal or symbolic form: {s}"));
                }
                return Ok(n);
            }
            symbolic_mode(s, current, is_dir)
        }
        _ => Err(format!("mode must be in octal or symbolic form, got {v}")),
    }
}

fn symbolic_mode(spec: &str, current: u32, is_dir: bool) -> Result<u32, String> {
    let mut mode = current & 0o7777;
    for clause in spec.split(',') {
        let bad = || format!("bad symbolic permission for mode: {clause}");
        let op_at = clause.find(['+', '-', '=']).ok_or_else(bad)?;
        let (users, rest) = clause.split_at(op_at);
        if users.is_empty() || !users.chars().all(|c| "ugoa".contains(c)) {
            return Err(bad());
        }
        let mut chars = rest.chars();
        let op = chars.next().ok_or_else(bad)?;
        let perms: String = chars.collect();
        let users: Vec<char> = if users.contains('a') {
            vec!['u', 'g', 'o']
        } else {
            users.chars().collect()
        };
        let mut add = 0u32;
        let mut mask = 0u32;
        for u in &users {
            let shift = match u {
                'u' => 6,
                'g' => 3,
                _ => 0,
            };
            mask |= 0o7 << shift;
            match u {
                'u' => mask |= 0o4000,
                'g' => mask |= 0o2000,
                _ => mask |= 0o1000,
            }
            let bits: u32 = if perms.len() == 1 && "ugo".contains(perms.as_str()) {
                let src_shift = match perms.as_str() {
                    "u" => 6,
                    "g" => 3,
                    _ => 0,
                };
                (mode >> src_shift) & 0o7
            } else {
                let mut b = 0;
                for p in perms.chars() {
                    match p {
                        'r' => b |= 0o4,
                        'w' => b |= 0o2,
                        'x' => b |= 0o1,
                        'X' => {
                            if is_dir || mode & 0o111 != 0 {
                                b |= 0o1
                            }
                        }
                        's' | 't' | '-' => {}
                        _ => return Err(bad()),
                    }
                }
                b
            };
            add |= bits << shift;
            if perms.contains('s') {
                match u {
                    'u' => add |= 0o4000,
                    'g' => add |= 0o2000,
                    _ => {}
                }
            }
            if perms.contains('t') && *u == 'o' {
                add |= 0o1000;
            }
        }
        match op {
            '+' => mode |= add,
            '-' => mode &= !add,
            _ => mode = (mode & !mask) | add,
        }
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_and_symbolic_modes() {
        assert_eq!(parse_mode(&Value::from(0o644), 0, false), Ok(0o644));
        assert_eq!(parse_mode(&Value::from("0755"), 0, false), Ok(0o755));
        assert_eq!(parse_mode(&Value::from("644"), 0, false), Ok(0o644));
        // An unquoted 644 in YAML is decimal 644, as Ansible warns.
        assert_eq!(parse_mode(&Value::from(644), 0, false), Ok(0o1204));
        assert_eq!(parse_mode(&Value::from("u+x"), 0o644, false), Ok(0o744));
        assert_eq!(
            parse_mode(&Value::from("u=rw,g=r,o="), 0o777, false),
            Ok(0o640)
        );
        assert_eq!(parse_mode(&Value::from("a+X"), 0o644, true), Ok(0o755));
        assert_eq!(parse_mode(&Value::from("a+X"), 0o644, false), Ok(0o644));
        assert_eq!(parse_mode(&Value::from("go-w"), 0o777, false), Ok(0o755));
        assert_eq!(parse_mode(&Value::from("g=u"), 0o700, false), Ok(0o770));
        assert_eq!(
            parse_mode(&Value::from("u+s,o+t"), 0o755, false),
            Ok(0o5755)
        );
        assert!(parse_mode(&Value::from("rwx"), 0, false).is_err());
        assert!(parse_mode(&Value::from("u+q"), 0, false).is_err());
    }

    #[test]
    fn bool_coercion_matches_ansible() {
        for t in ["yes", "On", "1", "true", "t", "y"] {
            assert_eq!(to_bool(&Value::from(t)), Some(true), "{t}");
        }
        for f in ["no", "OFF", "0", "false", "f", "n"] {
            assert_eq!(to_bool(&Value::from(f)), Some(false), "{f}");
        }
        assert_eq!(to_bool(&Value::from("maybe")), None);
        assert_eq!(to_bool(&Value::from(1)), Some(true));
    }
}
