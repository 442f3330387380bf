//! Pebble's grammar, as Kestra configures it: `{{ }}` prints, `{% %}` tags, `{# #}` comments,
//! whitespace control with `-`, and Kestra's `??`/`???` operators.
//!
//! Our own parser rather than minijinja's: Pebble's operators (`??`, `? :`, `contains`, `is not`,
//! `not` binding looser than `or`) differ from Jinja's, and we need exact byte spans for every
//! identifier so `kflowc check` can point inside a YAML string.

use serde_json::Value;

use super::ast::{Arg, BinaryOp, Call, Expr, ExprKind, Ident, Node, Span, Template, UnaryOp};

/// A template that could not be parsed: where parsing stopped and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
    pub help: Option<String>,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.span.start)
    }
}

impl std::error::Error for SyntaxError {}

type Result<T> = std::result::Result<T, SyntaxError>;

fn error<T>(message: impl Into<String>, span: Span) -> Result<T> {
    Err(SyntaxError {
        message: message.into(),
        span,
        help: None,
    })
}

/// How deeply expressions and tags may nest: parentheses, lists and maps, unary operators,
/// links of an operator, filter or attribute chain, `{% if %}` inside `{% if %}`. Far beyond any
/// real template, and well within the stack of every stage that walks the tree recursively
/// (checker, evaluator, drop); deeper input is a syntax error, never a stack overflow.
pub const MAX_NESTING: usize = 256;

/// Parse a whole template (text with `{{ }}`, `{% %}` and `{# #}`).
pub fn parse(source: &str) -> Result<Template> {
    let items = scan(source)?;
    let mut builder = Builder {
        items: items.into_iter(),
        pending: None,
        depth: 0,
    };
    let (nodes, end) = builder.block(&[])?;
    if let Some((name, span)) = end {
        return error(format!("`{{% {name} %}}` without an opening tag"), span);
    }
    Ok(Template { nodes })
}

/// Parse a lone expression (`inputs.x | upper`), as the checker does for `{{ }}` contents.
pub fn parse_expression(source: &str) -> Result<Expr> {
    let tokens = lex(source, 0, Close::EndOfInput)?.0;
    let mut parser = Parser::new(std::rc::Rc::from(source), source.len(), tokens);
    let expr = parser.expression()?;
    parser.expect_end()?;
    Ok(expr)
}

// ---------------------------------------------------------------------------------------------
// Scanning: split the text into literal text, prints, tags and comments.

