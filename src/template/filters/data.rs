//! Collection, set, math and random filters.

use std::cmp::Ordering;

use minijinja::value::{Kwargs, Rest, Tuple, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, State};

use super::pyfmt::{py_type_name, str_repr};
use super::pyrandom::PyRandom;
use super::{
    R, bind, defined, get_path, is_list, is_map, list_items, map_pairs, op_err, py_list, py_repr,
    py_str, split_args, to_i64,
};

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("list", f_list);
    env.add_filter("dict", f_dict);
    env.add_filter("items", f_items);
    env.add_filter("first", f_first);
    env.add_filter("last", f_last);
    env.add_filter("min", f_min);
    env.add_filter("max", f_max);
    env.add_filter("sort", f_sort);
    env.add_filter("unique", f_unique);
    env.add_filter("union", f_union);
    env.add_filter("intersect", f_intersect);
    env.add_filter("difference", f_difference);
    env.add_filter("symmetric_difference", f_symmetric_difference);
    env.add_filter("flatten", f_flatten);
    env.add_filter("combine", f_combine);
    env.add_filter("dict2items", f_dict2items);
    env.add_filter("items2dict", f_items2dict);
    env.add_filter("subelements", f_subelements);
    env.add_filter("zip", f_zip);
    env.add_filter("zip_longest", f_zip_longest);
    env.add_filter("product", f_product);
    env.add_filter("permutations", f_permutations);
    env.add_filter("combinations", f_combinations);
    env.add_filter("ternary", f_ternary);
    env.add_filter("random", f_random);
    env.add_filter("shuffle", f_shuffle);
    env.add_filter("abs", f_abs);
    env.add_filter("round", f_round);
    env.add_filter("log", f_log);
    env.add_filter("pow", f_pow);
    env.add_filter("root", f_root);
    env.add_filter("human_readable", f_human_readable);
    env.add_filter("human_to_bytes", f_human_to_bytes);
    env.add_filter("extract", f_extract);
    env.add_filter("rekey_on_member", f_rekey_on_member);
    // minijinja builtins with Jinja2 semantics, made strict about undefined input
    env.add_filter("map", f_map);
    env.add_filter("select", f_select);
    env.add_filter("reject", f_reject);
    env.add_filter("selectattr", f_selectattr);
    env.add_filter("rejectattr", f_rejectattr);
    env.add_filter("groupby", f_groupby);
    env.add_filter("batch", f_batch);
    env.add_filter("slice", f_slice);
    env.add_filter("dictsort", f_dictsort);
    env.add_filter("reverse", f_reverse);
    env.add_filter("sum", f_sum);
    env.add_filter("tojson", f_tojson);
}

fn seq(items: Vec<Value>) -> Value {
    Value::from(items)
}

fn tuple(items: Vec<Value>) -> Value {
    Value::from(Tuple::from(items))
}

/// Python equality between plain data values.
fn py_eq(a: &Value, b: &Value) -> bool {
    a == b
}

fn contains(list: &[Value], v: &Value) -> bool {
    list.iter().any(|x| py_eq(x, v))
}

/// Lowercases strings for case-insensitive comparisons (Jinja's `ignore_case`).
fn fold(v: Value, case_sensitive: bool) -> Value {
    if case_sensitive {
        return v;
    }
    match v.as_str() {
        Some(s) if v.kind() == ValueKind::String => Value::from(s.to_lowercase()),
        _ => v,
    }
}

// ---------------------------------------------------------------------------
// conversions
// ---------------------------------------------------------------------------

fn f_list(value: Value) -> R {
    Ok(seq(py_list(&value)?))
}

fn f_dict(value: Value) -> R {
    defined(&value)?;
    if is_map(&value) {
        return Ok(Value::from_pairs(map_pairs(&value)));
    }
    if is_list(&value) {
        let mut pairs: Vec<(Value, Value)> = Vec::new();
        for (idx, item) in list_items(&value).into_iter().enumerate() {
            let p = if item.kind() == ValueKind::String {
                Vec::new()
            } else {
                list_items(&item)
            };
            if p.len() != 2 {
                return Err(op_err(format!(
                    "dictionary update sequence element #{idx} has length {}; 2 is required",
                    p.len()
                )));
            }
            insert_pair(&mut pairs, p[0].clone(), p[1].clone());
        }
        return Ok(Value::from_pairs(pairs));
    }
    Err(op_err(format!(
        "'{}' object is not iterable",
        py_type_name(&value)
    )))
}

fn insert_pair(pairs: &mut Vec<(Value, Value)>, k: Value, v: Value) {
    if let Some(slot) = pairs.iter_mut().find(|(pk, _)| *pk == k) {
        slot.1 = v;
    } else {
        pairs.push((k, v));
    }
}

fn f_items(value: Value) -> R {
    if value.is_undefined() {
        return Ok(seq(Vec::new()));
    }
    if !is_map(&value) {
        return Err(op_err("Can only get item pairs from a mapping."));
    }
    Ok(seq(map_pairs(&value)
        .into_iter()
        .map(|(k, v)| tuple(vec![k, v]))
        .collect()))
}

fn f_first(value: Value) -> R {
    Ok(py_list(&value)?
        .into_iter()
        .next()
        .unwrap_or(Value::UNDEFINED))
}

fn f_last(value: Value) -> R {
    Ok(py_list(&value)?.pop().unwrap_or(Value::UNDEFINED))
}

/// The sort/comparison key of an item.
fn item_key(item: &Value, attrs: &[String], case_sensitive: bool) -> Value {
    match attrs.len() {
        0 => fold(item.clone(), case_sensitive),
        1 => fold(get_path(item, &attrs[0]), case_sensitive),
        _ => seq(attrs
            .iter()
            .map(|a| fold(get_path(item, a), case_sensitive))
            .collect()),
    }
}

fn attr_list(b: &super::Bound, i: usize) -> Vec<String> {
    match b.opt_string(i) {
        Some(a) => a
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => Vec::new(),
    }
}

fn min_max(name: &'static str, value: Value, args: Rest<ValueOrKwargs>, want: Ordering) -> R {
    let b = bind(name, args, &["case_sensitive", "attribute"])?;
    let items = py_list(&value)?;
    let case_sensitive = b.flag(0, false);
    let attrs = attr_list(&b, 1);
    let mut best: Option<(Value, Value)> = None;
    for item in items {
        let key = item_key(&item, &attrs, case_sensitive);
        let better = match &best {
            None => true,
            Some((bk, _)) => key.cmp(bk) == want,
        };
        if better {
            best = Some((key, item));
        }
    }
    Ok(best.map_or(Value::UNDEFINED, |(_, item)| item))
}

fn f_min(value: Value, args: Rest<ValueOrKwargs>) -> R {
    min_max("min", value, args, Ordering::Less)
}

