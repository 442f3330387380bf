//! Spanned YAML: saphyr's YAML 1.2 event stream turned into a small tree whose every node,
//! key included, keeps its byte span. Duplicate keys are reported here, where both spans are known.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan, Tag};

use crate::diag::{Code, Diagnostic};
use crate::source::{CharToByte, SourceFile, Span};

/// Nesting deeper than this is refused instead of risking the stack.
const MAX_DEPTH: usize = 200;
/// Aliases may not expand the tree past this many nodes (the "billion laughs" guard).
const MAX_NODES: usize = 1_000_000;
/// Nor repeat more than this much text (one long string repeated by many aliases).
const MAX_EXPANDED_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The scalar's content after YAML unescaping and folding.
    pub text: String,
    pub style: Style,
    pub kind: ScalarKind,
}

/// How the scalar was written; later stages map positions inside strings with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// The YAML 1.2 core-schema reading of a scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalarKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

/// A mapping entry. Keys are always scalars (complex keys are refused while loading).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Key,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub text: String,
    pub span: Span,
}

impl Node {
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The text of any non-null scalar (numbers and booleans included, as Jackson reads them).
    pub fn as_text(&self) -> Option<&str> {
        self.as_scalar()
            .filter(|s| s.kind != ScalarKind::Null)
            .map(|s| s.text.as_str())
    }

    /// The text of a scalar that YAML reads as a string.
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar()
            .filter(|s| s.kind == ScalarKind::Str)
            .map(|s| s.text.as_str())
    }

    pub fn is_null(&self) -> bool {
        matches!(
            self.as_scalar(),
            Some(Scalar {
                kind: ScalarKind::Null,
                ..
            })
        )
    }

    /// The entry with this key in a mapping.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key.text == key)
    }

    /// What the node is, for "expected a list, found a string" messages.
    pub fn describe(&self) -> &'static str {
        match &self.value {
            Value::Map(_) => "a mapping",
            Value::Seq(_) => "a list",
            Value::Scalar(s) => match s.kind {
                ScalarKind::Null => "null",
                ScalarKind::Bool(_) => "a boolean",
                ScalarKind::Int(_) => "an integer",
                ScalarKind::Float(_) => "a number",
                ScalarKind::Str => "a string",
            },
        }
    }
}

/// Loads the one YAML document of a flow file. `None` when the file holds no document or the
/// YAML is broken; every problem found is in the diagnostics.
pub fn load(source: &SourceFile) -> (Option<Node>, Vec<Diagnostic>) {
    let mut loader = Loader {
        parser: Parser::new_from_str(source.text()),
        text: source.text(),
        chars: CharToByte::new(source.text()),
        anchors: HashMap::new(),
        expanded_bytes: 0,
        nodes: 0,
        diagnostics: Vec::new(),
    };
    let root = loader.document();
    (root, loader.diagnostics)
}

struct Loader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    text: &'a str,
    chars: CharToByte,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    /// Bytes of text that aliases repeated so far.
    expanded_bytes: usize,
    diagnostics: Vec<Diagnostic>,
}

/// Loading stops at the first syntax error; the error is already in the diagnostics.
struct Stop;

