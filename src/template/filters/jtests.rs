//! Ansible's (and Jinja2's) tests: `is failed`, `is match(...)`,
//! `is version(...)`, file tests, set tests, ...

use std::path::Path;

use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error};

use super::pyfmt::py_type_name;
use super::strings::{expanduser, expandvars};
use super::version;
use super::{bind, defined, is_list, is_map, list_items, map_get, op_err, py_list, py_str};
use crate::pyre::{self, Anchor};

type T = Result<bool, Error>;

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_test("defined", |v: Value| !v.is_undefined());
    env.add_test("undefined", |v: Value| v.is_undefined());
    env.add_test("failed", t_failed);
    env.add_test("failure", t_failed);
    env.add_test("succeeded", t_success);
    env.add_test("success", t_success);
    env.add_test("successful", t_success);
    env.add_test("changed", t_changed);
    env.add_test("change", t_changed);
    env.add_test("skipped", t_skipped);
    env.add_test("skip", t_skipped);
    env.add_test("finished", t_finished);
    env.add_test("started", t_started);
    env.add_test("unreachable", t_unreachable);
    env.add_test("reachable", t_reachable);
    env.add_test("timedout", t_timedout);
    env.add_test("match", t_match);
    env.add_test("search", t_search);
    env.add_test("regex", t_regex);
    env.add_test("version", t_version);
    env.add_test("version_compare", t_version);
    env.add_test("any", t_any);
    env.add_test("all", t_all);
    env.add_test("truthy", t_truthy);
    env.add_test("falsy", t_falsy);
    env.add_test("vault_encrypted", |v: Value| {
        v.as_str().is_some_and(crate::vault::is_vault_value)
    });
    env.add_test("vaulted_file", t_vaulted_file);
    env.add_test("contains", t_contains);
    env.add_test("subset", t_subset);
    env.add_test("issubset", t_subset);
    env.add_test("superset", t_superset);
    env.add_test("issuperset", t_superset);
    env.add_test("nan", t_nan);
    env.add_test("isnan", t_nan);
    env.add_test("sequence", t_sequence);
    env.add_test("iterable", t_iterable);
    // ansible-core 2.19: every test but `defined`/`undefined` fails on an
    // undefined value.
    env.add_test("none", |v: Value| -> T { kind_test(&v, |v| v.is_none()) });
    env.add_test("number", |v: Value| -> T {
        kind_test(&v, |v| {
            matches!(v.kind(), ValueKind::Number | ValueKind::Bool)
        })
    });
    env.add_test("integer", |v: Value| -> T {
        kind_test(&v, |v| v.kind() == ValueKind::Number && v.is_integer())
    });
    env.add_test("float", |v: Value| -> T {
        kind_test(&v, |v| v.kind() == ValueKind::Number && !v.is_integer())
    });
    env.add_test("string", |v: Value| -> T {
        kind_test(&v, |v| v.kind() == ValueKind::String)
    });
    env.add_test("mapping", |v: Value| -> T {
        kind_test(&v, |v| v.kind() == ValueKind::Map)
    });
    env.add_test("boolean", |v: Value| -> T {
        kind_test(&v, |v| v.kind() == ValueKind::Bool)
    });
    for name in ["eq", "equalto", "=="] {
        env.add_test(name, |v: Value, other: Value| -> T {
            defined(&v)?;
            defined(&other)?;
            Ok(v == other)
        });
    }
    for name in ["ne", "!="] {
        env.add_test(name, |v: Value, other: Value| -> T {
            defined(&v)?;
            defined(&other)?;
            Ok(v != other)
        });
    }
    env.add_test("sameas", |v: Value, other: Value| -> T {
        defined(&v)?;
        defined(&other)?;
        Ok(minijinja::tests::is_sameas(&v, &other))
    });
    env.add_test(
        "in",
        |state: &minijinja::State, v: Value, seq: Value| -> T {
            defined(&v)?;
            defined(&seq)?;
            minijinja::tests::is_in(state, &v, &seq)
        },
    );
    env.add_test("abs", t_abs);
    env.add_test("is_abs", t_abs);
    env.add_test("exists", t_exists);
    env.add_test("link_exists", t_link_exists);
    env.add_test("file", t_file);
    env.add_test("is_file", t_file);
    env.add_test("directory", t_dir);
    env.add_test("is_dir", t_dir);
    env.add_test("link", t_link);
    env.add_test("is_link", t_link);
    env.add_test("same_file", t_same_file);
    env.add_test("is_same_file", t_same_file);
    env.add_test("mount", t_mount);
    env.add_test("is_mount", t_mount);
}

