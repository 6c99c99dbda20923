//! Source rewrites for the Python semantics minijinja has no hook for.
//!
//! * Mutation. A template that calls a method changing a container in
//!   place (`{% set _ = items.append(x) %}`, the idiom ansible-core's porting
//!   guide recommends for building lists) gets its list and dict literals,
//!   the value of each `{% set x = … %}`, and each variable it calls such a
//!   method on, passed through `__hoist_mut`, which makes them mutable
//!   ([`super::pymethods::MutList`]). The render's result is frozen back to
//!   plain values.
//! * `'format' % args`. Python's printf-style operator on a string literal
//!   becomes the filter call `'format' | __hoist_pct(args)`; filters bind
//!   tighter than `%`, so the operand keeps its extent.
//!
//! * Chained lookups on undefined values before `is defined` and
//!   `default` ([`super::chains`]), first.
//!
//! The rewrite only inserts text inside `{{ … }}` and `{% … %}` (never in
//! template data, strings, comments or raw blocks), so line numbers stay.
//! A rewritten template that fails to compile is compiled as written.

use std::borrow::Cow;

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::chains;
use super::filters::pyfmt::{self, PercentArgs};
use super::pymethods::{MUT_FN, MUTATORS};

/// Name of the filter that replaces the `%` operator on a string literal.
pub(crate) const PCT_FILTER: &str = "__hoist_pct";

/// A rewritten source.
pub(crate) struct Rewritten {
    pub text: String,
    /// Whether containers were made mutable (the result must be frozen).
    pub mutable: bool,
}

/// True when the text calls a method that changes a container in place.
fn calls_mutator(src: &str) -> bool {
    src.match_indices('.').any(|(at, _)| {
        let rest = &src[at + 1..];
        MUTATORS.iter().any(|m| {
            rest.strip_prefix(m)
                .is_some_and(|after| after.trim_start().starts_with('('))
        })
    })
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Plain variable names a mutating method is called on (`name.append(`),
/// not attributes (`a.b.append(`).
fn mutated_receivers(src: &str) -> Vec<&str> {
    let b = src.as_bytes();
    let mut names: Vec<&str> = Vec::new();
    for (dot, _) in src.match_indices('.') {
        let rest = &src[dot + 1..];
        let calls = MUTATORS.iter().any(|m| {
            rest.strip_prefix(m).is_some_and(|after| {
                !after.bytes().next().is_some_and(is_ident_byte)
                    && after.trim_start().starts_with('(')
            })
        });
        if !calls {
            continue;
        }
        let mut start = dot;
        while start > 0 && is_ident_byte(b[start - 1]) {
            start -= 1;
        }
        let name = &src[start..dot];
        let plain = start == 0 || !matches!(b[start - 1], b'.' | b']' | b')');
        if plain
            && name
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    names
}

/// True when the text may use `%` as an operator (a `%` that is not part
/// of `{%` or `%}`).
fn has_percent_op(src: &str) -> bool {
    let b = src.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == b'%' && (i == 0 || b[i - 1] != b'{') && b.get(i + 1).is_none_or(|n| *n != b'}')
    })
}

/// Rewrites a template; `None` when nothing needs rewriting.
pub(crate) fn rewrite_template(src: &str) -> Option<Rewritten> {
    rewrite(src, false)
}

/// Rewrites a bare expression; `None` when nothing needs rewriting.
pub(crate) fn rewrite_expression(src: &str) -> Option<Rewritten> {
    rewrite(src, true)
}

