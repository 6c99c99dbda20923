//! A YAML emitter reproducing PyYAML's `yaml.dump` output (SafeDumper
//! representers, YAML 1.1 implicit resolvers, PyYAML's emitter style choices,
//! line folding at `width` and indentation rules), so `to_yaml` and
//! `to_nice_yaml` render byte-for-byte like Ansible.

use std::sync::LazyLock;

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};
use regex::Regex;

use super::pyfmt::float_repr;
use super::pyjson::sort_pairs;

/// Options of `yaml.dump`.
#[derive(Clone, Debug)]
pub struct YamlOptions {
    /// `default_flow_style`: `None` lets PyYAML use flow style for collections
    /// that only contain scalars.
    pub default_flow_style: Option<bool>,
    pub indent: usize,
    pub width: usize,
    pub sort_keys: bool,
    pub allow_unicode: bool,
    pub explicit_start: bool,
    pub explicit_end: bool,
}

impl Default for YamlOptions {
    fn default() -> Self {
        YamlOptions {
            default_flow_style: None,
            indent: 2,
            width: 80,
            sort_keys: true,
            allow_unicode: true,
            explicit_start: false,
            explicit_end: false,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tag {
    Str,
    Int,
    Float,
    Bool,
    Null,
    Timestamp,
    Merge,
    Value,
}

impl Tag {
    fn short_len(self) -> usize {
        // length of the prepared tag ("!!str", ...) as PyYAML counts it
        match self {
            Tag::Str | Tag::Int => 5,
            Tag::Bool | Tag::Null => 6,
            Tag::Float | Tag::Value | Tag::Merge => 7,
            Tag::Timestamp => 11,
        }
    }
}

static RE_BOOL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
        .ok()
});
static RE_FLOAT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    )
    .ok()
});
static RE_INT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    )
    .ok()
});
static RE_NULL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(?:~|null|Null|NULL|)$").ok());
static RE_TIMESTAMP: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
    )
    .ok()
});

fn re_match(re: &LazyLock<Option<Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(s))
}

/// PyYAML's (YAML 1.1) implicit resolution of a plain scalar.
pub fn resolve_plain(value: &str) -> Tag {
    let first = value.chars().next();
    match first {
        None => Tag::Null,
        Some(c) => {
            if matches!(c, 'y' | 'Y' | 'n' | 'N' | 't' | 'T' | 'f' | 'F' | 'o' | 'O')
                && re_match(&RE_BOOL, value)
            {
                return Tag::Bool;
            }
            if "-+0123456789.".contains(c) && re_match(&RE_FLOAT, value) {
                return Tag::Float;
            }
            if "-+0123456789".contains(c) && re_match(&RE_INT, value) {
                return Tag::Int;
            }
            if c == '<' && value == "<<" {
                return Tag::Merge;
            }
            if matches!(c, '~' | 'n' | 'N') && re_match(&RE_NULL, value) {
                return Tag::Null;
            }
            if c.is_ascii_digit() && re_match(&RE_TIMESTAMP, value) {
                return Tag::Timestamp;
            }
            if c == '=' && value == "=" {
                return Tag::Value;
            }
            Tag::Str
        }
    }
}

enum Node {
    Scalar {
        value: String,
        tag: Tag,
    },
    Seq {
        items: Vec<Node>,
        flow: bool,
    },
    Map {
        pairs: Vec<(Node, Node)>,
        flow: bool,
    },
}