// ---------------------------------------------------------------------------
// task results
// ---------------------------------------------------------------------------

fn result_dict(v: &Value, test: &str) -> Result<(), Error> {
    defined(v)?;
    if is_map(v) {
        Ok(())
    } else {
        Err(op_err(format!("The '{test}' test expects a dictionary")))
    }
}

fn key_true(v: &Value, key: &str) -> bool {
    map_get(v, key).is_some_and(|x| x.is_true())
}

fn t_failed(v: Value) -> T {
    result_dict(&v, "failed")?;
    Ok(key_true(&v, "failed"))
}

fn t_success(v: Value) -> T {
    result_dict(&v, "failed")?;
    Ok(!key_true(&v, "failed"))
}

fn t_changed(v: Value) -> T {
    result_dict(&v, "changed")?;
    if let Some(c) = map_get(&v, "changed") {
        return Ok(c.is_true());
    }
    if let Some(results) = map_get(&v, "results")
        && results.kind() == ValueKind::Seq
    {
        let items = list_items(&results);
        if items.first().is_some_and(is_map) {
            return Ok(items.iter().any(|r| key_true(r, "changed")));
        }
    }
    Ok(false)
}

fn t_skipped(v: Value) -> T {
    result_dict(&v, "skipped")?;
    Ok(key_true(&v, "skipped"))
}

fn t_finished(v: Value) -> T {
    result_dict(&v, "finished")?;
    Ok(map_get(&v, "finished").is_none_or(|x| x.is_true()))
}

fn t_started(v: Value) -> T {
    result_dict(&v, "started")?;
    Ok(map_get(&v, "started").is_none_or(|x| x.is_true()))
}

fn t_unreachable(v: Value) -> T {
    result_dict(&v, "unreachable")?;
    Ok(key_true(&v, "unreachable"))
}

fn t_reachable(v: Value) -> T {
    result_dict(&v, "unreachable")?;
    Ok(!key_true(&v, "unreachable"))
}

fn t_timedout(v: Value) -> T {
    result_dict(&v, "timedout")?;
    Ok(map_get(&v, "timedout").is_some_and(|t| t.is_true() && key_true(&t, "period")))
}

// ---------------------------------------------------------------------------
// regex and versions
// ---------------------------------------------------------------------------

fn regex_test(v: &Value, args: Rest<ValueOrKwargs>, default_type: &str, name: &'static str) -> T {
    defined(v)?;
    let b = bind(
        name,
        args,
        &["pattern", "ignorecase", "multiline", "match_type"],
    )?;
    let text = py_str(v);
    let pattern = b.string(0, "");
    let anchor = match b.string(3, default_type).as_str() {
        "search" => Anchor::Search,
        "match" => Anchor::Match,
        "fullmatch" => Anchor::FullMatch,
        _ => {
            return Err(op_err(
                "Invalid match_type specified. Expected one of: search, match, fullmatch.",
            ));
        }
    };
    let re = pyre::compile(&pattern, b.flag(1, false), b.flag(2, false), anchor)
        .map_err(super::regex_error)?;
    Ok(re.is_match(&text))
}

fn t_match(v: Value, args: Rest<ValueOrKwargs>) -> T {
    regex_test(&v, args, "match", "match")
}

fn t_search(v: Value, args: Rest<ValueOrKwargs>) -> T {
    regex_test(&v, args, "search", "search")
}

fn t_regex(v: Value, args: Rest<ValueOrKwargs>) -> T {
    regex_test(&v, args, "search", "regex")
}

fn t_version(v: Value, args: Rest<ValueOrKwargs>) -> T {
    defined(&v)?;
    let b = bind(
        "version",
        args,
        &["version", "operator", "strict", "version_type"],
    )?;
    if b.opt(2).is_some() && b.opt(3).is_some() {
        return Err(op_err("Cannot specify both 'strict' and 'version_type'"));
    }
    let value = if v.is_true() {
        py_str(&v)
    } else {
        String::new()
    };
    let other = b
        .opt(0)
        .filter(|x| x.is_true())
        .map(py_str)
        .unwrap_or_default();
    let op = b.string(1, "eq");
    let vtype = if b.flag(2, false) {
        "strict".to_string()
    } else {
        b.string(3, "loose")
    };
    version::compare(&value, &other, &op, &vtype)
}

