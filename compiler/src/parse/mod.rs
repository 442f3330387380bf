//! YAML tree → typed [`Flow`](crate::model::Flow): strict keys with "did you mean" suggestions,
//! value shapes checked against the plugin registry, `pluginDefaults` merged before typing.
//! Never stops at the first problem: every mistake becomes a diagnostic and parsing goes on.

mod defaults;
mod flow;
mod input;
mod task;
mod values;

use std::sync::OnceLock;

use regex::Regex;

use crate::diag::{Code, Diagnostic};
use crate::model::{Flow, Spanned};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::yaml::{Entry, Key, Node};

use flow::parse_flow;

/// Choices that change what counts as an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Unknown task/trigger types are warnings and their properties untyped.
    pub allow_unknown_types: bool,
    /// Task types the runtime cannot run are errors (what `kflowc build` refuses).
    pub runnable: bool,
}

/// Shared state while parsing one flow.
pub(crate) struct Ctx {
    pub options: Options,
    pub diagnostics: Vec<Diagnostic>,
    pub defaults: Vec<defaults::PluginDefault>,
}

impl Ctx {
    pub fn new(options: Options) -> Self {
        Ctx {
            options,
            diagnostics: Vec::new(),
            defaults: Vec::new(),
        }
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// The entries of a mapping, or a `wrong-type` error naming what was expected.
    pub fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Entry]> {
        let map = node.as_map();
        if map.is_none() {
            self.push(Diagnostic::error(
                Code::WrongType,
                node.span,
                format!("{what} must be a mapping, found {}", node.describe()),
            ));
        }
        map
    }

    /// The items of a list; `null` is an empty list.
    pub fn seq<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Node] {
        if node.is_null() {
            return &[];
        }
        if let Some(items) = node.as_seq() {
            items
        } else {
            self.push(Diagnostic::error(
                Code::WrongType,
                node.span,
                format!("{what} must be a list, found {}", node.describe()),
            ));
            &[]
        }
    }

    /// The items of a list-valued key; a wrong shape is reported at the key, where the reader looks.
    pub fn seq_of<'n>(&mut self, entry: &'n Entry, what: &str) -> &'n [Node] {
        match entry.value.as_seq() {
            Some(items) => items,
            None if entry.value.is_null() => &[],
            None => {
                self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        entry.key.span,
                        format!("{what} must be a list, found {}", entry.value.describe()),
                    )
                    .with_help(format!(
                        "write each item of `{}` on its own line starting with `- `",
                        entry.key.text
                    )),
                );
                &[]
            }
        }
    }

    /// The text of a scalar (numbers and booleans read as text, as Jackson does).
    pub fn text(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        match node.as_text() {
            Some(text) => Some(Spanned::new(text.to_string(), node.span)),
            None if node.is_null() => None,
            None => {
                self.push(Diagnostic::error(
                    Code::WrongType,
                    node.span,
                    format!("{what} must be a string, found {}", node.describe()),
                ));
                None
            }
        }
    }

    /// A literal boolean (`true`/`false`, or those words quoted).
    pub fn bool(&mut self, node: &Node, what: &str) -> bool {
        if let Some(b) = values::literal_bool(node) {
            return b;
        }
        if !node.is_null() {
            self.push(
                Diagnostic::error(
                    Code::WrongType,
                    node.span,
                    format!(
                        "{what} must be `true` or `false`, found {}",
                        node.describe()
                    ),
                )
                .with_help("this property is not rendered, so it cannot be an expression"),
            );
        }
        false
    }

    /// An id checked against one of Kestra's id patterns.
    pub fn id(&mut self, node: &Node, what: &str, pattern: IdPattern) -> Option<Spanned<String>> {
        let id = self.text(node, what)?;
        if !pattern.regex().is_match(&id.value) {
            let message = if id.value.is_empty() {
                format!("empty {what}")
            } else {
                format!("invalid {what} `{}`", id.value)
            };
            self.push(
                Diagnostic::error(Code::InvalidId, node.span, message).with_help(format!(
                    "{what} must match `{}`{}",
                    pattern.source(),
                    pattern.hint()
                )),
            );
        }
        Some(id)
    }

    /// An unknown key, with the closest known key (or a known misnomer's right name) as help.
    pub fn unknown_key(
        &mut self,
        key: &Key,
        owner: &str,
        known: &[&str],
        renamed: &[(&str, &str)],
    ) {
        let mut diagnostic = Diagnostic::error(
            Code::UnknownKey,
            key.span,
            format!("unknown key `{}` in {owner}", key.text),
        );
        if let Some((_, right)) = renamed.iter().find(|(wrong, _)| *wrong == key.text) {
            diagnostic = diagnostic.with_help(format!(
                "{owner} has no `{}`; the property is `{right}`",
                key.text
            ));
        } else if let Some(best) = did_you_mean(&key.text, known.iter().copied()) {
            diagnostic = diagnostic.with_help(format!("did you mean `{best}`?"));
        } else if !known.is_empty() {
            diagnostic = diagnostic.with_help(format!("{owner} accepts: {}", known.join(", ")));
        }
        self.push(diagnostic);
    }

    pub fn missing_key(&mut self, span: Span, owner: &str, key: &str) {
        self.push(Diagnostic::error(
            Code::MissingKey,
            span,
            format!("{owner} is missing the required key `{key}`"),
        ));
    }
}

/// The id patterns of Kestra's models.
#[derive(Debug, Clone, Copy)]
pub enum IdPattern {
    /// Flow ids: `^[a-zA-Z0-9][a-zA-Z0-9._-]*`.
    Flow,
    /// Namespaces: `^[a-z0-9][a-z0-9._-]*`.
    Namespace,
    /// Task, trigger and most other ids: `^[a-zA-Z0-9][a-zA-Z0-9_-]*`.
    Task,
    /// Input and output ids, where dots nest: `^[a-zA-Z0-9][.a-zA-Z0-9_-]*`.
    Dotted,
}

impl IdPattern {
    fn source(self) -> &'static str {
        match self {
            IdPattern::Flow => "^[a-zA-Z0-9][a-zA-Z0-9._-]*$",
            IdPattern::Namespace => "^[a-z0-9][a-z0-9._-]*$",
            IdPattern::Task => "^[a-zA-Z0-9][a-zA-Z0-9_-]*$",
            IdPattern::Dotted => "^[a-zA-Z0-9][.a-zA-Z0-9_-]*$",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            IdPattern::Namespace => ": lowercase letters, digits, `.`, `_` and `-`",
            IdPattern::Task => ": letters, digits, `_` and `-`, not starting with `_` or `-`",
            IdPattern::Flow | IdPattern::Dotted => ": letters, digits, `.`, `_` and `-`",
        }
    }

    fn regex(self) -> &'static Regex {
        static CELLS: [OnceLock<Regex>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        CELLS[self as usize]
            .get_or_init(|| Regex::new(self.source()).expect("id patterns are valid regexes"))
    }
}

/// Parse a flow file's YAML tree, reporting every problem found.
pub fn parse(
    root: Option<&Node>,
    whole_file: Span,
    options: Options,
) -> (Option<Flow>, Vec<Diagnostic>) {
    let mut ctx = Ctx::new(options);
    let flow = match root {
        Some(root) if !root.is_null() => parse_flow(&mut ctx, root),
        _ => {
            ctx.push(
                Diagnostic::error(Code::MissingKey, whole_file, "the file holds no flow")
                    .with_help("a flow needs at least `id`, `namespace` and `tasks`"),
            );
            None
        }
    };
    (flow, ctx.diagnostics)
}