impl<'a> Loader<'a> {
    fn span(&self, span: YamlSpan) -> Span {
        Span {
            start: self.chars.byte(span.start.index()),
            end: self.chars.byte(span.end.index()),
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), Stop> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                let span = self.span(span);
                Ok((event, span))
            }
            Some(Err(err)) => {
                let at = self.chars.byte(err.marker().index());
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::YamlSyntax,
                        Span { start: at, end: at },
                        format!("invalid YAML: {}", err.info()),
                    )
                    .with_help(
                        "check the indentation and quoting on this line and the one before it",
                    ),
                );
                Err(Stop)
            }
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    fn document(&mut self) -> Option<Node> {
        let mut root = None;
        loop {
            let Ok((event, span)) = self.next() else {
                return None;
            };
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return root,
                Event::DocumentStart(_) if root.is_some() => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            Code::UnsupportedYaml,
                            span,
                            "a flow file holds one YAML document; this is a second one",
                        )
                        .with_help("put each flow in its own file"),
                    );
                    return root;
                }
                Event::DocumentStart(_) => {
                    let Ok((event, span)) = self.next() else {
                        return None;
                    };
                    match event {
                        Event::DocumentEnd | Event::StreamEnd => return root,
                        event => match self.node(event, span, 0) {
                            Ok(node) => root = Some(node),
                            Err(Stop) => return None,
                        },
                    }
                }
                _ => {}
            }
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Node, Stop> {
        if depth > MAX_DEPTH {
            return Err(self.stop(Diagnostic::error(
                Code::UnsupportedYaml,
                span,
                format!("the YAML is nested more than {MAX_DEPTH} levels deep"),
            )));
        }
        self.count_nodes(1, span)?;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let node = self.scalar(text, style, tag.as_deref(), span);
                Ok(self.remember(anchor, node))
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "seq", span);
                let mut items = Vec::new();
                let end = loop {
                    let (event, item_span) = self.next()?;
                    if let Event::SequenceEnd = event {
                        break item_span.end;
                    }
                    items.push(self.node(event, item_span, depth + 1)?);
                };
                let node = Node {
                    span: Span {
                        start: span.start,
                        end: end.max(span.end),
                    },
                    value: Value::Seq(items),
                };
                Ok(self.remember(anchor, node))
            }
            Event::MappingStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "map", span);
                let node = self.mapping(span, depth)?;
                Ok(self.remember(anchor, node))
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => {
                    // Weighed before it is copied: a copy that would pass a limit is not made.
                    let (size, bytes) = weigh(node);
                    self.count_nodes(size, span)?;
                    self.count_bytes(bytes, span)?;
                    let mut node = self.anchors[&id].clone();
                    node.span = span;
                    Ok(node)
                }
                None => Err(self.stop(Diagnostic::error(
                    Code::YamlSyntax,
                    span,
                    "alias to an unknown anchor",
                ))),
            },
            _ => Err(self.stop(Diagnostic::error(
                Code::YamlSyntax,
                span,
                "unexpected YAML event",
            ))),
        }
    }

    fn mapping(&mut self, span: Span, depth: usize) -> Result<Node, Stop> {
        let mut entries: Vec<Entry> = Vec::new();
        // Key → index in `entries`: a mapping of n keys is checked for duplicates in O(n).
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut unquoted_template = false;
        let end = loop {
            let (event, key_span) = self.next()?;
            let key = match event {
                Event::MappingEnd => break key_span.end,
                Event::Scalar(text, _, anchor, _) => {
                    if anchor != 0 {
                        let node = Node {
                            span: key_span,
                            value: Value::Scalar(Scalar {
                                text: text.to_string(),
                                style: Style::Plain,
                                kind: ScalarKind::Str,
                            }),
                        };
                        self.anchors.insert(anchor, node);
                    }
                    Key {
                        text: text.into_owned(),
                        span: key_span,
                    }
                }
                Event::Alias(id) => match self
                    .anchors
                    .get(&id)
                    .and_then(|n| n.as_text())
                    .map(str::len)
                    .map(|bytes| self.count_bytes(bytes, key_span))
                    .transpose()?
                    .and_then(|()| self.anchors.get(&id))
                    .and_then(|n| n.as_text().map(str::to_owned))
                {
                    Some(text) => Key {
                        text,
                        span: key_span,
                    },
                    None => {
                        return Err(self.stop(Diagnostic::error(
                            Code::UnsupportedYaml,
                            key_span,
                            "a mapping key must be a plain string",
                        )))
                    }
                },
                other => {
                    // A list or mapping as a key: skip the entry, report it, read on.
                    let key = self.node(other, key_span, depth + 1)?;
                    let (event, value_span) = self.next()?;
                    self.node(event, value_span, depth + 1)?;
                    let diagnostic = complex_key(&key);
                    unquoted_template |=
                        diagnostic.help.as_deref().is_some_and(|h| h.contains("{{"));
                    self.diagnostics.push(diagnostic);
                    continue;
                }
            };
            let (event, value_span) = self.next()?;
            let value = self.node(event, value_span, depth + 1)?;
            if let Some(first) = seen.get(&key.text).map(|&i| &entries[i]) {
                self.diagnostics.push(
                    Diagnostic::error(Code::DuplicateKey, key.span, format!("duplicate key `{}`", key.text))
                        .with_label(first.key.span, "first defined here")
                        .with_help("a key may appear once per mapping; remove one of them or merge their values"),
                );
                continue;
            }
            seen.insert(key.text.clone(), entries.len());
            entries.push(Entry { key, value });
        };
        let raw = self
            .text
            .get(span.start as usize..end as usize)
            .unwrap_or("");
        if unquoted_template && entries.is_empty() && raw.starts_with("{{") && raw.ends_with("}}") {
            // The error is reported; read on with the string that was meant, so the expression
            // inside is checked too.
            return Ok(Node {
                span: Span {
                    start: span.start,
                    end,
                },
                value: Value::Scalar(Scalar {
                    text: raw.to_string(),
                    style: Style::Plain,
                    kind: ScalarKind::Str,
                }),
            });
        }
        Ok(Node {
            span: Span {
                start: span.start,
                end: end.max(span.end),
            },
            value: Value::Map(entries),
        })
    }

    fn scalar(
        &mut self,
        text: Cow<'a, str>,
        style: ScalarStyle,
        tag: Option<&Tag>,
        span: Span,
    ) -> Node {
        let style = match style {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted => Style::SingleQuoted,
            ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            ScalarStyle::Literal => Style::Literal,
            ScalarStyle::Folded => Style::Folded,
        };
        let kind = match tag {
            Some(tag) if tag.is_yaml_core_schema() => self.tagged_kind(&text, &tag.suffix, span),
            Some(tag) if tag.handle == "!" && tag.suffix.is_empty() => ScalarKind::Str,
            Some(tag) => {
                self.diagnostics.push(Diagnostic::error(
                    Code::UnsupportedYaml,
                    span,
                    format!("the YAML tag `{tag}` is not supported in flows"),
                ));
                ScalarKind::Str
            }
            None if style == Style::Plain => resolve_plain(&text),
            None => ScalarKind::Str,
        };
        Node {
            span,
            value: Value::Scalar(Scalar {
                text: text.into_owned(),
                style,
                kind,
            }),
        }
    }

    fn tagged_kind(&mut self, text: &str, suffix: &str, span: Span) -> ScalarKind {
        let kind = match suffix {
            "str" => Some(ScalarKind::Str),
            "null" => Some(ScalarKind::Null),
            "bool" | "int" | "float" => {
                let kind = resolve_plain(text);
                let fits = matches!(
                    (suffix, kind),
                    ("bool", ScalarKind::Bool(_))
                        | ("int", ScalarKind::Int(_))
                        | ("float", ScalarKind::Float(_) | ScalarKind::Int(_))
                );
                fits.then(|| match kind {
                    // `!!float 3`: the text is exact, so read it as a float rather than cast the integer.
                    ScalarKind::Int(_) if suffix == "float" => {
                        text.parse().map_or(kind, ScalarKind::Float)
                    }
                    k => k,
                })
            }
            _ => None,
        };
        kind.unwrap_or_else(|| {
            self.diagnostics.push(Diagnostic::error(
                Code::UnsupportedYaml,
                span,
                format!("`{text}` cannot be read with the YAML tag `!!{suffix}`"),
            ));
            ScalarKind::Str
        })
    }

    fn check_collection_tag(&mut self, tag: Option<&Tag>, expected: &str, span: Span) {
        if let Some(tag) = tag {
            if !(tag.is_yaml_core_schema() && tag.suffix == expected) {
                self.diagnostics.push(Diagnostic::error(
                    Code::UnsupportedYaml,
                    span,
                    format!("the YAML tag `{tag}` is not supported in flows"),
                ));
            }
        }
    }

    fn remember(&mut self, anchor: usize, node: Node) -> Node {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        node
    }

    fn count_nodes(&mut self, n: usize, span: Span) -> Result<(), Stop> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(self.stop(Diagnostic::error(
                Code::UnsupportedYaml,
                span,
                format!(
                    "the YAML expands to more than {MAX_NODES} nodes (aliases repeating aliases?)"
                ),
            )));
        }
        Ok(())
    }

    fn count_bytes(&mut self, n: usize, span: Span) -> Result<(), Stop> {
        self.expanded_bytes += n;
        if self.expanded_bytes > MAX_EXPANDED_BYTES {
            return Err(self.stop(Diagnostic::error(
                Code::UnsupportedYaml,
                span,
                format!(
                    "aliases repeat more than {} MiB of text",
                    MAX_EXPANDED_BYTES / (1024 * 1024)
                ),
            )));
        }
        Ok(())
    }

    fn stop(&mut self, diagnostic: Diagnostic) -> Stop {
        self.diagnostics.push(diagnostic);
        Stop
    }
}