fn yaml_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn represent(v: &Value, opts: &YamlOptions, depth: usize) -> Result<Node, Error> {
    if depth > 500 {
        return Err(yaml_err(
            "maximum recursion depth exceeded while dumping YAML",
        ));
    }
    Ok(match v.kind() {
        ValueKind::Undefined => {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                "cannot represent an undefined value as YAML",
            ));
        }
        ValueKind::None => Node::Scalar {
            value: "null".into(),
            tag: Tag::Null,
        },
        ValueKind::Bool => Node::Scalar {
            value: if v.is_true() { "true" } else { "false" }.into(),
            tag: Tag::Bool,
        },
        ValueKind::Number => {
            if v.is_integer() {
                Node::Scalar {
                    value: v.to_string(),
                    tag: Tag::Int,
                }
            } else {
                let f = f64::try_from(v.clone()).unwrap_or(0.0);
                let value = if f.is_nan() {
                    ".nan".to_string()
                } else if f.is_infinite() {
                    if f > 0.0 { ".inf" } else { "-.inf" }.to_string()
                } else {
                    let r = float_repr(f).to_lowercase();
                    if !r.contains('.') && r.contains('e') {
                        r.replacen('e', ".0e", 1)
                    } else {
                        r
                    }
                };
                Node::Scalar {
                    value,
                    tag: Tag::Float,
                }
            }
        }
        ValueKind::String => Node::Scalar {
            value: v.as_str().unwrap_or_default().to_string(),
            tag: Tag::Str,
        },
        ValueKind::Bytes => Node::Scalar {
            value: String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned(),
            tag: Tag::Str,
        },
        ValueKind::Seq | ValueKind::Iterable => {
            let mut items = Vec::new();
            let mut best = true;
            for item in v.try_iter().map_err(|e| yaml_err(e.to_string()))? {
                let node = represent(&item, opts, depth + 1)?;
                if !matches!(node, Node::Scalar { .. }) {
                    best = false;
                }
                items.push(node);
            }
            Node::Seq {
                items,
                flow: opts.default_flow_style.unwrap_or(best),
            }
        }
        ValueKind::Map => {
            let mut pairs: Vec<(Value, Value)> = Vec::new();
            for key in v.try_iter().map_err(|e| yaml_err(e.to_string()))? {
                let val = v.get_item(&key).unwrap_or(Value::UNDEFINED);
                pairs.push((key, val));
            }
            if opts.sort_keys {
                // PyYAML falls back to insertion order if keys are not comparable
                let mut sorted = pairs.clone();
                if sort_pairs(&mut sorted).is_ok() {
                    pairs = sorted;
                }
            }
            let mut best = true;
            let mut nodes = Vec::new();
            for (k, val) in pairs {
                let kn = represent(&k, opts, depth + 1)?;
                let vn = represent(&val, opts, depth + 1)?;
                if !matches!(kn, Node::Scalar { .. }) || !matches!(vn, Node::Scalar { .. }) {
                    best = false;
                }
                nodes.push((kn, vn));
            }
            Node::Map {
                pairs: nodes,
                flow: opts.default_flow_style.unwrap_or(best),
            }
        }
        _ => {
            return Err(yaml_err(format!("cannot represent an object: {v}")));
        }
    })
}

struct Analysis {
    empty: bool,
    multiline: bool,
    allow_flow_plain: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_space_or_break(c: char) -> bool {
    matches!(
        c,
        '\0' | ' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

fn analyze(scalar: &str, allow_unicode: bool) -> Analysis {
    let chars: Vec<char> = scalar.chars().collect();
    if chars.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;

    if scalar.starts_with("---") || scalar.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let mut followed_by_whitespace = chars.len() == 1 || is_space_or_break(chars[1]);
    let mut previous_space = false;
    let mut previous_break = false;
    let n = chars.len();
    for (index, &ch) in chars.iter().enumerate() {
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_indicators = true;
                block_indicators = true;
            }
            if ch == '?' || ch == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if ch == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_indicators = true;
            }
            if ch == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if ch == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || ('\x20'..='\x7e').contains(&ch)) {
            let cp = ch as u32;
            let unicode = (cp == 0x85
                || (0xa0..=0xd7ff).contains(&cp)
                || (0xe000..=0xfffd).contains(&cp)
                || (0x10000..0x10ffff).contains(&cp))
                && cp != 0xfeff;
            if !unicode || !allow_unicode {
                special_characters = true;
            }
        }
        if ch == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == n - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(ch) {
            if index == 0 {
                leading_break = true;
            }
            if index == n - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_space_or_break(ch);
        followed_by_whitespace = index + 2 >= n || is_space_or_break(chars[index + 2]);
    }
    let mut allow_flow_plain = true;
    let mut allow_block_plain = true;
    let mut allow_single_quoted = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        allow_flow_plain = false;
        allow_block_plain = false;
    }
    if break_space {
        allow_flow_plain = false;
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if space_break || special_characters {
        allow_flow_plain = false;
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if line_breaks {
        allow_flow_plain = false;
        allow_block_plain = false;
    }
    if flow_indicators {
        allow_flow_plain = false;
    }
    if block_indicators {
        allow_block_plain = false;
    }
    Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain,
        allow_block_plain,
        allow_single_quoted,
    }
}

#[derive(Clone, Copy, Default)]
struct Ctx {
    root: bool,
    mapping: bool,
    simple_key: bool,
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    flow_level: usize,
    best_indent: usize,
    best_width: usize,
    allow_unicode: bool,
}

impl Emitter {
    fn write_raw(&mut self, data: &str) {
        self.column += data.chars().count();
        self.out.push_str(data);
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        whitespace: bool,
        indention: bool,
    ) {
        if self.whitespace || !need_whitespace {
            self.write_raw(indicator);
        } else {
            self.write_raw(&format!(" {indicator}"));
        }
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
        self.open_ended = false;
    }

