//! YAML loading with spans on every node, YAML 1.1 scalar resolution exactly
//! as PyYAML (and therefore Ansible) does it, `<<` merge keys, and tags kept.
//!
//! saphyr-parser gives us events; we build our own [`Node`] tree so that the
//! rest of hoist never depends on the parser crate.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use minijinja::Value;
use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle, Span as PSpan};

use crate::error::{Diagnostic, Span, register_source};

/// One YAML node with its location and tag (`!vault`, `!unsafe`, `!!str` …).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub tag: Option<String>,
    pub kind: NodeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Pairs in document order; duplicate keys already collapsed (the last
    /// value wins, in the first key's position, as a Python dict does).
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }
    /// Looks a string key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
    /// The key rendered as text (for keys that are not strings: `1`, `true`).
    pub fn key_text(&self) -> String {
        match &self.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Null => "None".into(),
            NodeKind::Bool(b) => if *b { "True" } else { "False" }.into(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            NodeKind::Seq(_) | NodeKind::Map(_) => "<complex key>".into(),
        }
    }
    /// A short description of the node's type, as Python would name it.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "bool",
            NodeKind::Int(_) => "int",
            NodeKind::Float(_) => "float",
            NodeKind::Str(_) => "str",
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "dict",
        }
    }

    /// Converts to a template value. `!unsafe` strings become "safe"
    /// minijinja strings, which hoist never templates again. A `!vault`
    /// value is decrypted with the run's keyring into such a string (as in
    /// ansible-core 2.19, a decrypted value is not templated), its
    /// plaintext registered as a secret; one that cannot be decrypted
    /// becomes an invalid value that fails where it is used, naming its
    /// place (ansible-core 2.19 fails only when it is used, too).
    pub fn to_value(&self) -> Result<Value, Diagnostic> {
        if let Some(tag) = &self.tag {
            match tag.as_str() {
                "!vault" | "!vault-encrypted" => return Ok(vault_value(self)),
                "!unsafe" => return Ok(unsafe_value(self)),
                _ => {}
            }
        }
        Ok(match &self.kind {
            NodeKind::Null => Value::from(()),
            NodeKind::Bool(b) => Value::from(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => Value::from(*f),
            NodeKind::Str(s) => Value::from(s.as_str()),
            NodeKind::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(item.to_value()?);
                }
                Value::from(out)
            }
            NodeKind::Map(pairs) => {
                let mut out = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    out.push((k.to_value()?, v.to_value()?));
                }
                crate::template::vmap(out)
            }
        })
    }
}

/// The value of a `!vault` node (see [`Node::to_value`]).
fn vault_value(node: &Node) -> Value {
    let NodeKind::Str(text) = &node.kind else {
        return Value::from(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!(
                "the !vault tag needs a string (the encrypted text), not a {} ({})",
                node.type_name(),
                node.span
            ),
        ));
    };
    match crate::vault::decrypt_registered(text.as_bytes()) {
        Ok(plain) => {
            let text = String::from_utf8_lossy(&plain).into_owned();
            crate::vault::mark_inline(&text);
            Value::from_safe_string(text)
        }
        Err(e) => Value::from(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!(
                "Attempt to use undecryptable variable: {e} (the !vault value at {})",
                node.span
            ),
        )),
    }
}

/// Every string of a decrypted vault file's data is a secret: registers
/// each (keys are names, not secrets, and stay printable).
pub fn register_leaves(node: &Node) {
    match &node.kind {
        NodeKind::Str(s) => crate::secrets::register(s),
        NodeKind::Seq(items) => items.iter().for_each(register_leaves),
        NodeKind::Map(pairs) => pairs.iter().for_each(|(_, v)| register_leaves(v)),
        _ => {}
    }
}