fn rewrite(original: &str, expression: bool) -> Option<Rewritten> {
    let chained = if expression {
        chains::rewrite_expression(original)
    } else {
        chains::rewrite_template(original)
    };
    let src: &str = &chained;
    let mutation = calls_mutator(src);
    if !mutation && !has_percent_op(src) {
        return matches!(chained, Cow::Owned(_)).then(|| Rewritten {
            text: chained.into_owned(),
            mutable: false,
        });
    }
    let mut out = String::with_capacity(src.len() + 64);
    if expression {
        rewrite_code(src, 0, "", false, mutation, &mut out);
    } else {
        if mutation {
            // A variable changed in place is the template's own copy, as
            // ansible-core's lazy containers are. `+%}` keeps a newline
            // that follows (trim_blocks).
            for name in mutated_receivers(src) {
                out.push_str(&format!("{{% set {name} = {MUT_FN}({name}) +%}}"));
            }
        }
        let mut i = 0;
        while i < src.len() {
            let Some(rel) = find_tag_start(&src[i..]) else {
                out.push_str(&src[i..]);
                break;
            };
            let start = i + rel;
            out.push_str(&src[i..start]);
            let rest = &src[start..];
            if rest.starts_with("{#") {
                let end = rest.find("#}").map_or(src.len(), |e| start + e + 2);
                out.push_str(&src[start..end]);
                i = end;
            } else if rest.starts_with("{%")
                && let Some(end) = raw_block_end(rest)
            {
                out.push_str(&rest[..end]);
                i = start + end;
            } else {
                let block = rest.starts_with("{%");
                out.push_str(&rest[..2]);
                let end = if block { "%}" } else { "}}" };
                i = rewrite_code(src, start + 2, end, block, mutation, &mut out);
            }
        }
    }
    (out != original || mutation).then_some(Rewritten {
        text: out,
        mutable: mutation,
    })
}

pub(super) fn find_tag_start(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(1)).find(|&i| b[i] == b'{' && matches!(b[i + 1], b'{' | b'%' | b'#'))
}

/// Skips `{%-? name -?%}` at the start of `s`; the offset after it.
fn skip_tag(s: &str, name: &str) -> Option<usize> {
    let inner = s.strip_prefix("{%")?;
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let after = inner.trim_start().strip_prefix(name)?;
    let after = after.trim_start();
    let after = after.strip_prefix(['-', '+']).unwrap_or(after);
    let after = after.strip_prefix("%}")?;
    Some(s.len() - after.len())
}

/// For a `{% raw %}` tag at the start of `s`, the offset after its
/// `{% endraw %}`.
pub(super) fn raw_block_end(s: &str) -> Option<usize> {
    let mut at = skip_tag(s, "raw")?;
    while let Some(rel) = s[at..].find("{%") {
        let tag = at + rel;
        if let Some(len) = skip_tag(&s[tag..], "endraw") {
            return Some(tag + len);
        }
        at = tag + 2;
    }
    Some(s.len())
}

/// Words that come before an operand (so a `[` after them is a literal).
const KEYWORDS: &[&str] = &["in", "and", "or", "not", "if", "else", "elif", "is"];

/// Words that end the operand of a rewritten `%`.
const LOWER_WORDS: &[&str] = &["in", "and", "or", "not", "if", "else"];

