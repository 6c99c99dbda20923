//! Ansible's extra backslash quoting for templated playbook strings.
//!
//! A string in a playbook (a task argument, a variable) passes through YAML
//! before Jinja sees it, so ansible-core doubles the backslashes inside the
//! string literals of every `{{ … }}` before templating it: a playbook
//! writes `regex_replace('(a)', '\\1')` (YAML double quotes) or
//! `'\1'` (plain/single quotes) and Jinja then gets the regex backreference
//! `\1`, not the control character U+0001: in effect such a literal's text
//! is taken as written (`'a\nb'` is a backslash and an `n`, `"q\"x"` keeps
//! its backslash). `{% … %}` blocks and text
//! outside expressions are left alone, and template files are never
//! escaped.

use std::borrow::Cow;

/// `s` with the backslashes in the string literals of its `{{ … }}`
/// expressions doubled, as ansible-core's `_escape_backslashes` does.
pub fn escape_backslashes(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') || !s.contains("{{") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    loop {
        // Copy text and `{% %}`/`{# #}` blocks up to the next `{{`.
        let Some(start) = next_expression(rest) else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..start + 2]);
        rest = &rest[start + 2..];
        // Inside `{{ … }}`: double backslashes within string literals.
        let mut chars = rest.char_indices().peekable();
        let mut end = rest.len();
        let mut quote: Option<char> = None;
        while let Some((i, c)) = chars.next() {
            match quote {
                Some(q) => {
                    if c == '\\' {
                        out.push_str("\\\\");
                        if let Some((_, next)) = chars.next() {
                            // The escaped character itself is kept as
                            // written too: Jinja then reads the literal's
                            // text as it is.
                            if next == '\\' || next == q {
                                out.push('\\');
                            }
                            out.push(next);
                        }
                        continue;
                    }
                    if c == q {
                        quote = None;
                    }
                    out.push(c);
                }
                None => {
                    if c == '}' && rest[i..].starts_with("}}") {
                        end = i;
                        break;
                    }
                    if c == '\'' || c == '"' {
                        quote = Some(c);
                    }
                    out.push(c);
                }
            }
        }
        if end == rest.len() {
            break;
        }
        out.push_str("}}");
        rest = &rest[end + 2..];
    }
    Cow::Owned(out)
}

/// Where the next `{{` opens, skipping `{% … %}` and `{# … #}` blocks (and
/// the string literals inside `{% %}`).
fn next_expression(s: &str) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = s[i..].find('{') {
        let at = i + off;
        let tail = &s[at..];
        if tail.starts_with("{{") {
            return Some(at);
        }
        if tail.starts_with("{#") {
            i = match tail.find("#}") {
                Some(e) => at + e + 2,
                None => return None,
            };
            continue;
        }
        if let Some(body) = tail.strip_prefix("{%") {
            i = at + block_end(body).map(|e| e + 2)?;
            continue;
        }
        i = at + 1;
    }
    None
}

/// The offset just past the `%}` closing a block body, strings skipped.
fn block_end(body: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == '%' && body[i..].starts_with("%}") {
                    return Some(i + 2);
                }
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::escape_backslashes as esc;

    #[test]
    fn only_string_literals_in_expressions_are_escaped() {
        assert_eq!(
            esc(r"{{ x | regex_replace('(a)', '\1') }}"),
            r"{{ x | regex_replace('(a)', '\\1') }}"
        );
        assert_eq!(
            esc(r"{{ 'a\nb' }} {% set y = 'c\nd' %}{{ y }}"),
            r"{{ 'a\\nb' }} {% set y = 'c\nd' %}{{ y }}"
        );
        // Outside expressions, and strings without `{{`, stay as they are.
        assert_eq!(esc(r"C:\dir {{ x }}"), r"C:\dir {{ x }}");
        assert_eq!(esc(r"a\nb"), r"a\nb");
        // An escaped quote does not end the literal; a `}}` in a string
        // does not end the expression.
        assert_eq!(esc(r#"{{ "q\"}}x" }}\"#), r#"{{ "q\\\"}}x" }}\"#);
        assert_eq!(esc(r"{# '\1' #}{{ '\1' }}"), r"{# '\1' #}{{ '\\1' }}");
        assert_eq!(esc(r"{{ '\\' }}"), r"{{ '\\\\' }}");
        // An unclosed expression is copied through.
        assert_eq!(esc(r"{{ '\1'"), r"{{ '\\1'");
    }
}