/// `!unsafe` marks every string below it as never-to-be-templated.
fn unsafe_value(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Str(s) => Value::from_safe_string(s.clone()),
        NodeKind::Seq(items) => Value::from(items.iter().map(unsafe_value).collect::<Vec<_>>()),
        NodeKind::Map(pairs) => crate::template::vmap(
            pairs
                .iter()
                .map(|(k, v)| (k.to_value().unwrap_or_default(), unsafe_value(v))),
        ),
        NodeKind::Null => Value::from(()),
        NodeKind::Bool(b) => Value::from(*b),
        NodeKind::Int(i) => Value::from(*i),
        NodeKind::Float(f) => Value::from(*f),
    }
}

/// Reads and parses a YAML file (the first document; an empty file is
/// null). A file encrypted with Ansible Vault is decrypted with the run's
/// keyring first, as Ansible's loader does: its strings are registered as
/// secrets and its lines are never quoted in a diagnostic.
pub fn load_file(path: &std::path::Path) -> Result<Node, Diagnostic> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::new(
            Some(Span::file_only(&name)),
            format!("cannot read {name}: {e}"),
        )
    })?;
    if crate::vault::is_encrypted(&bytes) {
        return load_vault(&bytes, &name);
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| utf8_diagnostic(&name, e.as_bytes(), e.utf8_error()))?;
    load_str(&text, &name)
}

/// A file that is not UTF-8, located at the first bad byte: its line and
/// column (in characters), the valid part of that line quoted.
pub fn utf8_diagnostic(name: &str, bytes: &[u8], e: std::str::Utf8Error) -> Diagnostic {
    let at = e.valid_up_to();
    let valid = String::from_utf8_lossy(&bytes[..at]);
    let line = valid.matches('\n').count() + 1;
    let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
    let col = valid[line_start..].chars().count() + 1;
    let file: Arc<str> = Arc::from(name);
    // Only the valid part of the line can be quoted.
    register_source(
        &file,
        &format!("{}{}", "\n".repeat(line - 1), &valid[line_start..]),
    );
    let shown: Vec<String> = bytes[at..]
        .iter()
        .take(e.error_len().unwrap_or(bytes.len() - at).min(4))
        .map(|b| format!("\\x{b:02x}"))
        .collect();
    let help = if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        "the file starts with a UTF-16 byte-order mark: save it as UTF-8"
    } else {
        "hoist reads playbooks, inventories and vars files as UTF-8 text; is this a binary file, or in another encoding?"
    };
    Diagnostic::at(
        &Span::new(file, line, col, 1),
        format!(
            "{name} is not valid UTF-8: invalid byte sequence {} at byte {at}",
            shown.join("")
        ),
    )
    .with_help(help)
}

/// Keeps a decrypted file's lines out of diagnostics: while alive nothing
/// changes; when dropped, only the vault header line is left to quote.
pub struct HiddenVault {
    file: Arc<str>,
    header: String,
}

impl Drop for HiddenVault {
    fn drop(&mut self) {
        register_source(&self.file, &self.header);
        crate::error::hide_lines(&self.file, 2, usize::MAX);
    }
}

/// Decrypts a vault file's bytes with the run's keyring (not registering
/// anything: the caller registers what the data holds). The error is
/// located at the header line, with a hint about password options. The
/// guard hides the plaintext from diagnostics once the caller is done
/// parsing it.
pub fn decrypt_vault_file(
    bytes: &[u8],
    name: &str,
) -> Result<(zeroize::Zeroizing<Vec<u8>>, HiddenVault), Diagnostic> {
    let file: Arc<str> = Arc::from(name);
    let header = String::from_utf8_lossy(bytes.split(|b| *b == b'\n').next().unwrap_or_default())
        .trim_end()
        .to_owned();
    let guard = HiddenVault {
        file: file.clone(),
        header: header.clone(),
    };
    match crate::vault::keyring().decrypt(bytes) {
        Ok((plain, _)) => Ok((plain, guard)),
        Err(e) => {
            drop(guard);
            let mut d = Diagnostic::at(
                &Span::new(file, 1, 1, header.chars().count().max(1)),
                format!("cannot decrypt {name}: {e}"),
            );
            if matches!(
                e,
                crate::vault::VaultError::NoSecrets | crate::vault::VaultError::NoMatch
            ) {
                d = d.with_help(
                    "the file is encrypted with Ansible Vault: give its password with --vault-password-file FILE, --vault-id LABEL@SOURCE or --ask-vault-pass",
                );
            }
            Err(d)
        }
    }
}