/// Copies the code of one `{{ … }}` or `{% … %}` (from `i`, after the
/// opening delimiter; `end` empty for a bare expression) to `out`,
/// rewritten; the offset after the closing delimiter.
fn rewrite_code(
    src: &str,
    mut i: usize,
    end: &str,
    block: bool,
    mutation: bool,
    out: &mut String,
) -> usize {
    let b = src.as_bytes();
    // (closing bracket, wrapped in __hoist_mut)
    let mut stack: Vec<(u8, bool)> = Vec::new();
    // Bracket depths of `%` operands still open.
    let mut pending: Vec<usize> = Vec::new();
    // Whether the previous token ends an operand (so `[` subscripts it).
    let mut after_operand = false;
    let mut after_string = false;
    // Right after a rewritten `%`: a sign is unary.
    let mut operand_start = false;
    let mut first_word = true;
    let mut after_is = false;
    let mut in_set = false;
    let mut set_open = false;
    let close_pending = |pending: &mut Vec<usize>, depth: usize, out: &mut String| {
        while pending.last() == Some(&depth) {
            pending.pop();
            out.push(')');
        }
    };
    if block && matches!(b.get(i), Some(b'-' | b'+')) {
        out.push(b[i] as char);
        i += 1;
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            out.push(c as char);
            i += 1;
            continue;
        }
        if stack.is_empty() && !end.is_empty() {
            let modifier = matches!(c, b'-' | b'+') && src[i + 1..].starts_with(end);
            if src[i..].starts_with(end) || modifier {
                close_pending(&mut pending, 0, out);
                if set_open {
                    out.push_str("))");
                }
                let stop = i + usize::from(modifier) + end.len();
                out.push_str(&src[i..stop]);
                return stop;
            }
        }
        let was_operand_start = std::mem::take(&mut operand_start);
        let was_string = std::mem::take(&mut after_string);
        if c == b'\'' || c == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != c {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let stop = (j + 1).min(b.len());
            out.push_str(&src[i..stop]);
            i = stop;
            after_operand = true;
            after_string = true;
            first_word = false;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i;
            while j < b.len() && is_ident_byte(b[j]) {
                j += 1;
            }
            let word = &src[i..j];
            if LOWER_WORDS.contains(&word) && !(after_is && word == "not") {
                close_pending(&mut pending, stack.len(), out);
            }
            after_is = word == "is";
            out.push_str(word);
            if block && first_word && word == "set" {
                in_set = mutation;
            }
            first_word = false;
            after_operand = !KEYWORDS.contains(&word);
            i = j;
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while j < b.len() && (is_ident_byte(b[j]) || b[j] == b'.') {
                j += 1;
            }
            out.push_str(&src[i..j]);
            i = j;
            after_operand = true;
            first_word = false;
            continue;
        }
        first_word = false;
        match c {
            b'[' | b'{' | b'(' => {
                let wrap = mutation && (c == b'{' || (c == b'[' && !after_operand));
                if wrap {
                    out.push_str(MUT_FN);
                    out.push('(');
                }
                let close = match c {
                    b'[' => b']',
                    b'{' => b'}',
                    _ => b')',
                };
                stack.push((close, wrap));
                out.push(c as char);
                after_operand = false;
                i += 1;
            }
            b']' | b'}' | b')' => {
                close_pending(&mut pending, stack.len(), out);
                out.push(c as char);
                if let Some((_, true)) = stack.pop() {
                    out.push(')');
                }
                after_operand = true;
                i += 1;
            }
            b'%' if was_string => {
                out.push('|');
                out.push_str(PCT_FILTER);
                out.push('(');
                pending.push(stack.len());
                operand_start = true;
                after_operand = false;
                i += 1;
            }
            b'-' | b'+' if was_operand_start => {
                out.push(c as char);
                operand_start = true;
                i += 1;
            }
            b'*' if b.get(i + 1) == Some(&b'*') => {
                out.push_str("**");
                after_operand = false;
                i += 2;
            }
            b'.' | b'|' => {
                out.push(c as char);
                after_operand = false;
                i += 1;
            }
            b'=' | b'!' | b'<' | b'>' if b.get(i + 1) == Some(&b'=') => {
                close_pending(&mut pending, stack.len(), out);
                out.push_str(&src[i..i + 2]);
                after_operand = false;
                i += 2;
            }
            b'=' if in_set && stack.is_empty() => {
                out.push('=');
                out.push_str(MUT_FN);
                out.push_str("((");
                in_set = false;
                set_open = true;
                after_operand = false;
                i += 1;
            }
            _ => {
                close_pending(&mut pending, stack.len(), out);
                let len = src[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&src[i..i + len]);
                after_operand = false;
                i += len;
            }
        }
    }
    close_pending(&mut pending, 0, out);
    if set_open {
        out.push_str("))");
    }
    b.len()
}