// ---------------------------------------------------------------------------
// generic tests
// ---------------------------------------------------------------------------

fn t_any(v: Value) -> T {
    Ok(py_list(&v)?.iter().any(|x| x.is_true()))
}

fn t_all(v: Value) -> T {
    Ok(py_list(&v)?.iter().all(|x| x.is_true()))
}

/// `ansible.module_utils.parsing.convert_bool.boolean` (strict).
fn convert_bool(v: &Value) -> Option<bool> {
    match v.kind() {
        ValueKind::Bool => Some(v.is_true()),
        ValueKind::String => match v
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_lowercase()
            .as_str()
        {
            "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
            "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
            _ => None,
        },
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
        _ => None,
    }
}

fn truthy(v: &Value, args: Rest<ValueOrKwargs>, name: &'static str) -> T {
    defined(v)?;
    let b = bind(name, args, &["convert_bool"])?;
    if b.flag(0, false)
        && let Some(bv) = convert_bool(v)
    {
        return Ok(bv);
    }
    Ok(v.is_true())
}

fn t_truthy(v: Value, args: Rest<ValueOrKwargs>) -> T {
    truthy(&v, args, "truthy")
}

fn t_falsy(v: Value, args: Rest<ValueOrKwargs>) -> T {
    truthy(&v, args, "falsy").map(|b| !b)
}

fn t_contains(v: Value, args: Rest<ValueOrKwargs>) -> T {
    defined(&v)?;
    let b = bind("contains", args, &["value"])?;
    let needle = b.val(0).cloned().unwrap_or(Value::UNDEFINED);
    match v.kind() {
        ValueKind::String => Ok(v
            .as_str()
            .unwrap_or_default()
            .contains(py_str(&needle).as_str())),
        ValueKind::Map => Ok(super::map_pairs(&v).iter().any(|(k, _)| *k == needle)),
        _ => Ok(py_list(&v)?.contains(&needle)),
    }
}

fn set_args(
    v: &Value,
    args: Rest<ValueOrKwargs>,
    name: &'static str,
) -> Result<(Vec<Value>, Vec<Value>), Error> {
    let b = bind(name, args, &["b"])?;
    let other = b
        .val(0)
        .cloned()
        .ok_or_else(|| op_err(format!("{name}() missing required argument 'b'")))?;
    Ok((py_list(v)?, py_list(&other)?))
}

fn t_subset(v: Value, args: Rest<ValueOrKwargs>) -> T {
    let (a, b) = set_args(&v, args, "subset")?;
    Ok(a.iter().all(|x| b.contains(x)))
}

fn t_superset(v: Value, args: Rest<ValueOrKwargs>) -> T {
    let (a, b) = set_args(&v, args, "superset")?;
    Ok(b.iter().all(|x| a.contains(x)))
}

fn t_nan(v: Value) -> T {
    defined(&v)?;
    Ok(v.kind() == ValueKind::Number && f64::try_from(v).is_ok_and(|f| f.is_nan()))
}

/// A test of what a value is; an undefined value is an error.
fn kind_test(v: &Value, f: impl Fn(&Value) -> bool) -> T {
    defined(v)?;
    Ok(f(v))
}

fn t_sequence(v: Value) -> T {
    defined(&v)?;
    Ok(matches!(
        v.kind(),
        ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Bytes
    ))
}

fn t_iterable(v: Value) -> T {
    defined(&v)?;
    Ok(matches!(
        v.kind(),
        ValueKind::String
            | ValueKind::Seq
            | ValueKind::Map
            | ValueKind::Iterable
            | ValueKind::Bytes
    ) || is_list(&v))
}

// ---------------------------------------------------------------------------
// files
// ---------------------------------------------------------------------------

fn path_arg(v: &Value) -> Result<String, Error> {
    defined(v)?;
    if !matches!(v.kind(), ValueKind::String) {
        return Err(op_err(format!(
            "stat: path should be string, bytes, os.PathLike or integer, not {}",
            py_type_name(v)
        )));
    }
    Ok(expanduser(&expandvars(v.as_str().unwrap_or_default())))
}