/// A list or mapping used as a key; usually an unquoted `{{ expression }}`, which YAML reads
/// as a mapping inside a mapping.
fn complex_key(key: &Node) -> Diagnostic {
    let nested_braces = key
        .as_map()
        .is_some_and(|entries| entries.iter().any(|e| e.value.is_null()));
    let diagnostic = Diagnostic::error(
        Code::UnsupportedYaml,
        key.span,
        "a mapping key must be a plain string, not a list or mapping",
    );
    if nested_braces {
        diagnostic.with_help("an unquoted `{{ ... }}` is read by YAML as a mapping; quote the whole expression: \"{{ ... }}\"")
    } else {
        diagnostic.with_help("write the key as a plain string")
    }
}

/// Nodes and bytes of text in a tree (what an alias to it repeats).
fn weigh(node: &Node) -> (usize, usize) {
    match &node.value {
        Value::Scalar(s) => (1, s.text.len()),
        Value::Seq(items) => items
            .iter()
            .map(weigh)
            .fold((1, 0), |(n, b), (m, c)| (n + m, b + c)),
        Value::Map(entries) => entries.iter().fold((1, 0), |(n, b), e| {
            let (m, c) = weigh(&e.value);
            (n + m, b + c + e.key.text.len())
        }),
    }
}