/// A vault file: decrypted, parsed, its strings registered, its plaintext
/// hidden from snippets (only the header line may be quoted).
fn load_vault(bytes: &[u8], name: &str) -> Result<Node, Diagnostic> {
    let (plain, _hidden) = decrypt_vault_file(bytes, name)?;
    let text = zeroize::Zeroizing::new(String::from_utf8_lossy(&plain).into_owned());
    let node = load_str(&text, name)?;
    register_leaves(&node);
    Ok(node)
}

/// Parses YAML text; `name` is used in spans (a path or `<extra-vars>`).
pub fn load_str(text: &str, name: &str) -> Result<Node, Diagnostic> {
    let file: Arc<str> = Arc::from(name);
    register_source(&file, text);
    if let Some((line, col, c)) = unacceptable_char(text) {
        return Err(Diagnostic::at(
            &Span::new(file, line, col, 1),
            format!(
                "unacceptable character U+{:04X}: special characters are not allowed in YAML",
                c as u32
            ),
        )
        .with_help("is this a binary file? (control characters other than tab and newline may only appear escaped, in a double-quoted string)"));
    }
    let mut b = Builder {
        file: file.clone(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        doc: None,
        nodes: 0,
    };
    for ev in Parser::new_from_str(text) {
        match ev {
            Ok((ev, span)) => {
                if b.doc.is_some() && matches!(ev, Event::DocumentStart(_)) {
                    break;
                }
                b.event(ev, span)?;
            }
            Err(e) => {
                let m = e.marker();
                let span = Span::new(file, m.line(), m.col() + 1, 1);
                // saphyr counts flow levels in a u8.
                if e.info() == "recursion limit exceeded" {
                    return Err(too_deep(&span));
                }
                if e.info() == "simple key expect ':'" {
                    return Err(Diagnostic::at(
                        &span,
                        "YAML syntax error: could not find the `:` after this key (a plain key must fit on one line, in at most 1024 characters)",
                    ));
                }
                return Err(Diagnostic::at(
                    &span,
                    format!("YAML syntax error: {}", e.info()),
                ));
            }
        }
    }
    Ok(b.doc.unwrap_or(Node {
        span: Span::new(file, 1, 1, 1),
        tag: None,
        kind: NodeKind::Null,
    }))
}

/// How deeply collections may nest. saphyr stops flow collections at 255
/// levels; block ones are held to the same (PyYAML, and so Ansible, fails
/// far earlier, at Python's recursion limit). Deeper trees would overflow
/// the stack of every recursive walk over them.
pub const MAX_DEPTH: usize = 255;

/// How many nodes one document may hold once its aliases are expanded:
/// hoist copies an alias's node, so `&a [*b, *b, …]` chains (the "billion
/// laughs") would otherwise grow exponentially.
pub const MAX_NODES: usize = 1_000_000;

fn too_deep(span: &Span) -> Diagnostic {
    Diagnostic::at(
        span,
        format!(
            "YAML document nested too deeply (more than {MAX_DEPTH} levels of lists and mappings)"
        ),
    )
}

/// The first character YAML does not allow in a stream (PyYAML's
/// Reader: C0 controls but tab, CR and LF; DEL; C1 controls but NEL;
/// U+FFFE and U+FFFF), with its 1-based line and column. saphyr would
/// read a NUL as the end of the stream, and report something misleading.
fn unacceptable_char(text: &str) -> Option<(usize, usize, char)> {
    let bad = |c: char| matches!(c, '\0'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f' | '\x7f' | '\u{80}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}');
    // Bytes first (quick even unoptimised), then the candidate characters:
    // the C1 controls start with 0xC2 in UTF-8, U+FFFE/U+FFFF with 0xEF.
    let candidate = |b: &u8| *b < 0x20 || *b == 0x7f || *b == 0xc2 || *b == 0xef;
    let bytes = text.as_bytes();
    let mut from = 0;
    let at = loop {
        let i = from + bytes.get(from..)?.iter().position(candidate)?;
        match text.get(i..).and_then(|t| t.chars().next()) {
            Some(c) if bad(c) => break i,
            _ => from = i + 1,
        }
    };
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    Some((line, col, text[at..].chars().next()?))
}

enum Frame {
    /// The sequence node, its anchor, and the node count when it started.
    Seq(Node, usize, usize),
    /// The mapping node, its anchor, the node count when it started, a
    /// pending key, and where its keys are.
    Map(Node, usize, usize, Option<Node>, KeyIndex),
}

struct Builder {
    file: Arc<str>,
    stack: Vec<Frame>,
    /// Anchored nodes with their sizes (nodes, aliases expanded).
    anchors: HashMap<usize, (Node, usize)>,
    doc: Option<Node>,
    /// Nodes built so far, aliases counted by the size of what they copy.
    nodes: usize,
}

impl Builder {
    fn span(&self, s: &PSpan) -> Span {
        let len = if s.end.line() == s.start.line() {
            s.end.col().saturating_sub(s.start.col()).max(1)
        } else {
            1
        };
        Span::new(self.file.clone(), s.start.line(), s.start.col() + 1, len)
    }

    /// Counts `n` more nodes, failing past [`MAX_NODES`].
    fn count(&mut self, n: usize, span: &PSpan) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            let d = Diagnostic::at(
                &self.span(span),
                format!("YAML document too large: more than {MAX_NODES} values"),
            );
            return Err(if n > 1 {
                Diagnostic {
                    message: format!("{} once its aliases are expanded", d.message),
                    ..d
                }
                .with_help("aliases (`*name`) copy what their anchor (`&name`) holds; nested aliases multiply")
            } else {
                d
            });
        }
        Ok(())
    }

    fn open(&mut self, span: &PSpan) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(too_deep(&self.span(span)));
        }
        self.count(1, span)
    }

    fn event(&mut self, ev: Event<'_>, span: PSpan) -> Result<(), Diagnostic> {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let sp = self.span(&span);
                let kind = resolve_scalar(&text, style, tag.as_deref())
                    .map_err(|msg| Diagnostic::at(&sp, msg))?;
                let node = Node {
                    span: sp,
                    tag: tag
                        .filter(|t| !t.starts_with("tag:yaml.org,2002:") && !t.starts_with("!!")),
                    kind,
                };
                self.count(1, &span)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push(node)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((node, size)) => {
                    let (node, size) = (node.clone(), *size);
                    self.count(size, &span)?;
                    self.push(node)
                }
                None => Err(Diagnostic::at(&self.span(&span), "unknown YAML alias")),
            },
            Event::SequenceStart(anchor, tag) => {
                self.open(&span)?;
                let start = self.nodes;
                let node = Node {
                    span: self.span(&span),
                    tag: tag.map(|t| format!("{}{}", t.handle, t.suffix)),
                    kind: NodeKind::Seq(Vec::new()),
                };
                self.stack.push(Frame::Seq(node, anchor, start));
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                self.open(&span)?;
                let start = self.nodes;
                let node = Node {
                    span: self.span(&span),
                    tag: tag.map(|t| format!("{}{}", t.handle, t.suffix)),
                    kind: NodeKind::Map(Vec::new()),
                };
                self.stack
                    .push(Frame::Map(node, anchor, start, None, KeyIndex::default()));
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq(node, anchor, start)) => {
                    if anchor > 0 {
                        let size = self.nodes - start + 1;
                        self.anchors.insert(anchor, (node.clone(), size));
                    }
                    self.push(node)
                }
                _ => Ok(()),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map(mut node, anchor, start, _, _)) => {
                    apply_merges(&mut node)?;
                    if anchor > 0 {
                        let size = self.nodes - start + 1;
                        self.anchors.insert(anchor, (node.clone(), size));
                    }
                    self.push(node)
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn push(&mut self, node: Node) -> Result<(), Diagnostic> {
        match self.stack.last_mut() {
            None => {
                if self.doc.is_none() {
                    self.doc = Some(node);
                }
            }
            Some(Frame::Seq(seq, _, _)) => {
                if let NodeKind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, _, pending, index)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let NodeKind::Map(pairs) = &mut map.kind {
                        index.insert(pairs, key, node);
                    }
                }
            },
        }
        Ok(())
    }
}

