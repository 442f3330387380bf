//! The syntax tree of one Pebble template. Every node keeps the byte span it came from in the
//! template text, so the compiler can point at the exact identifier inside a YAML string.

use serde_json::Value;

/// A half-open byte range in the template text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            end: end.max(start),
        }
    }

    #[must_use]
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A parsed template: text and tags in document order.
#[derive(Debug, Clone, Default)]
pub struct Template {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
pub enum Node {
    /// Literal text, already trimmed by whitespace control (`{{-`, `-}}`).
    Text(String),
    /// `{{ expr }}`
    Print(Expr),
    /// `{% if %}…{% elseif %}…{% else %}…{% endif %}`
    If {
        branches: Vec<(Expr, Vec<Node>)>,
        otherwise: Option<Vec<Node>>,
    },
    /// `{% for [key,] item in iterable %}…{% else %}…{% endfor %}`
    For {
        key: Option<Ident>,
        item: Ident,
        iterable: Expr,
        body: Vec<Node>,
        otherwise: Option<Vec<Node>>,
    },
    /// `{% set name = expr %}`
    Set { name: Ident, value: Expr },
    /// `{% filter name(args) %}…{% endfilter %}`: the body's output goes through the filters.
    FilterBlock { filters: Vec<Call>, body: Vec<Node> },
    /// `{% macro name(param, other='default') %}…{% endmacro %}`, called like a function.
    Macro {
        name: Ident,
        params: Vec<(Ident, Option<Expr>)>,
        body: Vec<Node>,
    },
    /// `{% block name %}…{% endblock %}`: rendered in place, and again by `block('name')`.
    Block { name: String, body: Vec<Node> },
}

#[derive(Debug, Clone)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Literal(Value),
    /// A top-level variable: `inputs`, `outputs`, `taskrun`, a `{% set %}` name, a loop variable.
    Var(String),
    /// `base.name`
    Attr(Box<Expr>, Ident),
    /// `base[index]`
    Index(Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `cond ? then : otherwise`
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `input | name(args)`
    Filter(Box<Expr>, Call),
    /// `input is [not] name(args)`
    Test {
        input: Box<Expr>,
        negated: bool,
        call: Call,
    },
    /// `name(args)`
    Function(Call),
    /// `base.method(args)`: a Java method Pebble calls on the value (`text.split(',')`).
    Method(Box<Expr>, Call),
    /// A double-quoted string with `#{ … }` interpolations.
    Interpolated(Vec<Expr>),
}

/// A filter, test or function call with its arguments.
#[derive(Debug, Clone)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Arg>,
    /// Span of the whole call including its argument list.
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Arg {
    /// `name=value` arguments carry their name.
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
    Plus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Contains,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Concat,
    Range,
    /// `??`: the right side when the left is undefined or null.
    NullCoalesce,
    /// `???`: the right side only when the left is undefined.
    UndefinedCoalesce,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Gt => ">",
            BinaryOp::Le => "<=",
            BinaryOp::Ge => ">=",
            BinaryOp::Contains => "contains",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Concat => "~",
            BinaryOp::Range => "..",
            BinaryOp::NullCoalesce => "??",
            BinaryOp::UndefinedCoalesce => "???",
        }
    }
}

impl Expr {
    /// The dotted path of a plain variable reference (`outputs.task.value` →
    /// `["outputs", "task", "value"]`), with the span of each segment; `None` when the expression
    /// is anything else (an index with a computed key stops the path).
    pub fn path(&self) -> Option<Vec<(&str, Span)>> {
        match &self.kind {
            ExprKind::Var(name) => Some(vec![(name.as_str(), self.span)]),
            ExprKind::Attr(base, name) => {
                let mut path = base.path()?;
                path.push((name.name.as_str(), name.span));
                Some(path)
            }
            ExprKind::Index(base, index) => match &index.kind {
                ExprKind::Literal(Value::String(key)) => {
                    let mut path = base.path()?;
                    path.push((key.as_str(), index.span));
                    Some(path)
                }
                _ => None,
            },
            _ => None,
        }
    }
}