    fn write_line_break(&mut self, data: Option<char>) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(data.unwrap_or('\n'));
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break(None);
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.out.push_str(&pad);
            self.column = indent;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        match self.indent {
            None => self.indent = Some(if flow { self.best_indent } else { 0 }),
            Some(i) => {
                if !indentless {
                    self.indent = Some(i + self.best_indent);
                }
            }
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(None);
    }

    fn check_simple_key(&self, node: &Node) -> bool {
        match node {
            Node::Scalar { value, tag } => {
                let a = analyze(value, self.allow_unicode);
                let length = tag.short_len() + value.chars().count();
                length < 128 && !a.empty && !a.multiline
            }
            Node::Seq { items, .. } => items.is_empty(),
            Node::Map { pairs, .. } => pairs.is_empty(),
        }
    }

    fn node(&mut self, node: &Node, ctx: Ctx) {
        match node {
            Node::Scalar { value, tag } => {
                self.increase_indent(true, false);
                self.scalar(value, *tag, ctx);
                self.pop_indent();
            }
            Node::Seq { items, flow } => {
                if self.flow_level > 0 || *flow || items.is_empty() {
                    self.flow_sequence(items);
                } else {
                    self.block_sequence(items, ctx);
                }
            }
            Node::Map { pairs, flow } => {
                if self.flow_level > 0 || *flow || pairs.is_empty() {
                    self.flow_mapping(pairs);
                } else {
                    self.block_mapping(pairs);
                }
            }
        }
    }

    fn flow_sequence(&mut self, items: &[Node]) {
        self.write_indicator("[", true, true, false);
        self.flow_level += 1;
        self.increase_indent(true, false);
        for (idx, item) in items.iter().enumerate() {
            if idx > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            self.node(item, Ctx::default());
        }
        self.pop_indent();
        self.flow_level -= 1;
        self.write_indicator("]", false, false, false);
    }

    fn flow_mapping(&mut self, pairs: &[(Node, Node)]) {
        self.write_indicator("{", true, true, false);
        self.flow_level += 1;
        self.increase_indent(true, false);
        for (idx, (k, v)) in pairs.iter().enumerate() {
            if idx > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > self.best_width {
                self.write_indent();
            }
            let map_ctx = Ctx {
                mapping: true,
                ..Ctx::default()
            };
            if self.check_simple_key(k) {
                self.node(
                    k,
                    Ctx {
                        simple_key: true,
                        ..map_ctx
                    },
                );
                self.write_indicator(":", false, false, false);
                self.node(v, map_ctx);
            } else {
                self.write_indicator("?", true, false, false);
                self.node(k, map_ctx);
                if self.column > self.best_width {
                    self.write_indent();
                }
                self.write_indicator(":", true, false, false);
                self.node(v, map_ctx);
            }
        }
        self.pop_indent();
        self.flow_level -= 1;
        self.write_indicator("}", false, false, false);
    }