/// A scalar key as it compares (`Node`'s `==` on kind and tag), hashable.
#[derive(PartialEq, Eq, Hash)]
enum KeyRepr {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(String),
}

/// Where each scalar key of a mapping being built is, so that a repeated
/// key is found without scanning every pair (a mapping of 100 000 keys
/// took minutes).
#[derive(Default)]
struct KeyIndex(HashMap<(KeyRepr, Option<String>), usize>);

impl KeyIndex {
    /// Python-dict insertion: a repeated key keeps its first position and
    /// takes the new value.
    fn insert(&mut self, pairs: &mut Vec<(Node, Node)>, key: Node, value: Node) {
        // `<<` keys are merged later and may legitimately repeat.
        let is_merge = key.as_str() == Some("<<") && key.tag.is_none();
        if is_merge {
            pairs.push((key, value));
            return;
        }
        let repr = match &key.kind {
            NodeKind::Null => KeyRepr::Null,
            NodeKind::Bool(b) => KeyRepr::Bool(*b),
            NodeKind::Int(i) => KeyRepr::Int(*i),
            // NaN equals nothing, not even itself: never a repeat.
            NodeKind::Float(f) if f.is_nan() => {
                pairs.push((key, value));
                return;
            }
            // 0.0 == -0.0.
            NodeKind::Float(f) => KeyRepr::Float((f + 0.0).to_bits()),
            NodeKind::Str(s) => KeyRepr::Str(s.clone()),
            NodeKind::Seq(_) | NodeKind::Map(_) => {
                // Rare: compared one by one.
                match pairs
                    .iter_mut()
                    .find(|(k, _)| k.kind == key.kind && k.tag == key.tag)
                {
                    Some(slot) => slot.1 = value,
                    None => pairs.push((key, value)),
                }
                return;
            }
        };
        match self.0.entry((repr, key.tag.clone())) {
            std::collections::hash_map::Entry::Occupied(e) => {
                if let Some(slot) = pairs.get_mut(*e.get()) {
                    slot.1 = value;
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(pairs.len());
                pairs.push((key, value));
            }
        }
    }
}

/// Expands `<<: *anchor` and `<<: [*a, *b]` as PyYAML's flatten_mapping does:
/// merged keys come first, explicit keys override them, and among several
/// merged maps the earlier one wins.
fn apply_merges(node: &mut Node) -> Result<(), Diagnostic> {
    let NodeKind::Map(pairs) = &mut node.kind else {
        return Ok(());
    };
    if !pairs
        .iter()
        .any(|(k, _)| k.as_str() == Some("<<") && k.tag.is_none())
    {
        return Ok(());
    }
    let mut merged: Vec<(Node, Node)> = Vec::new();
    let mut index = KeyIndex::default();
    let mut own: Vec<(Node, Node)> = Vec::new();
    for (k, v) in std::mem::take(pairs) {
        if k.as_str() == Some("<<") && k.tag.is_none() {
            let sources: Vec<Node> = match v.kind {
                NodeKind::Map(_) => vec![v],
                NodeKind::Seq(items) => {
                    for item in &items {
                        if !matches!(item.kind, NodeKind::Map(_)) {
                            return Err(Diagnostic::at(
                                &item.span,
                                "a merge key `<<` expects a mapping or a list of mappings",
                            ));
                        }
                    }
                    items
                }
                _ => {
                    return Err(Diagnostic::at(
                        &v.span,
                        "a merge key `<<` expects a mapping or a list of mappings",
                    ));
                }
            };
            // Later sources first, so that earlier ones override them.
            for src in sources.into_iter().rev() {
                if let NodeKind::Map(src_pairs) = src.kind {
                    for (sk, sv) in src_pairs {
                        index.insert(&mut merged, sk, sv);
                    }
                }
            }
        } else {
            own.push((k, v));
        }
    }
    for (k, v) in own {
        index.insert(&mut merged, k, v);
    }
    *pairs = merged;
    Ok(())
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

fn bool_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
    )
}
fn int_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    )
}
fn float_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    )
}
fn null_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"^(?:~|null|Null|NULL|)$")
}