fn f_max(value: Value, args: Rest<ValueOrKwargs>) -> R {
    min_max("max", value, args, Ordering::Greater)
}

fn f_sort(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("sort", args, &["reverse", "case_sensitive", "attribute"])?;
    let items = py_list(&value)?;
    let reverse = b.flag(0, false);
    let case_sensitive = b.flag(1, false);
    let attrs = attr_list(&b, 2);
    let mut keyed: Vec<(Value, Value)> = items
        .into_iter()
        .map(|i| (item_key(&i, &attrs, case_sensitive), i))
        .collect();
    keyed.sort_by(|a, b| {
        let o = a.0.cmp(&b.0);
        if reverse { o.reverse() } else { o }
    });
    Ok(seq(keyed.into_iter().map(|(_, i)| i).collect()))
}

/// Jinja's `unique` (first occurrence wins).
fn unique_items(items: Vec<Value>, case_sensitive: bool, attr: Option<&str>) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    let mut out = Vec::new();
    for item in items {
        let key = match attr {
            Some(a) => get_path(&item, a),
            None => item.clone(),
        };
        let key = fold(key, case_sensitive);
        if !contains(&seen, &key) {
            seen.push(key);
            out.push(item);
        }
    }
    out
}

fn f_unique(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("unique", args, &["case_sensitive", "attribute"])?;
    let items = py_list(&value)?;
    let attr = b.opt_string(1);
    Ok(seq(unique_items(items, b.flag(0, false), attr.as_deref())))
}

fn two_lists(
    name: &'static str,
    a: &Value,
    args: Rest<ValueOrKwargs>,
) -> Result<(Vec<Value>, Vec<Value>), Error> {
    let b = bind(name, args, &["b"])?;
    let other = b
        .val(0)
        .cloned()
        .ok_or_else(|| op_err(format!("{name}() missing required argument 'b'")))?;
    Ok((py_list(a)?, py_list(&other)?))
}

fn f_union(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let (mut a, b) = two_lists("union", &value, args)?;
    a.extend(b);
    Ok(seq(unique_items(a, true, None)))
}

fn f_intersect(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let (a, b) = two_lists("intersect", &value, args)?;
    let both: Vec<Value> = a.into_iter().filter(|x| contains(&b, x)).collect();
    Ok(seq(unique_items(both, true, None)))
}

fn f_difference(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let (a, b) = two_lists("difference", &value, args)?;
    let only: Vec<Value> = a.into_iter().filter(|x| !contains(&b, x)).collect();
    Ok(seq(unique_items(only, true, None)))
}

fn f_symmetric_difference(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let (a, b) = two_lists("symmetric_difference", &value, args)?;
    let isect: Vec<Value> = unique_items(
        a.iter().filter(|x| contains(&b, x)).cloned().collect(),
        true,
        None,
    );
    let mut all = a;
    all.extend(b);
    let union = unique_items(all, true, None);
    Ok(seq(union
        .into_iter()
        .filter(|x| !contains(&isect, x))
        .collect()))
}

fn flatten_into(out: &mut Vec<Value>, items: Vec<Value>, levels: Option<i64>, skip_nulls: bool) {
    for item in items {
        if skip_nulls && (item.is_none() || matches!(item.as_str(), Some("None") | Some("null"))) {
            continue;
        }
        if is_list(&item) {
            match levels {
                None => flatten_into(out, list_items(&item), None, skip_nulls),
                Some(l) if l >= 1 => flatten_into(out, list_items(&item), Some(l - 1), skip_nulls),
                _ => out.push(item),
            }
        } else {
            out.push(item);
        }
    }
}

fn f_flatten(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("flatten", args, &["levels", "skip_nulls"])?;
    let items = py_list(&value)?;
    let levels = b.opt_int(0)?;
    let mut out = Vec::new();
    flatten_into(&mut out, items, levels, b.flag(1, true));
    Ok(seq(out))
}

// ---------------------------------------------------------------------------
// dictionaries
// ---------------------------------------------------------------------------

fn merge_hash(x: &Value, y: &Value, recursive: bool, list_merge: &str) -> R {
    if !is_map(x) || !is_map(y) {
        return Err(op_err(format!(
            "failed to combine variables, expected dicts but got a '{}' and a '{}': \n{}\n{}",
            py_type_name(x),
            py_type_name(y),
            py_repr(x),
            py_repr(y)
        )));
    }
    let xp = map_pairs(x);
    let yp = map_pairs(y);
    if xp.is_empty() {
        return Ok(Value::from_pairs(yp));
    }
    let mut out = xp;
    for (key, y_value) in yp {
        let Some(slot) = out.iter_mut().find(|(k, _)| *k == key) else {
            out.push((key, y_value));
            continue;
        };
        let x_value = slot.1.clone();
        if is_map(&x_value) && is_map(&y_value) {
            slot.1 = if recursive {
                merge_hash(&x_value, &y_value, recursive, list_merge)?
            } else {
                y_value
            };
            continue;
        }
        if x_value.kind() == ValueKind::Seq && y_value.kind() == ValueKind::Seq {
            let xl = list_items(&x_value);
            let yl = list_items(&y_value);
            slot.1 = match list_merge {
                "replace" => y_value,
                "append" => seq(xl.into_iter().chain(yl).collect()),
                "prepend" => seq(yl.into_iter().chain(xl).collect()),
                "append_rp" => seq(xl
                    .into_iter()
                    .filter(|z| !contains(&yl, z))
                    .chain(yl.iter().cloned())
                    .collect()),
                "prepend_rp" => {
                    let rest: Vec<Value> = xl.into_iter().filter(|z| !contains(&yl, z)).collect();
                    seq(yl.into_iter().chain(rest).collect())
                }
                _ => x_value, // keep
            };
            continue;
        }
        slot.1 = y_value;
    }
    Ok(Value::from_pairs(out))
}

fn f_combine(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let (pos, kw) = split_args(args.into_values())?;
    let mut recursive = false;
    let mut list_merge = "replace".to_string();
    for (k, v) in kw {
        match k.as_str() {
            "recursive" => {
                if v.kind() != ValueKind::Bool {
                    return Err(op_err("'recursive' must be a boolean"));
                }
                recursive = v.is_true();
            }
            "list_merge" => list_merge = py_str(&v),
            _ => {
                return Err(op_err(
                    "'recursive' and 'list_merge' are the only valid keyword arguments",
                ));
            }
        }
    }
    if !matches!(
        list_merge.as_str(),
        "replace" | "keep" | "append" | "prepend" | "append_rp" | "prepend_rp"
    ) {
        return Err(op_err(
            "merge_hash: 'list_merge' argument can only be equal to 'replace', 'keep', 'append', 'prepend', 'append_rp' or 'prepend_rp'",
        ));
    }
    let mut terms = vec![value];
    terms.extend(pos);
    let mut dicts = Vec::new();
    flatten_into(&mut dicts, terms, Some(1), true);
    for d in &dicts {
        defined(d)?;
    }
    let mut iter = dicts.into_iter().rev();
    let Some(mut result) = iter.next() else {
        return Ok(Value::from_pairs(Vec::<(Value, Value)>::new()));
    };
    for d in iter {
        result = merge_hash(&d, &result, recursive, &list_merge)?;
    }
    Ok(result)
}