    fn block_sequence(&mut self, items: &[Node], ctx: Ctx) {
        let indentless = ctx.mapping && !self.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Ctx::default());
        }
        self.pop_indent();
    }

    fn block_mapping(&mut self, pairs: &[(Node, Node)]) {
        self.increase_indent(false, false);
        let map_ctx = Ctx {
            mapping: true,
            ..Ctx::default()
        };
        for (k, v) in pairs {
            self.write_indent();
            if self.check_simple_key(k) {
                self.node(
                    k,
                    Ctx {
                        simple_key: true,
                        ..map_ctx
                    },
                );
                self.write_indicator(":", false, false, false);
                self.node(v, map_ctx);
            } else {
                self.write_indicator("?", true, false, true);
                self.node(k, map_ctx);
                self.write_indent();
                self.write_indicator(":", true, false, true);
                self.node(v, map_ctx);
            }
        }
        self.pop_indent();
    }

    fn scalar(&mut self, value: &str, tag: Tag, ctx: Ctx) {
        let a = analyze(value, self.allow_unicode);
        let implicit_plain = resolve_plain(value) == tag;
        // choose_scalar_style
        let mut style = '"';
        let plain_ok = implicit_plain
            && !(ctx.simple_key && (a.empty || a.multiline))
            && ((self.flow_level > 0 && a.allow_flow_plain)
                || (self.flow_level == 0 && a.allow_block_plain));
        if plain_ok {
            style = ' ';
        } else if a.allow_single_quoted && !(ctx.simple_key && a.multiline) {
            style = '\'';
        }
        let split = !ctx.simple_key;
        match style {
            ' ' => self.write_plain(value, split, ctx.root),
            '\'' => self.write_single_quoted(value, split),
            _ => self.write_double_quoted(value, split),
        }
    }

    fn write_plain(&mut self, text: &str, split: bool, root: bool) {
        if root {
            self.open_ended = true;
        }
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write_raw(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        let mut start = 0;
        let mut end = 0;
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write_raw(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if chars[start] == '\n' {
                        self.write_line_break(None);
                    }
                    for &br in &chars[start..end] {
                        self.write_line_break(Some(br));
                    }
                    self.write_indent();
                    self.whitespace = false;
                    self.indention = false;
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c)) {
                let data: String = chars[start..end].iter().collect();
                self.write_raw(&data);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
            end += 1;
        }
    }

    fn write_single_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        let mut start = 0;
        let mut end = 0;
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > self.best_width
                        && split
                        && start != 0
                        && end != chars.len()
                    {
                        self.write_indent();
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write_raw(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if chars[start] == '\n' {
                        self.write_line_break(None);
                    }
                    for &br in &chars[start..end] {
                        self.write_line_break(Some(br));
                    }
                    self.write_indent();
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c) || c == '\'') && start < end {
                let data: String = chars[start..end].iter().collect();
                self.write_raw(&data);
                start = end;
            }
            if ch == Some('\'') {
                self.write_raw("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
            end += 1;
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut start = 0;
        let mut end = 0;
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            let needs_escape = match ch {
                None => true,
                Some(c) => {
                    let cp = c as u32;
                    "\"\\\u{85}\u{2028}\u{2029}\u{feff}".contains(c)
                        || !((0x20..=0x7e).contains(&cp)
                            || (self.allow_unicode
                                && ((0xa0..=0xd7ff).contains(&cp)
                                    || (0xe000..=0xfffd).contains(&cp))))
                }
            };
            if needs_escape {
                if start < end {
                    let data: String = chars[start..end].iter().collect();
                    self.write_raw(&data);
                    start = end;
                }
                if let Some(c) = ch {
                    let data = match c {
                        '\0' => "\\0".to_string(),
                        '\x07' => "\\a".to_string(),
                        '\x08' => "\\b".to_string(),
                        '\t' => "\\t".to_string(),
                        '\n' => "\\n".to_string(),
                        '\x0b' => "\\v".to_string(),
                        '\x0c' => "\\f".to_string(),
                        '\r' => "\\r".to_string(),
                        '\x1b' => "\\e".to_string(),
                        '"' => "\\\"".to_string(),
                        '\\' => "\\\\".to_string(),
                        '\u{85}' => "\\N".to_string(),
                        '\u{a0}' => "\\_".to_string(),
                        '\u{2028}' => "\\L".to_string(),
                        '\u{2029}' => "\\P".to_string(),
                        c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    self.write_raw(&data);
                    start = end + 1;
                }
            }
            if end > 0
                && end + 1 < chars.len()
                && (ch == Some(' ') || start >= end)
                && (self.column as isize + end as isize - start as isize) > self.best_width as isize
                && split
            {
                let mut data: String = if start < end {
                    chars[start..end].iter().collect()
                } else {
                    String::new()
                };
                data.push('\\');
                if start < end {
                    start = end;
                }
                self.write_raw(&data);
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if chars.get(start) == Some(&' ') {
                    self.write_raw("\\");
                }
            }
            end += 1;
        }
        self.write_indicator("\"", false, false, false);
    }
}