/// `'format' | __hoist_pct(args)`: Python's `format % args`. A tuple gives
/// the positional arguments, a dict the mapping; anything else is the one
/// argument.
pub(crate) fn pct_filter(fmt: &Value, args: Value) -> Result<Value, Error> {
    let Some(fmt_str) = fmt.as_str() else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "unsupported operand for %",
        ));
    };
    let out = if args.is_tuple() {
        let items: Vec<Value> = args.try_iter()?.collect();
        pyfmt::percent_format(fmt_str, PercentArgs::Positional(&items))?
    } else if args.kind() == ValueKind::Map {
        pyfmt::percent_format(fmt_str, PercentArgs::Mapping(&args))?
    } else {
        pyfmt::percent_format(
            fmt_str,
            PercentArgs::Positional(std::slice::from_ref(&args)),
        )?
    };
    Ok(if fmt.is_safe() {
        Value::from_safe_string(out)
    } else {
        Value::from(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(s: &str) -> Option<String> {
        rewrite_template(s).map(|r| r.text)
    }

    #[test]
    fn untouched_without_mutation_or_percent() {
        assert_eq!(rw("{{ x }}{% if a %}50% {{ b }}{% endif %}"), None);
        assert_eq!(rw("{{ x % 2 }}"), None);
    }

    #[test]
    fn mutation_wraps_literals_set_values_and_receivers() {
        assert_eq!(
            rw("{% set x = [] %}{{ x.append(1) }}").as_deref(),
            Some(
                "{% set x = __hoist_mut(x) +%}{% set x =__hoist_mut(( __hoist_mut([]) ))%}\
                 {{ x.append(1) }}"
            )
        );
        assert_eq!(
            rw("{%- set d = {'a': [1]} -%}{{ d.update(a=2) or l[0] }}").as_deref(),
            Some(
                "{% set d = __hoist_mut(d) +%}\
                 {%- set d =__hoist_mut(( __hoist_mut({'a': __hoist_mut([1])}) ))-%}\
                 {{ d.update(a=2) or l[0] }}"
            )
        );
        // strings, comments, raw blocks and comparisons are left alone
        assert_eq!(
            rewrite_template(
                "{# [x] #}{% raw %}{{ [1] }}{% endraw %}{% if a == '[' %}{{ b.c.pop() }}{% endif %}"
            )
            .map(|r| (r.text, r.mutable)),
            Some((
                "{# [x] #}{% raw %}{{ [1] }}{% endraw %}{% if a == '[' %}{{ b.c.pop() }}{% endif %}"
                    .to_owned(),
                true
            ))
        );
        assert_eq!(
            rw("{% for i in [1] if i not in [2] %}{{ x[0].sort() }}{% endfor %}").as_deref(),
            Some(
                "{% for i in __hoist_mut([1]) if i not in __hoist_mut([2]) %}\
                 {{ x[0].sort() }}{% endfor %}"
            )
        );
    }

    #[test]
    fn percent_on_a_string_literal_becomes_a_filter() {
        assert_eq!(
            rw("{{ '%s-%d' % (a, 3) }}").as_deref(),
            Some("{{ '%s-%d' |__hoist_pct( (a, 3) )}}")
        );
        assert_eq!(
            rw("{{ '%s' % x | upper ~ 'y' }}").as_deref(),
            Some("{{ '%s' |__hoist_pct( x | upper )~ 'y' }}")
        );
        assert_eq!(
            rw("{% if '%d' % -n == '1' and ('%s' % x.y[0]) %}{% endif %}").as_deref(),
            Some(
                "{% if '%d' |__hoist_pct( -n )== '1' and ('%s' |__hoist_pct( x.y[0])) %}{% endif %}"
            )
        );
        assert_eq!(
            rewrite_expression("'%02d' % n ** 2, 1")
                .map(|r| r.text)
                .as_deref(),
            Some("'%02d' |__hoist_pct( n ** 2), 1")
        );
    }
}