fn f_dict2items(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("dict2items", args, &["key_name", "value_name"])?;
    if !is_map(&value) {
        return Err(op_err(format!(
            "dict2items requires a dictionary, got <class '{}'> instead.",
            py_type_name(&value)
        )));
    }
    let key_name = b.string(0, "key");
    let value_name = b.string(1, "value");
    Ok(seq(map_pairs(&value)
        .into_iter()
        .map(|(k, v)| {
            Value::from_pairs(vec![
                (Value::from(key_name.as_str()), k),
                (Value::from(value_name.as_str()), v),
            ])
        })
        .collect()))
}

fn f_items2dict(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("items2dict", args, &["key_name", "value_name"])?;
    if !is_list(&value) {
        return Err(op_err(format!(
            "items2dict requires a list, got <class '{}'> instead.",
            py_type_name(&value)
        )));
    }
    let key_name = b.string(0, "key");
    let value_name = b.string(1, "value");
    let mut pairs = Vec::new();
    for item in list_items(&value) {
        if !is_map(&item) {
            return Err(op_err(format!(
                "items2dict requires a list of dictionaries, got {} instead.",
                py_repr(&value)
            )));
        }
        let (Some(k), Some(v)) = (
            super::map_get(&item, &key_name),
            super::map_get(&item, &value_name),
        ) else {
            return Err(op_err(format!(
                "items2dict requires each dictionary in the list to contain the keys '{key_name}' and '{value_name}', got {} instead.",
                py_repr(&value)
            )));
        };
        insert_pair(&mut pairs, k, v);
    }
    Ok(Value::from_pairs(pairs))
}

fn f_subelements(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("subelements", args, &["subelements", "skip_missing"])?;
    let elements = if is_map(&value) {
        map_pairs(&value).into_iter().map(|(_, v)| v).collect()
    } else if value.kind() == ValueKind::Seq {
        list_items(&value)
    } else {
        return Err(op_err("obj must be a list of dicts or a nested dict"));
    };
    let spec = b
        .val(0)
        .cloned()
        .ok_or_else(|| op_err("subelements() missing required argument 'subelements'"))?;
    let path: Vec<String> = if spec.kind() == ValueKind::String {
        py_str(&spec).split('.').map(str::to_string).collect()
    } else if is_list(&spec) {
        list_items(&spec).iter().map(py_str).collect()
    } else {
        return Err(op_err(format!(
            "subelements must be a list or a string, got <class '{}'>",
            py_type_name(&spec)
        )));
    };
    let skip_missing = b.flag(1, false);
    let mut results = Vec::new();
    for element in elements {
        let mut values = element.clone();
        let mut last_key = String::new();
        let mut skipped = false;
        for key in &path {
            last_key = key.clone();
            if !is_map(&values) {
                return Err(op_err(format!(
                    "the key {} should point to a dictionary, got {}",
                    str_repr(key),
                    py_repr(&values)
                )));
            }
            match super::map_get(&values, key) {
                Some(v) => values = v,
                None => {
                    if skip_missing {
                        skipped = true;
                        break;
                    }
                    return Err(op_err(format!(
                        "could not find {} key in iterated item {}",
                        str_repr(key),
                        py_repr(&values)
                    )));
                }
            }
        }
        if skipped {
            continue;
        }
        if values.kind() != ValueKind::Seq {
            return Err(op_err(format!(
                "the key {} should point to a list, got {}",
                str_repr(&last_key),
                py_repr(&values)
            )));
        }
        for v in list_items(&values) {
            results.push(tuple(vec![element.clone(), v]));
        }
    }
    Ok(seq(results))
}

fn f_extract(item: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&item)?;
    let b = bind("extract", args, &["container", "morekeys"])?;
    let container = b
        .val(0)
        .cloned()
        .ok_or_else(|| op_err("extract() missing required argument 'container'"))?;
    let mut keys = vec![item];
    if let Some(more) = b.opt(1) {
        if more.kind() == ValueKind::Seq {
            keys.extend(list_items(more));
        } else {
            keys.push(more.clone());
        }
    }
    let mut value = container;
    for key in keys {
        value = value.get_item(&key).unwrap_or(Value::UNDEFINED);
    }
    Ok(value)
}

fn f_rekey_on_member(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("rekey_on_member", args, &["key", "duplicates"])?;
    let duplicates = b.string(1, "error");
    if duplicates != "error" && duplicates != "overwrite" {
        return Err(op_err(format!(
            "duplicates parameter to rekey_on_member has unknown value: {duplicates}"
        )));
    }
    let key = b
        .val(0)
        .cloned()
        .ok_or_else(|| op_err("rekey_on_member() missing required argument 'key'"))?;
    let items = if is_map(&value) {
        map_pairs(&value).into_iter().map(|(_, v)| v).collect()
    } else if is_list(&value) {
        list_items(&value)
    } else {
        return Err(op_err("Type is not a valid list, set, or dict"));
    };
    let mut pairs: Vec<(Value, Value)> = Vec::new();
    for item in items {
        if !is_map(&item) {
            return Err(op_err("List item is not a valid dict"));
        }
        let k = item.get_item(&key).unwrap_or(Value::UNDEFINED);
        if k.is_undefined() {
            return Err(op_err(format!("Key {} was not found", py_str(&key))));
        }
        if pairs.iter().any(|(pk, _)| *pk == k) && duplicates == "error" {
            return Err(op_err(format!(
                "Key {} is not unique, cannot correctly turn into dict",
                py_str(&k)
            )));
        }
        insert_pair(&mut pairs, k, item);
    }
    Ok(Value::from_pairs(pairs))
}

// ---------------------------------------------------------------------------
// itertools
// ---------------------------------------------------------------------------

fn lists_of(value: &Value, others: Vec<Value>) -> Result<Vec<Vec<Value>>, Error> {
    let mut lists = vec![py_list(value)?];
    for o in others {
        lists.push(py_list(&o)?);
    }
    Ok(lists)
}

fn f_zip(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let (pos, kw) = split_args(args.into_values())?;
    if let Some((k, _)) = kw.first() {
        return Err(op_err(format!(
            "zip() got an unexpected keyword argument '{k}'"
        )));
    }
    let lists = lists_of(&value, pos)?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(seq((0..n)
        .map(|i| tuple(lists.iter().map(|l| l[i].clone()).collect()))
        .collect()))
}