fn t_abs(v: Value) -> T {
    Ok(path_arg(&v)?.starts_with('/'))
}

fn t_exists(v: Value) -> T {
    Ok(Path::new(&path_arg(&v)?).exists())
}

fn t_link_exists(v: Value) -> T {
    Ok(std::fs::symlink_metadata(path_arg(&v)?).is_ok())
}

fn t_file(v: Value) -> T {
    Ok(Path::new(&path_arg(&v)?).is_file())
}

fn t_dir(v: Value) -> T {
    Ok(Path::new(&path_arg(&v)?).is_dir())
}

fn t_link(v: Value) -> T {
    Ok(std::fs::symlink_metadata(path_arg(&v)?).is_ok_and(|m| m.file_type().is_symlink()))
}

fn t_same_file(v: Value, other: Value) -> T {
    use std::os::unix::fs::MetadataExt;
    let a = std::fs::metadata(path_arg(&v)?).map_err(|e| op_err(e.to_string()))?;
    let b = std::fs::metadata(path_arg(&other)?).map_err(|e| op_err(e.to_string()))?;
    Ok(a.dev() == b.dev() && a.ino() == b.ino())
}

fn t_mount(v: Value) -> T {
    use std::os::unix::fs::MetadataExt;
    let p = path_arg(&v)?;
    let Ok(meta) = std::fs::symlink_metadata(&p) else {
        return Ok(false);
    };
    if meta.file_type().is_symlink() {
        return Ok(false);
    }
    let parent = format!("{}/..", p.trim_end_matches('/'));
    let Ok(pmeta) = std::fs::metadata(&parent) else {
        return Ok(false);
    };
    Ok(meta.dev() != pmeta.dev() || meta.ino() == pmeta.ino())
}