/// Resolves a scalar as PyYAML's SafeLoader would. Only plain scalars are
/// implicitly typed; quoted and block scalars are strings unless tagged.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<NodeKind, String> {
    let core = tag.and_then(|t| {
        t.strip_prefix("tag:yaml.org,2002:")
            .or_else(|| t.strip_prefix("!!"))
    });
    match core {
        Some("str") => return Ok(NodeKind::Str(text.to_owned())),
        Some("null") => return Ok(NodeKind::Null),
        Some("bool") => {
            return bool_value(text)
                .map(NodeKind::Bool)
                .ok_or_else(|| format!("`{text}` is not a valid !!bool"));
        }
        Some("int") => {
            return int_value(text)
                .map(NodeKind::Int)
                .ok_or_else(|| format!("`{text}` is not a valid !!int"));
        }
        Some("float") => {
            return float_value(text)
                .map(NodeKind::Float)
                .ok_or_else(|| format!("`{text}` is not a valid !!float"));
        }
        _ => {}
    }
    if tag.is_some() || style != ScalarStyle::Plain {
        return Ok(NodeKind::Str(text.to_owned()));
    }
    Ok(resolve_plain(text))
}

/// Implicit resolution of a plain scalar (PyYAML's resolver table).
pub fn resolve_plain(text: &str) -> NodeKind {
    if null_re().is_match(text) {
        return NodeKind::Null;
    }
    if bool_re().is_match(text)
        && let Some(b) = bool_value(text)
    {
        return NodeKind::Bool(b);
    }
    if int_re().is_match(text)
        && let Some(i) = int_value(text)
    {
        return NodeKind::Int(i);
    }
    if float_re().is_match(text)
        && let Some(f) = float_value(text)
    {
        return NodeKind::Float(f);
    }
    NodeKind::Str(text.to_owned())
}