fn f_zip_longest(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let (pos, kw) = split_args(args.into_values())?;
    let mut fill = Value::from(());
    for (k, v) in kw {
        if k == "fillvalue" {
            fill = v;
        } else {
            return Err(op_err(format!(
                "zip_longest() got an unexpected keyword argument '{k}'"
            )));
        }
    }
    let lists = lists_of(&value, pos)?;
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(seq((0..n)
        .map(|i| {
            tuple(
                lists
                    .iter()
                    .map(|l| l.get(i).cloned().unwrap_or_else(|| fill.clone()))
                    .collect(),
            )
        })
        .collect()))
}

const MAX_COMBINATORIC: usize = 1_000_000;

fn f_product(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let (pos, kw) = split_args(args.into_values())?;
    let mut repeat = 1usize;
    for (k, v) in kw {
        if k == "repeat" {
            repeat = to_i64(&v).unwrap_or(1).clamp(0, 1000) as usize;
        } else {
            return Err(op_err(format!(
                "product() got an unexpected keyword argument '{k}'"
            )));
        }
    }
    let base = lists_of(&value, pos)?;
    let mut pools = Vec::new();
    for _ in 0..repeat {
        pools.extend(base.iter().cloned());
    }
    let mut result: Vec<Vec<Value>> = vec![Vec::new()];
    for pool in pools {
        let mut next = Vec::new();
        for prefix in &result {
            for item in &pool {
                let mut p = prefix.clone();
                p.push(item.clone());
                next.push(p);
            }
        }
        if next.len() > MAX_COMBINATORIC {
            return Err(op_err("product(): result too large"));
        }
        result = next;
    }
    Ok(seq(result.into_iter().map(tuple).collect()))
}

fn permute(
    items: &[Value],
    r: usize,
    used: &mut Vec<bool>,
    cur: &mut Vec<Value>,
    out: &mut Vec<Value>,
) -> Result<(), Error> {
    if cur.len() == r {
        if out.len() >= MAX_COMBINATORIC {
            return Err(op_err("permutations(): result too large"));
        }
        out.push(tuple(cur.clone()));
        return Ok(());
    }
    for i in 0..items.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        cur.push(items[i].clone());
        permute(items, r, used, cur, out)?;
        cur.pop();
        used[i] = false;
    }
    Ok(())
}

fn f_permutations(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("permutations", args, &["r"])?;
    let items = py_list(&value)?;
    let r = match b.opt_int(0)? {
        Some(r) if r < 0 => return Err(op_err("r must be non-negative")),
        Some(r) => r as usize,
        None => items.len(),
    };
    let mut out = Vec::new();
    if r <= items.len() {
        permute(
            &items,
            r,
            &mut vec![false; items.len()],
            &mut Vec::new(),
            &mut out,
        )?;
    }
    Ok(seq(out))
}

fn combine_rec(
    items: &[Value],
    r: usize,
    start: usize,
    cur: &mut Vec<Value>,
    out: &mut Vec<Value>,
) -> Result<(), Error> {
    if cur.len() == r {
        if out.len() >= MAX_COMBINATORIC {
            return Err(op_err("combinations(): result too large"));
        }
        out.push(tuple(cur.clone()));
        return Ok(());
    }
    for i in start..items.len() {
        cur.push(items[i].clone());
        combine_rec(items, r, i + 1, cur, out)?;
        cur.pop();
    }
    Ok(())
}

fn f_combinations(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("combinations", args, &["r"])?;
    let items = py_list(&value)?;
    let r = b
        .opt_int(0)?
        .ok_or_else(|| op_err("combinations() missing required argument 'r'"))?;
    if r < 0 {
        return Err(op_err("r must be non-negative"));
    }
    let mut out = Vec::new();
    if r as usize <= items.len() {
        combine_rec(&items, r as usize, 0, &mut Vec::new(), &mut out)?;
    }
    Ok(seq(out))
}

// ---------------------------------------------------------------------------
// misc
// ---------------------------------------------------------------------------

fn f_ternary(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("ternary", args, &["true_val", "false_val", "none_val"])?;
    if value.is_none()
        && let Some(nv) = b.opt(2)
    {
        return Ok(nv.clone());
    }
    let pick = if value.is_true() { 0 } else { 1 };
    Ok(b.val(pick).cloned().unwrap_or(Value::from(())))
}

fn rng_for(seed: Option<&Value>) -> Result<PyRandom, Error> {
    let Some(seed) = seed.filter(|s| !s.is_none() && !s.is_undefined()) else {
        return Ok(PyRandom::unseeded());
    };
    match seed.kind() {
        ValueKind::Bool => Ok(PyRandom::from_int(seed.is_true() as i128)),
        ValueKind::Number => {
            if seed.is_integer() {
                Ok(PyRandom::from_int(
                    i128::try_from(seed.clone()).unwrap_or(0),
                ))
            } else {
                Ok(PyRandom::from_float(
                    f64::try_from(seed.clone()).unwrap_or(0.0),
                ))
            }
        }
        ValueKind::String => Ok(PyRandom::from_str(seed.as_str().unwrap_or_default())),
        _ => Err(op_err(
            "The only supported seed types are: None, int, float, str, bytes, and bytearray.",
        )),
    }
}

fn f_random(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("random", args, &["start", "step", "seed"])?;
    let mut rng = rng_for(b.opt(2))?;
    let truthy = |i: usize| b.opt(i).is_some_and(|v| v.is_true());
    match value.kind() {
        ValueKind::Number | ValueKind::Bool
            if value.is_integer() || value.kind() == ValueKind::Bool =>
        {
            let end = to_i64(&value).unwrap_or(0) as i128;
            let start = if truthy(0) { b.int(0, 0)? as i128 } else { 0 };
            let step = if truthy(1) { b.int(1, 1)? as i128 } else { 1 };
            rng.randrange(start, end, step)
                .map(Value::from)
                .map_err(op_err)
        }
        ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => {
            if truthy(0) || truthy(1) {
                return Err(op_err(
                    "start and step can only be used with integer values",
                ));
            }
            let items = py_list(&value)?;
            if items.is_empty() {
                return Err(op_err("Cannot choose from an empty sequence"));
            }
            let idx = rng.randbelow(items.len() as u128) as usize;
            Ok(items[idx].clone())
        }
        _ => Err(op_err("random can only be used on sequences and integers")),
    }
}

fn f_shuffle(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("shuffle", args, &["seed"])?;
    let mut items = match py_list(&value) {
        Ok(items) => items,
        Err(_) if !value.is_undefined() => return Ok(value),
        Err(e) => return Err(e),
    };
    let seed = b.opt(0).filter(|s| s.is_true());
    let mut rng = rng_for(seed)?;
    rng.shuffle(&mut items);
    Ok(seq(items))
}