/// The YAML 1.2 core schema: which plain scalars are null, booleans, integers or floats.
pub fn resolve_plain(text: &str) -> ScalarKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" => return ScalarKind::Bool(true),
        "false" | "False" | "FALSE" => return ScalarKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return ScalarKind::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return ScalarKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return ScalarKind::Float(f64::NAN),
        _ => {}
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            if let Ok(i) = i64::from_str_radix(oct, 8) {
                return ScalarKind::Int(i);
            }
        }
        return ScalarKind::Str;
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return ScalarKind::Int(i);
            }
        }
        return ScalarKind::Str;
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_or_else(
            |_| text.parse().map_or(ScalarKind::Str, ScalarKind::Float),
            ScalarKind::Int,
        );
    }
    if is_core_float(digits) {
        return text.parse().map_or(ScalarKind::Str, ScalarKind::Float);
    }
    ScalarKind::Str
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, sign already removed.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (!int.is_empty() || !frac.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok && (mantissa.contains('.') || exponent.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> (Option<Node>, Vec<Diagnostic>) {
        load(&SourceFile::new("t.yml", text.to_string()))
    }

    #[test]
    fn core_schema_resolution() {
        assert_eq!(resolve_plain("on"), ScalarKind::Str);
        assert_eq!(resolve_plain("yes"), ScalarKind::Str);
        assert_eq!(resolve_plain("True"), ScalarKind::Bool(true));
        assert_eq!(resolve_plain("-12"), ScalarKind::Int(-12));
        assert_eq!(resolve_plain("0x1F"), ScalarKind::Int(31));
        assert_eq!(resolve_plain("1.5e3"), ScalarKind::Float(1500.0));
        assert_eq!(resolve_plain("1.10.2"), ScalarKind::Str);
        assert_eq!(resolve_plain("PT10S"), ScalarKind::Str);
        assert_eq!(resolve_plain("~"), ScalarKind::Null);
    }

    #[test]
    fn keys_and_values_keep_byte_spans() {
        let text = "id: café\nmessage: \"hi\"\n";
        let (root, diags) = load_str(text);
        assert!(diags.is_empty());
        let root = root.unwrap();
        let entry = root.get("message").unwrap();
        assert_eq!(&text[entry.key.span.range()], "message");
        assert_eq!(&text[entry.value.span.range()], "\"hi\"");
        assert_eq!(entry.value.as_str(), Some("hi"));
    }

    #[test]
    fn duplicate_keys_are_reported_at_the_second() {
        let text = "a: 1\nb: 2\na: 3\n";
        let (root, diags) = load_str(text);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::DuplicateKey);
        assert_eq!(diags[0].span, Span::new(10, 11));
        assert_eq!(root.unwrap().get("a").unwrap().value.as_text(), Some("1"));
    }

    #[test]
    fn syntax_errors_stop_with_a_position() {
        let (root, diags) = load_str("a: [1, 2\nb: 3\n");
        assert!(root.is_none());
        assert_eq!(diags[0].code, Code::YamlSyntax);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            let items = vec![format!("*a{p}"); 10].join(", ");
            text += &[
                "a",
                &i.to_string(),
                ": &a",
                &i.to_string(),
                " [",
                &items,
                "]\n",
            ]
            .concat();
        }
        let (_, diags) = load_str(&text);
        assert!(diags.iter().any(|d| d.code == Code::UnsupportedYaml));
    }
}