/// Serializes a value like PyYAML's `yaml.dump(value, Dumper=AnsibleDumper, ...)`.
pub fn dump(v: &Value, opts: &YamlOptions) -> Result<String, Error> {
    let node = represent(v, opts, 0)?;
    let best_indent = if opts.indent > 1 && opts.indent < 10 {
        opts.indent
    } else {
        2
    };
    let best_width = if opts.width > best_indent * 2 {
        opts.width
    } else {
        80
    };
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        open_ended: false,
        indent: None,
        indents: Vec::new(),
        flow_level: 0,
        best_indent,
        best_width,
        allow_unicode: opts.allow_unicode,
    };
    if opts.explicit_start {
        e.write_indent();
        e.write_indicator("---", true, false, false);
    }
    e.node(
        &node,
        Ctx {
            root: true,
            ..Ctx::default()
        },
    );
    // document end
    e.write_indent();
    if opts.explicit_end {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    // stream end
    if e.open_ended {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    Ok(e.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::value::Serde;

    fn j(v: serde_json::Value) -> Value {
        Value::from(Serde(v))
    }

    fn flow(v: serde_json::Value) -> String {
        dump(&j(v), &YamlOptions::default()).unwrap_or_else(|e| e.to_string())
    }

    fn nice(v: serde_json::Value, indent: usize) -> String {
        let opts = YamlOptions {
            default_flow_style: Some(false),
            indent,
            ..YamlOptions::default()
        };
        dump(&j(v), &opts).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn test_scalars() {
        assert_eq!(flow(serde_json::json!("abc")), "abc\n...\n");
        assert_eq!(flow(serde_json::json!(1)), "1\n...\n");
        assert_eq!(flow(serde_json::json!("yes")), "'yes'\n");
        assert_eq!(flow(serde_json::json!("")), "''\n");
        assert_eq!(flow(serde_json::json!("a\nb")), "'a\n\n  b'\n");
        assert_eq!(flow(serde_json::json!("a\tb")), "\"a\\tb\"\n");
        assert_eq!(flow(serde_json::json!(null)), "null\n...\n");
        assert_eq!(flow(serde_json::json!(1e20)), "1.0e+20\n...\n");
        assert_eq!(flow(serde_json::json!("123")), "'123'\n");
        assert_eq!(flow(serde_json::json!("- x")), "'- x'\n");
        assert_eq!(flow(serde_json::json!("it's")), "it's\n...\n");
    }

    #[test]
    fn test_collections() {
        assert_eq!(
            flow(serde_json::json!({"b": 1, "a": [1, 2]})),
            "a: [1, 2]\nb: 1\n"
        );
        assert_eq!(
            flow(serde_json::json!({"a": 1, "b": "x"})),
            "{a: 1, b: x}\n"
        );
        assert_eq!(flow(serde_json::json!([])), "[]\n");
        assert_eq!(
            nice(serde_json::json!({"a": [{"x": 1, "y": 2}], "b": {}}), 4),
            "a:\n-   x: 1\n    y: 2\nb: {}\n"
        );
        assert_eq!(
            nice(serde_json::json!({"a": {"b": [1, 2]}}), 2),
            "a:\n  b:\n  - 1\n  - 2\n"
        );
        assert_eq!(
            nice(serde_json::json!([[1, 2], [3]]), 2),
            "- - 1\n  - 2\n- - 3\n"
        );
    }

    #[test]
    fn test_folding() {
        let long = "word ".repeat(20).trim_end().to_string();
        let out = nice(serde_json::json!({ "k": long }), 4);
        assert_eq!(
            out,
            "k: word word word word word word word word word word word word word word word word\n    word word word word\n"
        );
    }
}