fn number(v: &Value, what: &str) -> Result<f64, Error> {
    defined(v)?;
    match v.kind() {
        ValueKind::Number => Ok(f64::try_from(v.clone()).unwrap_or(0.0)),
        ValueKind::Bool => Ok(v.is_true() as i64 as f64),
        _ => Err(op_err(format!(
            "{what} can only be used on numbers: must be real number, not {}",
            py_type_name(v)
        ))),
    }
}

fn f_abs(value: Value) -> R {
    defined(&value)?;
    match value.kind() {
        ValueKind::Bool => Ok(Value::from(value.is_true() as i64)),
        ValueKind::Number if value.is_integer() => {
            let n = i128::try_from(value.clone()).map_err(|e| op_err(e.to_string()))?;
            Ok(match i64::try_from(n.abs()) {
                Ok(i) => Value::from(i),
                Err(_) => Value::from(n.abs()),
            })
        }
        ValueKind::Number => Ok(Value::from(f64::try_from(value).unwrap_or(0.0).abs())),
        _ => Err(op_err(format!(
            "bad operand type for abs(): '{}'",
            py_type_name(&value)
        ))),
    }
}

/// Python's `round(x, ndigits)` for floats (correctly rounded, half to even).
fn round_float(x: f64, ndigits: i64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    if ndigits >= 0 {
        if ndigits > 300 {
            return x;
        }
        format!("{:.*}", ndigits as usize, x).parse().unwrap_or(x)
    } else {
        let p = 10f64.powi((-ndigits).min(308) as i32);
        (x / p).round_ties_even() * p
    }
}

fn f_round(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("round", args, &["precision", "method"])?;
    let precision = b.int(0, 0)?;
    let method = b.string(1, "common");
    if !matches!(method.as_str(), "common" | "ceil" | "floor") {
        return Err(op_err("method must be common, ceil or floor"));
    }
    if !matches!(value.kind(), ValueKind::Number | ValueKind::Bool) {
        return Err(op_err(format!(
            "type {} doesn't define __round__ method",
            py_type_name(&value)
        )));
    }
    let is_int = value.is_integer() || value.kind() == ValueKind::Bool;
    if method == "common" {
        if is_int {
            let n = i128::try_from(value.clone()).unwrap_or(value.is_true() as i128);
            if precision >= 0 {
                return Ok(match i64::try_from(n) {
                    Ok(i) => Value::from(i),
                    Err(_) => Value::from(n),
                });
            }
            let p = 10i128
                .checked_pow(precision.unsigned_abs().min(40) as u32)
                .unwrap_or(i128::MAX);
            let q = n.div_euclid(p);
            let r = n.rem_euclid(p);
            let rounded = match (2 * r).cmp(&p) {
                Ordering::Less => q,
                Ordering::Greater => q + 1,
                Ordering::Equal => {
                    if q % 2 == 0 {
                        q
                    } else {
                        q + 1
                    }
                }
            };
            return Ok(Value::from(rounded.saturating_mul(p)));
        }
        let x = f64::try_from(value).unwrap_or(0.0);
        return Ok(Value::from(round_float(x, precision)));
    }
    let x = number(&value, "round")?;
    let factor = 10f64.powi(precision.clamp(-308, 308) as i32);
    let scaled = x * factor;
    let r = if method == "ceil" {
        scaled.ceil()
    } else {
        scaled.floor()
    };
    Ok(Value::from(r / factor))
}

fn f_log(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("log", args, &["base"])?;
    let x = number(&value, "log()")?;
    if x <= 0.0 {
        return Err(op_err("math domain error"));
    }
    let r = match b.opt(0) {
        None => x.ln(),
        Some(base) => {
            let base = number(base, "log()")?;
            if base == 10.0 {
                x.log10()
            } else if base <= 0.0 || base == 1.0 {
                return Err(op_err("math domain error"));
            } else {
                x.ln() / base.ln()
            }
        }
    };
    Ok(Value::from(r))
}

fn f_pow(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("pow", args, &["y"])?;
    let x = number(&value, "pow()")?;
    let y = number(
        b.val(0)
            .ok_or_else(|| op_err("pow() missing required argument 'y'"))?,
        "pow()",
    )?;
    let r = x.powf(y);
    if r.is_nan() && !x.is_nan() && !y.is_nan() {
        return Err(op_err("math domain error"));
    }
    Ok(Value::from(r))
}

fn f_root(value: Value, args: Rest<ValueOrKwargs>) -> R {
    let b = bind("root", args, &["base"])?;
    let x = number(&value, "root()")?;
    let base = match b.opt(0) {
        None => 2.0,
        Some(v) => number(v, "root()")?,
    };
    let r = if base == 2.0 {
        if x < 0.0 {
            return Err(op_err(
                "root() can only be used on numbers: math domain error",
            ));
        }
        x.sqrt()
    } else {
        x.powf(1.0 / base)
    };
    if r.is_nan() {
        return Err(op_err(
            "root() can only be used on numbers: math domain error",
        ));
    }
    Ok(Value::from(r))
}

const SIZE_RANGES: [(char, u32); 9] = [
    ('Y', 80),
    ('Z', 70),
    ('E', 60),
    ('P', 50),
    ('T', 40),
    ('G', 30),
    ('M', 20),
    ('K', 10),
    ('B', 0),
];

fn f_human_readable(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("human_readable", args, &["isbits", "unit"])?;
    let size = match value.kind() {
        ValueKind::Number | ValueKind::Bool => number(&value, "human_readable()")?,
        ValueKind::String => super::strings::py_float_parse(value.as_str().unwrap_or_default())
            .ok_or_else(|| {
                op_err(format!(
                    "human_readable() can't interpret following string: {}",
                    py_str(&value)
                ))
            })?,
        _ => {
            return Err(op_err(format!(
                "human_readable() failed on bad input: {}",
                py_repr(&value)
            )));
        }
    };
    let base = if b.flag(0, false) { "bits" } else { "Bytes" };
    let unit = b.opt_string(1).map(|u| u.to_uppercase());
    let mut chosen = ('B', 0u32);
    for &(suffix, shift) in &SIZE_RANGES {
        chosen = (suffix, shift);
        let limit = 2f64.powi(shift as i32);
        let hit = match &unit {
            None => size >= limit,
            Some(u) => *u == suffix.to_string(),
        };
        if hit {
            break;
        }
    }
    let (suffix, shift) = chosen;
    let limit = 2f64.powi(shift as i32);
    let label = if shift != 0 {
        format!("{suffix}{}", &base[..1])
    } else {
        base.to_string()
    };
    Ok(Value::from(format!("{:.2} {label}", size / limit)))
}