enum Item {
    Text(String),
    Print(Expr),
    Tag {
        name: Ident,
        parser: Parser,
        span: Span,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Close {
    Print,
    Tag,
    EndOfInput,
}

impl Close {
    fn delimiter(self) -> &'static str {
        match self {
            Close::Print => "}}",
            Close::Tag => "%}",
            Close::EndOfInput => "",
        }
    }
}

fn scan(source: &str) -> Result<Vec<Item>> {
    let shared: std::rc::Rc<str> = std::rc::Rc::from(source);
    let bytes = source.as_bytes();
    let mut items = Vec::new();
    let mut text_start = 0;
    let mut trim_next = false;
    let mut pos = 0;
    while pos + 1 < bytes.len() {
        let open = &bytes[pos..pos + 2];
        let kind = match open {
            b"{{" => Close::Print,
            b"{%" => Close::Tag,
            b"{#" => Close::EndOfInput, // comment; handled below
            _ => {
                pos += 1;
                continue;
            }
        };
        let trim_before = bytes.get(pos + 2) == Some(&b'-');
        // Kestra turns `{% raw %}` into literal text before Pebble runs: its `-` trims nothing.
        let raw_tag = {
            let inner = source[pos + 2..].trim_start_matches('-').trim_start();
            inner.starts_with("raw")
                && !inner[3..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        };
        push_text(
            &mut items,
            &source[text_start..pos],
            trim_next && !raw_tag,
            trim_before && !raw_tag,
        );
        let inner_start = pos + 2 + usize::from(trim_before);
        if open == b"{#" {
            let Some(close) = source[inner_start..].find("#}") else {
                return error(
                    "comment `{#` is never closed with `#}`",
                    Span::new(pos, pos + 2),
                );
            };
            let close_at = inner_start + close;
            trim_next = close_at > inner_start && bytes[close_at - 1] == b'-';
            pos = close_at + 2;
            text_start = pos;
            continue;
        }
        let (tokens, end, trim_after) = lex(source, inner_start, kind)?;
        trim_next = trim_after;
        let open_span = Span::new(pos, inner_start);
        let mut parser = Parser::new(std::rc::Rc::clone(&shared), source.len(), tokens);
        if kind == Close::Print {
            if parser.at_end() {
                return error(
                    "empty `{{ }}`: write an expression between the braces",
                    open_span.to(Span::new(end, end)),
                );
            }
            let expr = parser.expression()?;
            parser.expect_end()?;
            items.push(Item::Print(expr));
            pos = end;
        } else {
            let Some(name) = parser.ident_token() else {
                return error("expected a tag name after `{%`", parser.here());
            };
            if name.name == "raw" || name.name == "verbatim" {
                parser.expect_end()?;
                let closing = format!("end{}", name.name);
                let Some((body_end, after)) = find_end_raw(source, end, &closing) else {
                    return error(
                        format!(
                            "`{{% {} %}}` is never closed with `{{% {closing} %}}`",
                            name.name
                        ),
                        name.span,
                    );
                };
                let body = &source[end..body_end];
                if name.name == "raw" && source[pos..after].contains('\n') {
                    return Err(SyntaxError {
                        message: "`{% raw %}` must end on the line it starts (Kestra reads raw blocks line by line)".into(),
                        span: name.span,
                        help: Some("use `{% verbatim %}…{% endverbatim %}` across lines".into()),
                    });
                }
                // Pebble's lexer drops the whitespace that starts a verbatim body.
                let body = if name.name == "verbatim" {
                    body.trim_start()
                } else {
                    body
                };
                items.push(Item::Text(body.to_string()));
                pos = after;
                text_start = pos;
                trim_next = false;
                continue;
            }
            items.push(Item::Tag {
                name,
                parser,
                span: Span::new(pos, end),
            });
            pos = end;
        }
        text_start = pos;
    }
    push_text(&mut items, &source[text_start..], trim_next, false);
    Ok(items)
}

fn push_text(items: &mut Vec<Item>, text: &str, trim_start: bool, trim_end: bool) {
    let mut text = text;
    if trim_start {
        text = text.trim_start();
    }
    if trim_end {
        text = text.trim_end();
    }
    if !text.is_empty() {
        items.push(Item::Text(text.to_string()));
    }
}

/// Find `{% endraw %}` (any spacing): the end of the raw body and the position after the tag.
fn find_end_raw(source: &str, from: usize, closing: &str) -> Option<(usize, usize)> {
    let mut search = from;
    while let Some(found) = source[search..].find("{%") {
        let at = search + found;
        let rest = &source[at + 2..];
        let inner = rest.trim_start_matches('-').trim_start();
        if let Some(after_name) = inner.strip_prefix(closing) {
            let after_name = after_name.trim_start();
            let after_name = after_name.strip_prefix('-').unwrap_or(after_name);
            if let Some(after) = after_name.strip_prefix("%}") {
                return Some((at, source.len() - after.len()));
            }
        }
        search = at + 2;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Lexing the inside of one `{{ }}` or `{% %}`.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Int(i64),
    Float(f64),
    Str {
        value: String,
        raw: String,
        double: bool,
    },
    Punct(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    span: Span,
}

/// Longest first, so `???` is not read as `??` then `?`.
const PUNCTS: &[&str] = &[
    "???", "??", "==", "!=", "<=", ">=", "..", "(", ")", "[", "]", "{", "}", ",", ":", ".", "|",
    "?", "<", ">", "+", "-", "*", "/", "%", "~", "=",
];

/// Tokens up to the closing delimiter; returns them, the position after the delimiter and
/// whether the delimiter asks to trim the following whitespace (`-}}`).
fn lex(source: &str, start: usize, close: Close) -> Result<(Vec<Token>, usize, bool)> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut pos = start;
    loop {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= bytes.len() {
            if close == Close::EndOfInput {
                return Ok((tokens, pos, false));
            }
            let opener = if close == Close::Print { "{{" } else { "{%" };
            return Err(SyntaxError {
                message: format!("`{opener}` is never closed with `{}`", close.delimiter()),
                span: Span::new(start.saturating_sub(2), start),
                help: Some(format!("add `{}` after the expression", close.delimiter())),
            });
        }
        let rest = &source[pos..];
        if close != Close::EndOfInput && depth == 0 {
            let delim = close.delimiter();
            if rest.starts_with(delim) {
                return Ok((tokens, pos + 2, false));
            }
            if rest.starts_with('-') && rest[1..].starts_with(delim) {
                return Ok((tokens, pos + 3, true));
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        let token_start = pos;
        let tok = if c.is_ascii_alphabetic() || c == '_' {
            let len = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            pos += len;
            Tok::Ident(rest[..len].to_string())
        } else if c.is_ascii_digit() {
            let mut len = rest
                .find(|ch: char| !ch.is_ascii_digit())
                .unwrap_or(rest.len());
            let fraction = rest[len..].starts_with('.')
                && rest[len + 1..].starts_with(|ch: char| ch.is_ascii_digit());
            if fraction {
                len += 1 + rest[len + 1..]
                    .find(|ch: char| !ch.is_ascii_digit())
                    .unwrap_or(rest.len() - len - 1);
                pos += len;
                match rest[..len].parse::<f64>() {
                    Ok(f) => Tok::Float(f),
                    Err(_) => return error("invalid number", Span::new(token_start, pos)),
                }
            } else {
                pos += len;
                // Java's long suffix: `100L`.
                let suffix = rest[len..].starts_with(['L', 'l'])
                    && !rest[len + 1..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
                if suffix {
                    pos += 1;
                }
                match rest[..len].parse::<i64>() {
                    Ok(i) => Tok::Int(i),
                    Err(_) => {
                        return error("integer literal is too large", Span::new(token_start, pos))
                    }
                }
            }
        } else if c == '\'' || c == '"' {
            let (value, raw, len) = lex_string(rest, c).ok_or_else(|| SyntaxError {
                message: format!("string literal is never closed with {c}"),
                span: Span::new(token_start, token_start + 1),
                help: Some(format!("add the closing {c}")),
            })?;
            pos += len;
            Tok::Str {
                value,
                raw,
                double: c == '"',
            }
        } else if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            pos += p.len();
            match *p {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth = depth.saturating_sub(1),
                _ => {}
            }
            Tok::Punct(p)
        } else {
            let help = (c == '&' || c == '!')
                .then(|| "Pebble spells logic with words: `and`, `or`, `not`".to_string());
            return Err(SyntaxError {
                message: format!("unexpected character `{c}` in expression"),
                span: Span::new(pos, pos + c.len_utf8()),
                help,
            });
        };
        tokens.push(Token {
            tok,
            span: Span::new(token_start, pos),
        });
    }
}

/// A quoted string at the start of `rest`: its value, its raw body and its length with quotes.
fn lex_string(rest: &str, quote: char) -> Option<(String, String, usize)> {
    let mut value = String::new();
    let mut chars = rest.char_indices().skip(1);
    while let Some((i, ch)) = chars.next() {
        if ch == '\\' {
            // Pebble knows only `\'` and `\"`; any other backslash stays as written.
            let (_, next) = chars.next()?;
            if next != '\'' && next != '"' {
                value.push('\\');
            }
            value.push(next);
        } else if ch == quote {
            return Some((value, rest[1..i].to_string(), i + 1));
        } else {
            value.push(ch);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Expressions.

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// End of the tag, for "expected …" errors at the end.
    end: usize,
    source_len: usize,
    /// The template text, kept for `#{ }` interpolation inside double-quoted strings.
    source: std::rc::Rc<str>,
    /// How deep the expression being parsed nests (see [`MAX_NESTING`]).
    depth: usize,
}

/// Binding strength of binary operators, from Pebble's core extension and Kestra's.
fn binary_op(tok: &Tok) -> Option<(BinaryOp, u8)> {
    let op = match tok {
        Tok::Ident(word) => match word.as_str() {
            "or" => (BinaryOp::Or, 10),
            "and" => (BinaryOp::And, 15),
            "contains" => (BinaryOp::Contains, 20),
            "equals" => (BinaryOp::Eq, 30),
            _ => return None,
        },
        Tok::Punct(p) => match *p {
            "==" => (BinaryOp::Eq, 30),
            "!=" => (BinaryOp::Ne, 30),
            "<" => (BinaryOp::Lt, 30),
            ">" => (BinaryOp::Gt, 30),
            "<=" => (BinaryOp::Le, 30),
            ">=" => (BinaryOp::Ge, 30),
            "+" => (BinaryOp::Add, 40),
            "-" => (BinaryOp::Sub, 40),
            "*" => (BinaryOp::Mul, 60),
            "/" => (BinaryOp::Div, 60),
            "%" => (BinaryOp::Rem, 60),
            "~" => (BinaryOp::Concat, 110),
            ".." => (BinaryOp::Range, 120),
            "??" => (BinaryOp::NullCoalesce, 120),
            "???" => (BinaryOp::UndefinedCoalesce, 120),
            _ => return None,
        },
        _ => return None,
    };
    Some(op)
}

const FILTER_PRECEDENCE: u8 = 100;
const TEST_PRECEDENCE: u8 = 20;
/// Pebble's unary operators bind tighter than any binary one: `not a or b` is `(not a) or b`.
const NOT_PRECEDENCE: u8 = 200;
const SIGN_PRECEDENCE: u8 = 200;

impl Parser {
    /// A parser over `tokens` of the first `len` bytes of `source` (shared by every tag of a
    /// template, never copied per tag).
    fn new(source: std::rc::Rc<str>, len: usize, tokens: Vec<Token>) -> Self {
        let end = tokens.last().map_or(0, |t| t.span.end);
        Parser {
            tokens,
            pos: 0,
            end,
            source_len: len,
            source,
            depth: 0,
        }
    }

    /// One level deeper; an error past [`MAX_NESTING`]. Pair with `self.depth -= 1`.
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return error(
                format!("the expression nests more than {MAX_NESTING} levels deep"),
                self.here(),
            );
        }
        Ok(())
    }

    fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, offset: usize) -> Option<&Tok> {
        self.tokens.get(self.pos + offset).map(|t| &t.tok)
    }

    fn here(&self) -> Span {
        self.tokens.get(self.pos).map_or_else(
            || Span::new(self.end.min(self.source_len), self.end.min(self.source_len)),
            |t| t.span,
        )
    }

    fn prev_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(self.end, |t| t.span.end)
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(q)) if q == w)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn describe_here(&self) -> String {
        match self.peek() {
            None => "the end of the expression".to_string(),
            Some(Tok::Ident(w)) => format!("`{w}`"),
            Some(Tok::Int(i)) => format!("`{i}`"),
            Some(Tok::Float(f)) => format!("`{f}`"),
            Some(Tok::Str { raw, .. }) => format!("string `{raw}`"),
            Some(Tok::Punct(p)) => format!("`{p}`"),
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<Span> {
        if self.is_punct(p) {
            self.pos += 1;
            Ok(self.tokens[self.pos - 1].span)
        } else {
            error(
                format!("expected `{p}`, found {}", self.describe_here()),
                self.here(),
            )
        }
    }

    fn expect_end(&self) -> Result<()> {
        if self.at_end() {
            return Ok(());
        }
        let mut err = SyntaxError {
            message: format!("unexpected {} after the expression", self.describe_here()),
            span: self.here(),
            help: None,
        };
        if let Some(Tok::Ident(_)) = self.peek() {
            err.help =
                Some("operators are `and`, `or`, `~`, `|`, `==`, … — is one missing?".into());
        }
        Err(err)
    }

    fn ident_token(&mut self) -> Option<Ident> {
        match self.tokens.get(self.pos) {
            Some(Token {
                tok: Tok::Ident(name),
                span,
            }) => {
                let ident = Ident {
                    name: name.clone(),
                    span: *span,
                };
                self.pos += 1;
                Some(ident)
            }
            _ => None,
        }
    }

    fn expect_ident(&mut self, what: &str) -> Result<Ident> {
        match self.ident_token() {
            Some(ident) => Ok(ident),
            None => error(
                format!("expected {what}, found {}", self.describe_here()),
                self.here(),
            ),
        }
    }

    /// A full expression, with the ternary `a ? b : c` at the lowest level.
    fn expression(&mut self) -> Result<Expr> {
        self.enter()?;
        let result = super::deep(|| self.ternary());
        self.depth -= 1;
        result
    }

    fn ternary(&mut self) -> Result<Expr> {
        let condition = self.binary(0)?;
        if self.is_punct("?") {
            self.pos += 1;
            let then = self.expression()?;
            self.expect_punct(":")?;
            let otherwise = self.expression()?;
            let span = condition.span.to(otherwise.span);
            return Ok(Expr {
                kind: ExprKind::Ternary(Box::new(condition), Box::new(then), Box::new(otherwise)),
                span,
            });
        }
        Ok(condition)
    }

    fn binary(&mut self, min: u8) -> Result<Expr> {
        // Each link of a chain (`a + b + c`, `x | f | g`) nests the tree one level deeper.
        let start_depth = self.depth;
        let result = self.binary_chain(min);
        self.depth = start_depth;
        result
    }

    fn binary_chain(&mut self, min: u8) -> Result<Expr> {
        let mut left = self.unary()?;
        loop {
            if self.is_punct("|") && FILTER_PRECEDENCE >= min {
                self.enter()?;
                self.pos += 1;
                let call = self.call("a filter name after `|`")?;
                let span = left.span.to(call.span);
                left = Expr {
                    kind: ExprKind::Filter(Box::new(left), call),
                    span,
                };
                continue;
            }
            if self.is_word("is") && TEST_PRECEDENCE >= min {
                self.enter()?;
                self.pos += 1;
                let negated = self.eat_word("not");
                let call = self.call("a test name after `is` (defined, null, empty, …)")?;
                let span = left.span.to(call.span);
                left = Expr {
                    kind: ExprKind::Test {
                        input: Box::new(left),
                        negated,
                        call,
                    },
                    span,
                };
                continue;
            }
            let Some((op, prec)) = self.peek().and_then(binary_op) else {
                break;
            };
            if prec < min {
                break;
            }
            self.enter()?;
            self.pos += 1;
            let right = super::deep(|| self.binary(prec + 1))?;
            let span = left.span.to(right.span);
            left = Expr {
                kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
                span,
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr> {
        let start = self.here();
        let op = if self.is_word("not") {
            Some((UnaryOp::Not, NOT_PRECEDENCE))
        } else if self.is_punct("-") {
            Some((UnaryOp::Neg, SIGN_PRECEDENCE))
        } else if self.is_punct("+") {
            Some((UnaryOp::Plus, SIGN_PRECEDENCE))
        } else {
            None
        };
        if let Some((op, prec)) = op {
            self.pos += 1;
            self.enter()?;
            let operand = super::deep(|| self.binary(prec));
            self.depth -= 1;
            let operand = operand?;
            let span = start.to(operand.span);
            return Ok(Expr {
                kind: ExprKind::Unary(op, Box::new(operand)),
                span,
            });
        }
        let literal_collection = self.is_punct("[") || self.is_punct("{");
        let primary = self.primary()?;
        // Pebble takes no `.attr` or `[i]` right after a list or map literal (parenthesize it).
        if literal_collection {
            return Ok(primary);
        }
        self.postfix(primary)
    }

    /// A filter/test/function name and its optional argument list.
    fn call(&mut self, what: &str) -> Result<Call> {
        let name = self.expect_ident(what)?;
        let mut args = Vec::new();
        let mut span = name.span;
        if self.is_punct("(") {
            self.pos += 1;
            args = self.arguments()?;
            span = span.to(Span::new(self.prev_end(), self.prev_end()));
        }
        Ok(Call { name, args, span })
    }

    /// Arguments after `(`, up to and including `)`.
    fn arguments(&mut self) -> Result<Vec<Arg>> {
        let mut args = Vec::new();
        if self.eat_punct(")") {
            return Ok(args);
        }
        loop {
            let named = matches!(self.peek(), Some(Tok::Ident(_)))
                && matches!(self.peek_at(1), Some(Tok::Punct("=")));
            let name = if named {
                let ident = self.ident_token();
                self.pos += 1;
                ident
            } else {
                None
            };
            let value = self.expression()?;
            args.push(Arg { name, value });
            if self.eat_punct(",") {
                continue;
            }
            if self.eat_punct(")") {
                return Ok(args);
            }
            return error(
                format!(
                    "expected `,` or `)` in the argument list, found {}",
                    self.describe_here()
                ),
                self.here(),
            );
        }
    }

    fn primary(&mut self) -> Result<Expr> {
        let Some(token) = self.tokens.get(self.pos).cloned() else {
            return error(
                "expected an expression, found the end of the expression",
                self.here(),
            );
        };
        self.pos += 1;
        let span = token.span;
        let kind = match token.tok {
            Tok::Int(i) => ExprKind::Literal(Value::from(i)),
            Tok::Float(f) => ExprKind::Literal(
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            ),
            Tok::Str { value, raw, double } => {
                if double && raw.contains("#{") {
                    self.interpolation(&raw, span.start + 1)?
                } else {
                    ExprKind::Literal(Value::String(value))
                }
            }
            Tok::Ident(word) => match word.as_str() {
                "true" | "TRUE" => ExprKind::Literal(Value::Bool(true)),
                "false" | "FALSE" => ExprKind::Literal(Value::Bool(false)),
                "null" | "none" | "NULL" | "NONE" => ExprKind::Literal(Value::Null),
                _ if self.is_punct("(") => {
                    self.pos += 1;
                    let args = self.arguments()?;
                    let call_span = span.to(Span::new(self.prev_end(), self.prev_end()));
                    return Ok(Expr {
                        kind: ExprKind::Function(Call {
                            name: Ident { name: word, span },
                            args,
                            span: call_span,
                        }),
                        span: call_span,
                    });
                }
                _ => ExprKind::Var(word),
            },
            Tok::Punct("(") => {
                let inner = self.expression()?;
                let close = self.expect_punct(")")?;
                return Ok(Expr {
                    kind: inner.kind,
                    span: span.to(close),
                });
            }
            Tok::Punct("[") => {
                let mut items = Vec::new();
                if !self.is_punct("]") {
                    loop {
                        items.push(self.expression()?);
                        if !self.eat_punct(",") || self.is_punct("]") {
                            break;
                        }
                    }
                }
                let close = self.expect_punct("]")?;
                return Ok(Expr {
                    kind: ExprKind::List(items),
                    span: span.to(close),
                });
            }
            Tok::Punct("{") => {
                let mut entries = Vec::new();
                if !self.is_punct("}") {
                    loop {
                        let key = self.expression()?;
                        self.expect_punct(":")?;
                        let value = self.expression()?;
                        entries.push((key, value));
                        if !self.eat_punct(",") || self.is_punct("}") {
                            break;
                        }
                    }
                }
                let close = self.expect_punct("}")?;
                return Ok(Expr {
                    kind: ExprKind::Map(entries),
                    span: span.to(close),
                });
            }
            Tok::Punct(p) => {
                self.pos -= 1;
                let help = match p {
                    "}" => {
                        Some("a `}` here usually means `{{ … }}` is missing a brace".to_string())
                    }
                    _ => None,
                };
                return Err(SyntaxError {
                    message: format!("expected an expression, found `{p}`"),
                    span,
                    help,
                });
            }
        };
        Ok(Expr { kind, span })
    }

    /// `"text #{expr} text"`: the parts, as a concatenation.
    fn interpolation(&self, raw: &str, offset: usize) -> Result<ExprKind> {
        let mut parts = Vec::new();
        let mut rest = 0;
        while let Some(found) = raw[rest..].find("#{") {
            let open = rest + found;
            if open > rest {
                parts.push(literal_part(&raw[rest..open], offset + rest));
            }
            let inner_start = open + 2;
            let Some(close) = raw[inner_start..].find('}') else {
                return error(
                    "`#{` is never closed with `}`",
                    Span::new(offset + open, offset + inner_start),
                );
            };
            let inner_end = inner_start + close;
            let source = &self.source[..offset + inner_end];
            let tokens = lex(source, offset + inner_start, Close::EndOfInput)?.0;
            let mut parser = Parser::new(std::rc::Rc::clone(&self.source), source.len(), tokens);
            parser.depth = self.depth;
            let expr = parser.expression()?;
            parser.expect_end()?;
            parts.push(expr);
            rest = inner_end + 1;
        }
        if rest < raw.len() {
            parts.push(literal_part(&raw[rest..], offset + rest));
        }
        Ok(ExprKind::Interpolated(parts))
    }

    fn postfix(&mut self, expr: Expr) -> Result<Expr> {
        // Each `.attr`, `[i]` or `.method()` nests the tree one level deeper.
        let start_depth = self.depth;
        let result = self.postfix_chain(expr);
        self.depth = start_depth;
        result
    }

    fn postfix_chain(&mut self, mut expr: Expr) -> Result<Expr> {
        loop {
            if self.is_punct(".") || self.is_punct("[") {
                self.enter()?;
            }
            if self.is_punct(".") {
                self.pos += 1;
                let name = match self.tokens.get(self.pos).cloned() {
                    Some(Token {
                        tok: Tok::Ident(name),
                        span,
                    }) => Ident { name, span },
                    Some(Token {
                        tok: Tok::Int(i),
                        span,
                    }) => Ident {
                        name: i.to_string(),
                        span,
                    },
                    _ => {
                        return error(
                            format!(
                                "expected an attribute name after `.`, found {}",
                                self.describe_here()
                            ),
                            self.here(),
                        )
                    }
                };
                self.pos += 1;
                if self.is_punct("(") {
                    // A Java method call (`text.split(',')`), as Pebble allows on values.
                    self.pos += 1;
                    let args = self.arguments()?;
                    let call_span = name.span.to(Span::new(self.prev_end(), self.prev_end()));
                    let span = expr.span.to(call_span);
                    expr = Expr {
                        kind: ExprKind::Method(
                            Box::new(expr),
                            Call {
                                name,
                                args,
                                span: call_span,
                            },
                        ),
                        span,
                    };
                    continue;
                }
                let span = expr.span.to(name.span);
                expr = Expr {
                    kind: ExprKind::Attr(Box::new(expr), name),
                    span,
                };
            } else if self.is_punct("[") {
                self.pos += 1;
                let index = self.expression()?;
                let close = self.expect_punct("]")?;
                let span = expr.span.to(close);
                expr = Expr {
                    kind: ExprKind::Index(Box::new(expr), Box::new(index)),
                    span,
                };
            } else {
                return Ok(expr);
            }
        }
    }
}

fn literal_part(raw: &str, start: usize) -> Expr {
    let value = lex_string(&format!("\"{raw}\""), '"').map_or_else(|| raw.to_string(), |v| v.0);
    Expr {
        kind: ExprKind::Literal(Value::String(value)),
        span: Span::new(start, start + raw.len()),
    }
}

// ---------------------------------------------------------------------------------------------
// Tags into a tree.

struct Builder {
    items: std::vec::IntoIter<Item>,
    /// The parser of the tag that ended the last block (`elseif cond`, `endif`).
    pending: Option<Parser>,
    /// How many blocks are open (see [`MAX_NESTING`]).
    depth: usize,
}

/// The tag that ended a block: its name and span.
type BlockEnd = Option<(String, Span)>;

impl Builder {
    /// Nodes up to one of the `ends` tags (returned, with its parser consumed) or the end.
    fn block(&mut self, ends: &[&str]) -> Result<(Vec<Node>, BlockEnd)> {
        self.depth += 1;
        let result = super::deep(|| self.block_nodes(ends));
        self.depth -= 1;
        result
    }

    fn block_nodes(&mut self, ends: &[&str]) -> Result<(Vec<Node>, BlockEnd)> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.next() {
            match item {
                Item::Text(text) => nodes.push(Node::Text(text)),
                Item::Print(expr) => nodes.push(Node::Print(expr)),
                Item::Tag {
                    name,
                    mut parser,
                    span,
                } => {
                    if ends.contains(&name.name.as_str()) {
                        self.pending = Some(parser);
                        return Ok((nodes, Some((name.name, span))));
                    }
                    if self.depth > MAX_NESTING {
                        return error(
                            format!("tags nest more than {MAX_NESTING} levels deep"),
                            span,
                        );
                    }
                    nodes.push(self.tag(&name, &mut parser, span)?);
                }
            }
        }
        Ok((nodes, None))
    }

    fn tag(&mut self, name: &Ident, parser: &mut Parser, span: Span) -> Result<Node> {
        match name.name.as_str() {
            "if" => {
                let mut branches = Vec::new();
                let mut condition = parser.expression()?;
                parser.expect_end()?;
                loop {
                    let (body, end) = self.block(&["elseif", "elif", "else", "endif"])?;
                    branches.push((condition, body));
                    match end {
                        Some((tag, _)) if tag == "elseif" || tag == "elif" => {
                            let mut p = self.take_pending();
                            condition = p.expression()?;
                            p.expect_end()?;
                        }
                        Some((tag, _)) if tag == "else" => {
                            self.take_pending().expect_end()?;
                            let (otherwise, end) = self.block(&["endif"])?;
                            self.close(end, "if", "endif", span)?;
                            return Ok(Node::If {
                                branches,
                                otherwise: Some(otherwise),
                            });
                        }
                        end => {
                            self.close(end, "if", "endif", span)?;
                            return Ok(Node::If {
                                branches,
                                otherwise: None,
                            });
                        }
                    }
                }
            }
            "for" => {
                let item = parser.expect_ident("a loop variable after `for`")?;
                if parser.is_punct(",") {
                    return Err(SyntaxError {
                        message: "Pebble's `for` takes one loop variable".into(),
                        span: parser.here(),
                        help: Some(
                            "loop over the map and read `entry.key` and `entry.value`".into(),
                        ),
                    });
                }
                let key = None;
                if !parser.eat_word("in") {
                    return error(
                        format!("expected `in`, found {}", parser.describe_here()),
                        parser.here(),
                    );
                }
                let iterable = parser.expression()?;
                parser.expect_end()?;
                let (body, end) = self.block(&["else", "endfor"])?;
                let otherwise = if matches!(&end, Some((tag, _)) if tag == "else") {
                    self.take_pending().expect_end()?;
                    let (otherwise, end) = self.block(&["endfor"])?;
                    self.close(end, "for", "endfor", span)?;
                    Some(otherwise)
                } else {
                    self.close(end, "for", "endfor", span)?;
                    None
                };
                Ok(Node::For {
                    key,
                    item,
                    iterable,
                    body,
                    otherwise,
                })
            }
            "set" => {
                let target = parser.expect_ident("a variable name after `set`")?;
                if !parser.eat_punct_eq() {
                    return error(
                        format!("expected `=`, found {}", parser.describe_here()),
                        parser.here(),
                    );
                }
                let value = parser.expression()?;
                parser.expect_end()?;
                Ok(Node::Set {
                    name: target,
                    value,
                })
            }
            "filter" => {
                let mut filters = vec![parser.call("a filter name after `filter`")?];
                while parser.eat_punct("|") {
                    filters.push(parser.call("a filter name after `|`")?);
                }
                parser.expect_end()?;
                let (body, end) = self.block(&["endfilter"])?;
                self.close(end, "filter", "endfilter", span)?;
                Ok(Node::FilterBlock { filters, body })
            }
                        "macro" => {
                let macro_name = parser.expect_ident("a macro name after `macro`")?;
                parser.expect_punct("(")?;
                let mut params = Vec::new();
                if !parser.eat_punct(")") {
                    loop {
                        let param = parser.expect_ident("a parameter name")?;
                        let default = if parser.eat_punct("=") { Some(parser.expression()?) } else { None };
                        params.push((param, default));
                        if parser.eat_punct(")") {
                            break;
                        }
                        parser.expect_punct(",")?;
                    }
                }
                parser.expect_end()?;
                let (body, end) = self.block(&["endmacro"])?;
                self.close(end, "macro", "endmacro", span)?;
                Ok(Node::Macro {
                    name: macro_name,
                    params,
                    body,
                })
            }
            "block" => {
                let block_name = match parser.tokens.get(parser.pos).map(|t| t.tok.clone()) {
                    Some(Tok::Str { value, .. } | Tok::Ident(value)) => {
                        parser.pos += 1;
                        value
                    }
                    _ => return error(format!("expected a block name, found {}", parser.describe_here()), parser.here()),
                };
                parser.expect_end()?;
                let (body, end) = self.block(&["endblock"])?;
                self.close(end, "block", "endblock", span)?;
                Ok(Node::Block { name: block_name, body })
            }
            "elseif" | "elif" | "else" | "endif" | "endfor" | "endfilter" | "endmacro" | "endblock" => error(
                format!("`{{% {} %}}` without an opening tag", name.name),
                name.span,
            ),
            other => Err(SyntaxError {
                message: format!("unknown tag `{other}`"),
                span: name.span,
                help: Some("tags are `if`/`elseif`/`else`, `for`, `set`, `filter`, `macro`, `block`, `raw`, `verbatim`".into()),
            }),
        }
    }

    fn take_pending(&mut self) -> Parser {
        self.pending
            .take()
            .unwrap_or_else(|| Parser::new(std::rc::Rc::from(""), 0, Vec::new()))
    }

    fn close(&mut self, end: BlockEnd, open: &str, close: &str, open_span: Span) -> Result<()> {
        match end {
            Some((tag, _)) if tag == close => self.take_pending().expect_end(),
            _ => Err(SyntaxError {
                message: format!("`{{% {open} %}}` is never closed with `{{% {close} %}}`"),
                span: open_span,
                help: Some(format!("add `{{% {close} %}}` after the block")),
            }),
        }
    }
}

impl Parser {
    fn eat_punct_eq(&mut self) -> bool {
        // `=` is not an operator token; it only appears in `set` and named arguments.
        self.eat_punct("=")
    }
}