fn t_vaulted_file(v: Value) -> T {
    use std::io::Read;
    let p = path_arg(&v)?;
    let mut f = std::fs::File::open(&p)
        .map_err(|_| op_err(format!("Cannot test if the file '{p}' is a vault.")))?;
    let mut buf = [0u8; 14];
    let n = f.read(&mut buf).unwrap_or(0);
    Ok(&buf[..n] == b"$ANSIBLE_VAULT")
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, is_err, render_ctx};

    #[test]
    fn test_result_tests() {
        let ctx = serde_json::json!({
            "ok": {"changed": false, "rc": 0},
            "ch": {"changed": true},
            "bad": {"failed": true, "rc": 1},
            "sk": {"skipped": true, "changed": false},
            "loop": {"results": [{"changed": false}, {"changed": true}]},
            "async": {"finished": 0, "started": 1},
        });
        let r = |t: &str| render_ctx(t, ctx.clone()).unwrap_or_else(|e| format!("ERROR: {e}"));
        assert_eq!(
            r("{{ ok is changed }} {{ ch is changed }} {{ loop is changed }}"),
            "False True True"
        );
        assert_eq!(
            r("{{ ok is failed }} {{ bad is failed }} {{ bad is failure }}"),
            "False True True"
        );
        assert_eq!(
            r("{{ ok is success }} {{ bad is succeeded }} {{ ok is successful }}"),
            "True False True"
        );
        assert_eq!(
            r("{{ sk is skipped }} {{ ok is skipped }} {{ ok is skip }}"),
            "True False False"
        );
        assert_eq!(
            r("{{ async is finished }} {{ async is started }} {{ ok is finished }}"),
            "False True True"
        );
        assert_eq!(
            r("{{ ok is reachable }} {{ ok is unreachable }} {{ ok is timedout }}"),
            "True False False"
        );
        assert!(r("{{ 'x' is failed }}").starts_with("ERROR"));
        assert!(r("{{ missing is failed }}").starts_with("ERROR"));
    }

    #[test]
    fn test_regex_tests() {
        assert_eq!(eval("'foobar' is match('foo')"), "True");
        assert_eq!(eval("'foobar' is match('bar')"), "False");
        assert_eq!(eval("'foobar' is search('bar')"), "True");
        assert_eq!(eval("'FOO' is search('foo', ignorecase=true)"), "True");
        assert_eq!(eval("'a\\nfoo' is match('^foo', multiline=true)"), "False");
        assert_eq!(eval("'a\\nfoo' is search('^foo', multiline=true)"), "True");
        assert_eq!(eval("'foobar' is regex('bar')"), "True");
        assert_eq!(
            eval("'foobar' is regex('bar', match_type='match')"),
            "False"
        );
        assert_eq!(
            eval("'foo' is regex('foo', match_type='fullmatch')"),
            "True"
        );
        assert!(is_err("missing is match('x')"));
    }

    #[test]
    fn test_version_tests() {
        assert_eq!(eval("'1.10.2' is version('1.9', '>')"), "True");
        assert_eq!(eval("'1.10.2' is version('1.9', 'lt')"), "False");
        assert_eq!(eval("'2.0' is version_compare('2.0', '==')"), "True");
        assert_eq!(eval("'2.0' is version('2.0')"), "True");
        assert_eq!(
            eval("'1.0.0-rc1' is version('1.0.0', '<', version_type='semver')"),
            "True"
        );
        assert_eq!(eval("'1.0a1' is version('1.0', '<', strict=true)"), "True");
        assert!(is_err("'1.0' is version('1.0', 'bad')"));
        assert!(is_err("'' is version('1.0')"));
        assert!(is_err(
            "'1.0' is version('1.0', strict=true, version_type='loose')"
        ));
    }

    #[test]
    fn test_generic_tests() {
        assert_eq!(eval("missing is defined"), "False");
        assert_eq!(eval("l is defined"), "True");
        assert_eq!(eval("missing.x is undefined"), "True");
        assert_eq!(eval("n is none"), "True");
        assert_eq!(eval("[1, 2] is contains(2)"), "True");
        assert_eq!(eval("2 in [1, 2]"), "True");
        assert_eq!(eval("2 is in([1, 2])"), "True");
        assert_eq!(eval("[1, 2] is subset([1, 2, 3])"), "True");
        assert_eq!(eval("[1, 2, 3] is superset([3])"), "True");
        assert_eq!(eval("[1, 4] is issubset([1, 2, 3])"), "False");
        assert_eq!(eval("'x' is string"), "True");
        assert_eq!(eval("1 is string"), "False");
        assert_eq!(eval("1 is number"), "True");
        assert_eq!(eval("true is number"), "True");
        assert_eq!(eval("1 is integer"), "True");
        assert_eq!(eval("1.0 is integer"), "False");
        assert_eq!(eval("1.0 is float"), "True");
        assert_eq!(eval("d is mapping"), "True");
        assert_eq!(eval("'x' is iterable"), "True");
        assert_eq!(eval("n is iterable"), "False");
        assert_eq!(eval("'x' is sequence"), "True");
        assert_eq!(eval("d is sequence"), "True");
        assert_eq!(eval("1 is sequence"), "False");
        assert_eq!(eval("true is boolean"), "True");
        assert_eq!(eval("true is true"), "True");
        assert_eq!(eval("false is false"), "True");
        assert_eq!(eval("n is sameas none"), "True");
        assert_eq!(eval("1 is equalto 1"), "True");
        assert_eq!(eval("1 is eq 1"), "True");
        assert_eq!(eval("'yes' is truthy"), "True");
        assert_eq!(eval("'no' is truthy(convert_bool=true)"), "False");
        assert_eq!(eval("'' is falsy"), "True");
        assert_eq!(eval("[true, 1] is all"), "True");
        assert_eq!(eval("[false, 1] is any"), "True");
        assert_eq!(eval("'x' is vault_encrypted"), "False");
        assert_eq!(eval("(0.0 / 1) is nan"), "False");
    }

    #[test]
    fn test_file_tests() {
        assert_eq!(eval("'/etc' is abs"), "True");
        assert_eq!(eval("'etc' is is_abs"), "False");
        assert_eq!(eval("'/' is directory"), "True");
        assert_eq!(eval("'/' is exists"), "True");
        assert_eq!(eval("'/nonexistent-hoist' is exists"), "False");
        assert_eq!(eval("'/' is file"), "False");
        assert_eq!(eval("'/' is link"), "False");
        assert_eq!(eval("'/' is mount"), "True");
        assert_eq!(eval("'/' is same_file('/')"), "True");
        assert!(is_err("missing is exists"));
    }
}