fn f_human_to_bytes(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("human_to_bytes", args, &["default_unit", "isbits"])?;
    let s = py_str(&value);
    let fail = || {
        op_err(format!(
            "human_to_bytes() can't interpret following string: {s}"
        ))
    };
    let t = s.trim_end();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let num_str = &t[..num_end];
    let unit_str = t[num_end..].trim_start();
    if num_str.is_empty()
        || num_str.matches('.').count() > 1
        || num_str.ends_with('.')
        || !unit_str.chars().all(|c| c.is_ascii_alphabetic())
    {
        return Err(fail());
    }
    let num: f64 = num_str.parse().map_err(|_| fail())?;
    let unit = if unit_str.is_empty() {
        b.opt_string(0)
    } else {
        Some(unit_str.to_string())
    };
    let Some(unit) = unit else {
        return Ok(Value::from(num.round_ties_even() as i64));
    };
    let range_key = unit
        .chars()
        .next()
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or('B');
    let Some(&(_, shift)) = SIZE_RANGES.iter().find(|(k, _)| *k == range_key) else {
        return Err(op_err(format!(
            "human_to_bytes() failed to convert {s} (unit = {unit}). The suffix must be one of Y, Z, E, P, T, G, M, K, B"
        )));
    };
    let isbits = b.flag(1, false);
    let (unit_class, unit_class_name) = if isbits { ('b', "bit") } else { ('B', "byte") };
    if unit.chars().count() > 1
        && !unit.to_lowercase().contains(unit_class_name)
        && unit.chars().nth(1) != Some(unit_class)
    {
        let expect = if range_key == 'B' {
            format!("expect {unit_class} or {unit_class_name}")
        } else {
            format!("expect {range_key}{unit_class} or {range_key}")
        };
        return Err(op_err(format!(
            "human_to_bytes() failed to convert {s}. Value is not a valid string ({expect})"
        )));
    }
    let bytes = num * 2f64.powi(shift as i32);
    Ok(Value::from(bytes.round_ties_even() as i128))
}

// ---------------------------------------------------------------------------
// wrapped minijinja builtins
// ---------------------------------------------------------------------------

fn f_map(state: &mut State, value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    minijinja::filters::map(state, value, args).map(Value::from)
}

fn f_select(state: &mut State, value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    select_impl(state, value, args, false, false)
}

fn f_reject(state: &mut State, value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    select_impl(state, value, args, true, false)
}

fn f_selectattr(state: &mut State, value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    select_impl(state, value, args, false, true)
}

fn f_rejectattr(state: &mut State, value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    select_impl(state, value, args, true, true)
}

/// Jinja's select/reject(attr): `[attr,] [test_name, *test_args]`.
fn select_impl(
    state: &mut State,
    value: Value,
    args: Rest<ValueOrKwargs>,
    invert: bool,
    with_attr: bool,
) -> R {
    let mut raw = args.into_values();
    let kwargs = if raw.last().is_some_and(|v| v.is_kwargs()) {
        raw.pop()
    } else {
        None
    };
    let mut iter = raw.into_iter();
    let attr = if with_attr {
        Some(
            iter.next()
                .map(|a| py_str(&a))
                .ok_or_else(|| op_err("Missing parameter for attribute name"))?,
        )
    } else {
        None
    };
    let test_name = iter.next().map(|t| py_str(&t));
    let mut test_args: Vec<Value> = iter.collect();
    if let Some(k) = kwargs {
        test_args.push(k);
    }
    let mut out = Vec::new();
    for item in py_list(&value)? {
        let subject = match &attr {
            Some(a) => get_path(&item, a),
            None => item.clone(),
        };
        let passed = match &test_name {
            Some(t) => {
                let mut call = vec![subject];
                call.extend(test_args.iter().cloned());
                state.perform_test(t, &call)?
            }
            None => {
                if subject.is_undefined() && with_attr {
                    return Err(super::undefined_error(&subject));
                }
                subject.is_true()
            }
        };
        if passed != invert {
            out.push(item);
        }
    }
    Ok(seq(out))
}

fn f_groupby(value: Value, attribute: Option<String>, kwargs: Kwargs) -> R {
    defined(&value)?;
    minijinja::filters::groupby(value, attribute.as_deref(), kwargs)
}

fn f_batch(state: &State, value: Value, count: usize, fill_with: Option<Value>) -> R {
    defined(&value)?;
    minijinja::filters::batch(state, value, count, fill_with)
}

fn f_slice(state: &State, value: Value, count: usize, fill_with: Option<Value>) -> R {
    defined(&value)?;
    minijinja::filters::slice(state, value, count, fill_with)
}

fn f_dictsort(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("dictsort", args, &["case_sensitive", "by", "reverse"])?;
    let mut kw: Vec<(&str, Value)> = vec![
        ("case_sensitive", Value::from(b.flag(0, false))),
        ("reverse", Value::from(b.flag(2, false))),
    ];
    if let Some(by) = b.opt_string(1) {
        if by != "key" && by != "value" {
            return Err(op_err("You can only sort by either \"key\" or \"value\""));
        }
        kw.push(("by", Value::from(by)));
    }
    minijinja::filters::dictsort(&value, Kwargs::from_iter(kw))
}

fn f_reverse(value: Value) -> R {
    defined(&value)?;
    match value.kind() {
        ValueKind::String => Ok(Value::from(
            value
                .as_str()
                .unwrap_or_default()
                .chars()
                .rev()
                .collect::<String>(),
        )),
        _ => {
            let mut items = py_list(&value)?;
            items.reverse();
            Ok(seq(items))
        }
    }
}

fn f_sum(state: &State, value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("sum", args, &["attribute", "start"])?;
    let attr = b.opt_string(0);
    let start = b.val(1).cloned();
    minijinja::filters::sum(
        state,
        value,
        attr.as_deref(),
        start,
        Kwargs::from_iter(Vec::<(String, Value)>::new()),
    )
}