fn bool_value(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Some(true),
        "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// PyYAML's construct_yaml_int.
fn int_value(text: &str) -> Option<i64> {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, digits) = match cleaned.as_bytes().first() {
        Some(b'-') => (true, &cleaned[1..]),
        Some(b'+') => (false, &cleaned[1..]),
        _ => (false, cleaned.as_str()),
    };
    let magnitude: i64 = if digits == "0" {
        0
    } else if let Some(b) = digits.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(h) = digits.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if digits.starts_with('0') {
        i64::from_str_radix(digits, 8).ok()?
    } else if digits.contains(':') {
        let mut v: i64 = 0;
        for part in digits.split(':') {
            v = v.checked_mul(60)?.checked_add(part.parse::<i64>().ok()?)?;
        }
        v
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -magnitude } else { magnitude })
}

/// PyYAML's construct_yaml_float.
fn float_value(text: &str) -> Option<f64> {
    let cleaned: String = text
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_lowercase();
    let (sign, digits) = match cleaned.as_bytes().first() {
        Some(b'-') => (-1.0, &cleaned[1..]),
        Some(b'+') => (1.0, &cleaned[1..]),
        _ => (1.0, cleaned.as_str()),
    };
    if digits == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if digits == ".nan" {
        return Some(f64::NAN);
    }
    if digits.contains(':') {
        let mut v = 0.0;
        for part in digits.split(':') {
            v = v * 60.0 + part.parse::<f64>().ok()?;
        }
        return Some(sign * v);
    }
    digits.parse::<f64>().ok().map(|v| sign * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(s: &str) -> NodeKind {
        load_str(&format!("v: {s}\n"), "t.yml")
            .unwrap()
            .get("v")
            .unwrap()
            .kind
            .clone()
    }

    #[test]
    fn yaml11_booleans_as_pyyaml() {
        for t in [
            "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
        ] {
            assert_eq!(scalar(t), NodeKind::Bool(true), "{t}");
        }
        for f in [
            "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
        ] {
            assert_eq!(scalar(f), NodeKind::Bool(false), "{f}");
        }
        // PyYAML does not treat y/n or mixed case as booleans.
        for s in ["y", "n", "yEs", "tRue", "Y"] {
            assert_eq!(scalar(s), NodeKind::Str(s.into()), "{s}");
        }
        assert_eq!(scalar("'yes'"), NodeKind::Str("yes".into()));
    }

    #[test]
    fn yaml11_numbers_as_pyyaml() {
        assert_eq!(scalar("0755"), NodeKind::Int(0o755));
        assert_eq!(scalar("0o755"), NodeKind::Str("0o755".into()));
        assert_eq!(scalar("0x1F"), NodeKind::Int(31));
        assert_eq!(scalar("0b101"), NodeKind::Int(5));
        assert_eq!(scalar("1_000"), NodeKind::Int(1000));
        assert_eq!(scalar("190:20:30"), NodeKind::Int(685230));
        assert_eq!(scalar("-42"), NodeKind::Int(-42));
        assert_eq!(scalar("0"), NodeKind::Int(0));
        assert_eq!(scalar("09"), NodeKind::Str("09".into()));
        assert_eq!(scalar("1.5"), NodeKind::Float(1.5));
        assert_eq!(scalar("1."), NodeKind::Float(1.0));
        assert_eq!(scalar(".5"), NodeKind::Float(0.5));
        assert_eq!(scalar("1.0e+3"), NodeKind::Float(1000.0));
        // YAML 1.1 floats need a dot and a signed exponent.
        assert_eq!(scalar("1e3"), NodeKind::Str("1e3".into()));
        assert_eq!(scalar(".inf"), NodeKind::Float(f64::INFINITY));
        assert_eq!(scalar("-.Inf"), NodeKind::Float(f64::NEG_INFINITY));
        assert!(matches!(scalar(".nan"), NodeKind::Float(f) if f.is_nan()));
        assert_eq!(scalar("1.2.3"), NodeKind::Str("1.2.3".into()));
    }

    #[test]
    fn nulls_and_tags() {
        assert_eq!(scalar("~"), NodeKind::Null);
        assert_eq!(scalar("null"), NodeKind::Null);
        assert_eq!(scalar(""), NodeKind::Null);
        assert_eq!(scalar("!!str 0755"), NodeKind::Str("0755".into()));
        assert_eq!(scalar("!!int '12'"), NodeKind::Int(12));
        let n = load_str("v: !unsafe '{{ x }}'\n", "t.yml").unwrap();
        let v = n.get("v").unwrap();
        assert_eq!(v.tag.as_deref(), Some("!unsafe"));
        assert!(n.to_value().unwrap().get_attr("v").unwrap().is_safe());
    }

    #[test]
    fn undecryptable_vault_fails_where_used_naming_its_place() {
        let n = load_str(
            "a: 1\nsecret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
            "v.yml",
        )
        .unwrap();
        // Loading succeeds (ansible-core 2.19 fails only on use).
        let v = n.to_value().unwrap();
        assert_eq!(v.get_attr("a").unwrap().as_i64(), Some(1));
        let secret = v.get_attr("secret").unwrap();
        assert_eq!(secret.kind(), minijinja::value::ValueKind::Invalid);
        let env = minijinja::Environment::new();
        let err = env
            .render_str("{{ s }}", minijinja::context! { s => secret })
            .unwrap_err()
            .to_string();
        assert!(err.contains("undecryptable"), "{err}");
        assert!(err.contains("v.yml:2:9"), "{err}");
    }

    #[test]
    fn spans_are_one_based() {
        let n = load_str("- name: x\n  debug:\n    msg: hi\n", "p.yml").unwrap();
        let task = &n.as_seq().unwrap()[0];
        let (k, _) = &task.as_map().unwrap()[1];
        assert_eq!((k.span.line, k.span.col, k.span.len), (2, 3, 5));
        let msg = task.get("debug").unwrap().get("msg").unwrap();
        assert_eq!((msg.span.line, msg.span.col), (3, 10));
    }

    #[test]
    fn merge_keys_follow_pyyaml() {
        let text = "base: &b {a: 1, b: 2}\nother: &o {b: 3, c: 4}\nm:\n  <<: [*b, *o]\n  c: 5\n";
        let n = load_str(text, "m.yml").unwrap();
        let v = n.to_value().unwrap();
        let m = v.get_attr("m").unwrap();
        assert_eq!(crate::template::py_repr(&m), "{'b': 2, 'c': 5, 'a': 1}");
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let n = load_str("a: 1\nb: 2\na: 3\n", "d.yml").unwrap();
        assert_eq!(
            crate::template::py_repr(&n.to_value().unwrap()),
            "{'a': 3, 'b': 2}"
        );
    }

    #[test]
    fn hostile_documents_are_refused_cheaply() {
        // Too deep, in block and flow style.
        let deep = format!("{}x\n", "- ".repeat(10_000));
        let e = load_str(&deep, "d.yml").unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{}", e.message);
        let e = load_str(&format!("a: {}", "[".repeat(300)), "d.yml").unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{}", e.message);
        // Just deep enough.
        let ok = format!("{}x\n", "- ".repeat(MAX_DEPTH));
        assert!(load_str(&ok, "d.yml").is_ok());
        // The billion laughs.
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (p, c) in "abcdefgh".chars().zip("bcdefghi".chars()) {
            bomb.push_str(&format!(
                "{c}: &{c} [{}]\n",
                vec![format!("*{p}"); 10].join(",")
            ));
        }
        let e = load_str(&bomb, "b.yml").unwrap_err();
        assert!(e.message.contains("too large"), "{}", e.message);
        let sp = e.span.unwrap();
        assert_eq!(sp.line, 6, "the alias that crosses the limit");
        // Aliases within the budget are fine and copy their anchor.
        let n = load_str("a: &a [1, 2]\nb: *a\n", "ok.yml").unwrap();
        assert_eq!(n.get("b").unwrap().as_seq().unwrap().len(), 2);
    }

    #[test]
    fn control_characters_are_located() {
        let e = load_str("a: 1\nb: \"x\0y\"\n", "n.yml").unwrap_err();
        assert!(e.message.contains("U+0000"), "{}", e.message);
        let sp = e.span.unwrap();
        assert_eq!((sp.line, sp.col), (2, 6));
        // Tabs, CR, NEL and escaped controls are fine.
        assert!(load_str("a: \"\\0\"\r\nb: \"\t\u{85}\"\n", "ok.yml").is_ok());
    }

    #[test]
    fn invalid_utf8_is_located() {
        let bytes = b"a: 1\nbc: caf\xe9\n".to_vec();
        let e = std::str::from_utf8(&bytes).unwrap_err();
        let d = utf8_diagnostic("u.yml", &bytes, e);
        let sp = d.span.unwrap();
        assert_eq!((sp.line, sp.col), (2, 8));
        assert!(d.message.contains("\\xe9"), "{}", d.message);
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = load_str("a: [1, 2\nb: 3\n", "bad.yml").unwrap_err();
        assert!(err.message.starts_with("YAML syntax error"));
        assert!(err.span.unwrap().line >= 1);
    }
}
