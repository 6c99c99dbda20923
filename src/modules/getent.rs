//! `getent`: a name-service database as `getent_<database>` facts, as
//! Ansible's `getent` module shapes them (each entry's first field is the
//! key, the rest a list; repeated keys become a list of lists).

use async_trait::async_trait;
use indexmap::IndexMap;
use minijinja::Value;

use super::file::{SResult, fail, finish};
use super::group::{find_bin, run_argv};
use super::{
    Args, DiffSupport, FreeForm, Module, ModuleCtx, ModuleResult, ModuleSpec, Outcome, Param,
    ParamType,
};
use crate::template::vmap;

pub struct Getent;

static SPEC: ModuleSpec = ModuleSpec {
    name: "getent",
    params: &[
        Param::new("database", ParamType::Str).required(),
        Param::new("key", ParamType::Str),
        Param::new("service", ParamType::Str),
        Param::new("split", ParamType::Str),
        Param::new("fail_key", ParamType::Bool),
    ],
    free_form: FreeForm::None,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
    controller_only: false,
    summary: "Read a name-service database (passwd, group, hosts …) into `getent_<database>` \
              facts.",
    check_note: "",
    diff: DiffSupport::No,
    notes: &[],
};

#[async_trait]
impl Module for Getent {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &ModuleCtx<'_>) -> ModuleResult {
        finish(run(args, ctx).await)
    }
}

/// The entries of getent's output keyed by their first field.
fn parse(out: &str, split: Option<&str>) -> IndexMap<String, Value> {
    let mut tree: IndexMap<String, Value> = IndexMap::new();
    let mut seen: IndexMap<String, Vec<Value>> = IndexMap::new();
    for line in super::command::py_splitlines(out) {
        let record: Vec<&str> = match split {
            Some(s) => line.split(s).collect(),
            None => line.split_whitespace().collect(),
        };
        let Some((first, rest)) = record.split_first() else {
            // Python's str.split() of a blank line is [], and record[0]
            // fails there; an empty key is the closest harmless reading.
            tree.insert(String::new(), Value::from(Vec::<Value>::new()));
            continue;
        };
        let fields = Value::from(rest.iter().map(|s| Value::from(*s)).collect::<Vec<_>>());
        let all = seen.entry((*first).to_owned()).or_default();
        all.push(fields.clone());
        let v = if all.len() == 1 {
            fields
        } else {
            Value::from(all.clone())
        };
        tree.insert((*first).to_owned(), v);
    }
    tree
}

async fn run(args: &Args, ctx: &ModuleCtx<'_>) -> SResult<Outcome> {
    let database = args.str_or("database", "");
    let key = args.str("key");
    let mut split = args.str("split");
    if split.is_none() && ["passwd", "shadow", "group", "gshadow"].contains(&database.as_str()) {
        split = Some(":".into());
    }
    if split.as_deref() == Some("") {
        return Err(fail("empty separator"));
    }
    let mut cmd = vec![find_bin(ctx, "getent").await?, database.clone()];
    if let Some(k) = &key {
        cmd.push(k.clone());
    }
    if let Some(s) = args.str("service") {
        cmd.extend(["-s".into(), s]);
    }
    let (rc, out, _err) = run_argv(ctx, &cmd, None, true).await?;
    let dbtree = format!("getent_{database}");
    let facts = |tree: IndexMap<String, Value>| {
        let mut f = IndexMap::new();
        f.insert(dbtree.clone(), vmap(tree));
        f
    };
    let msg = match rc {
        0 => {
            let f = facts(parse(&out, split.as_deref()));
            let mut o = Outcome::changed(false);
            o.set("ansible_facts", vmap(f.clone()));
            o.facts = f;
            return Ok(o);
        }
        1 => "Missing arguments, or database unknown.",
        2 => {
            let msg = "One or more supplied key could not be found in the database.";
            if !args.bool_or("fail_key", true) {
                let mut tree = IndexMap::new();
                tree.insert(key.clone().unwrap_or_default(), Value::from(()));
                let f = facts(tree);
                let mut o = Outcome::changed(false);
                o.set("ansible_facts", vmap(f.clone()));
                o.facts = f;
                o.msg = Some(msg.into());
                return Ok(o);
            }
            msg
        }
        3 => "Enumeration not supported on this database.",
        _ => "Unexpected failure!",
    };
    Err(fail(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_entries_like_ansible() {
        let t = parse("root:x:0:0:root:/root:/bin/bash\n", Some(":"));
        assert_eq!(
            t["root"].to_string(),
            "['x', '0', '0', 'root', '/root', '/bin/bash']"
        );
        let t = parse(
            "127.0.0.1       localhost\n::1  localhost ip6-localhost\n127.0.0.1 other\n",
            None,
        );
        assert_eq!(t["127.0.0.1"].to_string(), "[['localhost'], ['other']]");
        assert_eq!(t["::1"].to_string(), "['localhost', 'ip6-localhost']");
        // A third duplicate appends to the list of lists.
        let t = parse("a 1\na 2\na 3\n", None);
        assert_eq!(t["a"].to_string(), "[['1'], ['2'], ['3']]");
    }
}