/// Jinja's `tojson`: sorted keys, Python separators, HTML-safe escapes.
fn f_tojson(value: Value, args: Rest<ValueOrKwargs>) -> R {
    defined(&value)?;
    let b = bind("tojson", args, &["indent"])?;
    let indent = match b.opt(0) {
        Some(v) if v.kind() == ValueKind::String => Some(py_str(v)),
        Some(_) => Some(" ".repeat(b.int(0, 0)?.max(0) as usize)),
        None => None,
    };
    let opts = super::pyjson::JsonOptions {
        item_separator: if indent.is_some() { "," } else { ", " }.into(),
        indent,
        sort_keys: true,
        ..super::pyjson::JsonOptions::default()
    };
    let out = super::pyjson::dumps(&value, &opts)?
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027");
    Ok(Value::from_safe_string(out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{eval, is_err, render};

    #[test]
    fn test_conversions() {
        assert_eq!(eval("'abc' | list"), "['a', 'b', 'c']");
        assert_eq!(eval("d | list"), "['b', 'a']");
        assert!(is_err("missing | list"));
        assert!(is_err("5 | list"));
        assert_eq!(eval("[['a', 1], ['b', 2]] | dict"), "{'a': 1, 'b': 2}");
        assert_eq!(eval("d | items | list"), "[('b', 2), ('a', 1)]");
        assert_eq!(eval("missing | items | list"), "[]");
        assert_eq!(eval("l | first"), "3");
        assert_eq!(eval("l | last"), "2");
        assert_eq!(eval("'abc' | first"), "'a'");
        assert_eq!(eval("[] | first | default('none')"), "'none'");
    }

    #[test]
    fn test_min_max_sort_unique() {
        assert_eq!(eval("l | min"), "1");
        assert_eq!(eval("l | max"), "3");
        assert_eq!(
            eval("users | min(attribute='age')"),
            "{'name': 'alice', 'age': 25, 'groups': ['dev']}"
        );
        assert_eq!(eval("users | max(attribute='age') | attr('name')"), "'bob'");
        assert_eq!(eval("['b', 'A', 'c'] | max"), "'c'");
        assert_eq!(eval("['b', 'A', 'c'] | min"), "'A'");
        assert_eq!(eval("l | sort"), "[1, 2, 3]");
        assert_eq!(eval("l | sort(reverse=true)"), "[3, 2, 1]");
        assert_eq!(eval("l | sort(true)"), "[3, 2, 1]");
        assert_eq!(eval("['b', 'A', 'c'] | sort"), "['A', 'b', 'c']");
        assert_eq!(
            eval("['b', 'A', 'c'] | sort(case_sensitive=true)"),
            "['A', 'b', 'c']"
        );
        assert_eq!(
            eval("users | sort(attribute='age') | map(attribute='name') | list"),
            "['alice', 'bob']"
        );
        assert_eq!(eval("[1, 2, 1, 3, 2] | unique"), "[1, 2, 3]");
        assert_eq!(eval("['a', 'A', 'b'] | unique"), "['a', 'b']");
        assert_eq!(
            eval("['a', 'A', 'b'] | unique(case_sensitive=true)"),
            "['a', 'A', 'b']"
        );
        assert_eq!(eval("users | unique(attribute='groups') | length"), "2");
    }

    #[test]
    fn test_set_theory() {
        assert_eq!(eval("[1, 2, 3] | union([2, 4])"), "[1, 2, 3, 4]");
        assert_eq!(eval("[1, 2, 3, 2] | intersect([2, 3, 4])"), "[2, 3]");
        assert_eq!(eval("[1, 2, 3] | difference([2])"), "[1, 3]");
        assert_eq!(
            eval("[1, 2, 3] | symmetric_difference([2, 4])"),
            "[1, 3, 4]"
        );
        assert_eq!(eval("['a', 'A'] | union(['a'])"), "['a', 'A']");
    }

    #[test]
    fn test_flatten() {
        assert_eq!(
            eval("[1, [2, [3, [4]]], none, 'None'] | flatten"),
            "[1, 2, 3, 4]"
        );
        assert_eq!(
            eval("[1, [2, [3, [4]]]] | flatten(levels=1)"),
            "[1, 2, [3, [4]]]"
        );
        assert_eq!(eval("[1, none] | flatten(skip_nulls=false)"), "[1, None]");
    }

    #[test]
    fn test_combine() {
        assert_eq!(
            eval("{'a': 1, 'b': 2} | combine({'b': 3, 'c': 4})"),
            "{'a': 1, 'b': 3, 'c': 4}"
        );
        assert_eq!(
            eval("{'a': {'x': 1, 'y': 2}} | combine({'a': {'y': 3}})"),
            "{'a': {'y': 3}}"
        );
        assert_eq!(
            eval("{'a': {'x': 1, 'y': 2}} | combine({'a': {'y': 3}}, recursive=true)"),
            "{'a': {'x': 1, 'y': 3}}"
        );
        assert_eq!(
            eval("{'a': 1} | combine({'b': 2}, {'a': 3})"),
            "{'a': 3, 'b': 2}"
        );
        assert_eq!(eval("[{'a': 1}, {'b': 2}] | combine"), "{'a': 1, 'b': 2}");
        assert_eq!(
            eval("{'a': [1, 2]} | combine({'a': [2, 3]})"),
            "{'a': [2, 3]}"
        );
        assert_eq!(
            eval("{'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='keep')"),
            "{'a': [1, 2]}"
        );
        assert_eq!(
            eval("{'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='append')"),
            "{'a': [1, 2, 2, 3]}"
        );
        assert_eq!(
            eval("{'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='prepend')"),
            "{'a': [2, 3, 1, 2]}"
        );
        assert_eq!(
            eval("{'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='append_rp')"),
            "{'a': [1, 2, 3]}"
        );
        assert_eq!(
            eval("{'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='prepend_rp')"),
            "{'a': [2, 3, 1]}"
        );
        assert!(is_err("{'a': 1} | combine([1])"));
        assert!(is_err("{'a': 1} | combine({}, list_merge='bad')"));
        assert!(is_err("{'a': 1} | combine({}, foo=1)"));
    }

    #[test]
    fn test_dict_conversions() {
        assert_eq!(
            eval("d | dict2items"),
            "[{'key': 'b', 'value': 2}, {'key': 'a', 'value': 1}]"
        );
        assert_eq!(
            eval("{'x': 1} | dict2items(key_name='k', value_name='v')"),
            "[{'k': 'x', 'v': 1}]"
        );
        assert!(is_err("l | dict2items"));
        assert_eq!(eval("[{'key': 'a', 'value': 1}] | items2dict"), "{'a': 1}");
        assert_eq!(
            eval("[{'k': 'a', 'v': 1}] | items2dict(key_name='k', value_name='v')"),
            "{'a': 1}"
        );
        assert!(is_err("[{'x': 1}] | items2dict"));
        assert_eq!(
            eval("users | subelements('groups') | map(attribute='1') | list"),
            "['wheel', 'dev', 'dev']"
        );
        assert_eq!(
            eval("[{'n': 1, 'g': [1]}, {'n': 2}] | subelements('g', skip_missing=true)"),
            "[({'n': 1, 'g': [1]}, 1)]"
        );
        assert!(is_err("[{'n': 2}] | subelements('g')"));
        assert_eq!(
            eval("['a', 'b'] | map('extract', {'a': 1, 'b': 2}) | list"),
            "[1, 2]"
        );
        assert_eq!(eval("0 | extract([{'x': 5}], 'x')"), "5");
        assert_eq!(
            eval("users | rekey_on_member('name') | list"),
            "['bob', 'alice']"
        );
    }

    #[test]
    fn test_itertools() {
        assert_eq!(eval("[1, 2, 3] | zip(['a', 'b'])"), "[(1, 'a'), (2, 'b')]");
        assert_eq!(eval("[1, 2] | zip_longest(['a'])"), "[(1, 'a'), (2, None)]");
        assert_eq!(
            eval("[1, 2] | zip_longest(['a'], fillvalue='-')"),
            "[(1, 'a'), (2, '-')]"
        );
        assert_eq!(
            eval("[1, 2] | product(['a', 'b'])"),
            "[(1, 'a'), (1, 'b'), (2, 'a'), (2, 'b')]"
        );
        assert_eq!(eval("[1, 2, 3] | permutations(2) | length"), "6");
        assert_eq!(
            eval("[1, 2, 3] | combinations(2)"),
            "[(1, 2), (1, 3), (2, 3)]"
        );
    }

    #[test]
    fn test_ternary_random_shuffle() {
        assert_eq!(eval("true | ternary('a', 'b')"), "'a'");
        assert_eq!(eval("0 | ternary('a', 'b')"), "'b'");
        assert_eq!(eval("n | ternary('a', 'b', 'c')"), "'c'");
        assert_eq!(eval("n | ternary('a', 'b')"), "'b'");
        assert!(is_err("missing | ternary('a', 'b')"));
        // seeded values match CPython's random module
        assert_eq!(eval("60 | random(seed='web01')"), "22");
        assert_eq!(
            eval("range(10) | shuffle(seed='x')"),
            "[0, 8, 2, 9, 4, 3, 6, 1, 7, 5]"
        );
        let r: i64 = eval("10 | random(start=5)").parse().unwrap_or(-1);
        assert!((5..10).contains(&r));
        assert!(eval("['a', 'b'] | random").starts_with('\''));
        assert!(is_err("'x' | random(start=1)"));
        assert_eq!(eval("[1, 2, 3] | shuffle | length"), "3");
    }

    #[test]
    fn test_math() {
        assert_eq!(eval("-3 | abs"), "3");
        assert_eq!(eval("-3.5 | abs"), "3.5");
        assert!(is_err("'x' | abs"));
        assert_eq!(eval("42 | round"), "42");
        assert_eq!(eval("42.55 | round"), "43.0");
        assert_eq!(eval("2.5 | round"), "2.0");
        assert_eq!(eval("2.675 | round(2)"), "2.67");
        assert_eq!(eval("42.55 | round(1, 'floor')"), "42.5");
        assert_eq!(eval("42.15 | round(method='ceil')"), "43.0");
        assert_eq!(eval("42 | round(method='ceil')"), "42.0");
        assert_eq!(eval("1250 | round(-2)"), "1200");
        assert_eq!(eval("1350 | round(-2)"), "1400");
        assert!(is_err("1.5 | round(method='bad')"));
        assert_eq!(eval("100 | log(10)"), "2.0");
        assert_eq!(eval("8 | log(2)"), "3.0");
        assert_eq!(eval("2 | pow(10)"), "1024.0");
        assert_eq!(eval("81 | root"), "9.0");
        assert_eq!(eval("27 | root(3)"), "3.0");
        assert_eq!(eval("[1, 2, 3] | sum"), "6");
        assert_eq!(eval("users | sum(attribute='age')"), "55");
        assert_eq!(eval("[[1], [2]] | sum(start=[])"), "[1, 2]");
        assert!(is_err("missing | sum"));
        assert_eq!(eval("1024 | human_readable"), "'1.00 KB'");
        assert_eq!(eval("10 | human_readable"), "'10.00 Bytes'");
        assert_eq!(eval("1048576 | human_readable(unit='K')"), "'1024.00 KB'");
        assert_eq!(eval("1024 | human_readable(isbits=true)"), "'1.00 Kb'");
        assert_eq!(eval("'1K' | human_to_bytes"), "1024");
        assert_eq!(eval("'1.5 MB' | human_to_bytes"), "1572864");
        assert_eq!(eval("'10' | human_to_bytes(default_unit='M')"), "10485760");
        assert_eq!(eval("'1Mb' | human_to_bytes(isbits=true)"), "1048576");
        assert!(is_err("'1Mb' | human_to_bytes"));
        assert!(is_err("'abc' | human_to_bytes"));
    }

    #[test]
    fn test_wrapped_builtins() {
        assert_eq!(
            eval("users | map(attribute='name') | list"),
            "['bob', 'alice']"
        );
        assert_eq!(eval("['a', 'b'] | map('upper') | list"), "['A', 'B']");
        assert_eq!(eval("[1, 2, 3, 4] | select('odd') | list"), "[1, 3]");
        assert_eq!(eval("[1, 2, 3, 4] | reject('odd') | list"), "[2, 4]");
        assert_eq!(eval("[0, 1, '', 'x'] | select | list"), "[1, 'x']");
        assert_eq!(
            eval("users | selectattr('age', 'gt', 26) | map(attribute='name') | list"),
            "['bob']"
        );
        assert_eq!(
            eval("users | rejectattr('name', 'equalto', 'bob') | map(attribute='name') | list"),
            "['alice']"
        );
        assert_eq!(
            eval("users | selectattr('missing', 'defined') | list"),
            "[]"
        );
        assert_eq!(eval("['ab', 'cd'] | select('match', 'a') | list"), "['ab']");
        assert_eq!(
            eval("['AB', 'cd'] | select('search', 'b', ignorecase=true) | list"),
            "['AB']"
        );
        assert!(is_err("missing | select('odd') | list"));
        assert_eq!(eval("[1, 2, 3] | batch(2) | list"), "[[1, 2], [3]]");
        assert_eq!(eval("[1, 2, 3] | slice(2) | list"), "[[1, 2], [3]]");
        assert_eq!(eval("d | dictsort"), "[('a', 1), ('b', 2)]");
        assert_eq!(
            eval("d | dictsort(false, 'value', true)"),
            "[('b', 2), ('a', 1)]"
        );
        assert_eq!(
            eval("{'B': 1, 'a': 2} | dictsort(true)"),
            "[('B', 1), ('a', 2)]"
        );
        assert_eq!(eval("l | reverse | list"), "[2, 1, 3]");
        assert_eq!(eval("'abc' | reverse"), "'cba'");
        assert_eq!(
            render("{% for g in users | groupby('age') %}{{ g.grouper }} {% endfor %}"),
            "25 30 "
        );
        assert_eq!(
            render("{{ {'b': '<x>', 'a': 1, 'c': [1, 2]} | tojson }}"),
            "{\"a\": 1, \"b\": \"\\u003cx\\u003e\", \"c\": [1, 2]}"
        );
        assert_eq!(render("{{ [1, 'a'] | tojson(2) }}"), "[\n  1,\n  \"a\"\n]");
        assert!(is_err("missing | tojson"));
    }
}
