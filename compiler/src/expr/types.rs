//! Static types of template values and the inference that finds misspelled names, unknown
//! filters, wrong arguments and operations a type cannot support.
//!
//! Unknown shapes are `Any` and never cause an error: a JSON body, an untyped plugin output,
//! a `{% set %}` of something dynamic. Errors come only from facts: a closed set of fields (a
//! plugin's outputs, the declared inputs), a task that is known not to have run, a filter the
//! library does not have.

use std::collections::HashMap;
use std::rc::Rc;

use kflow_runtime::expr as pebble;
use kflow_runtime::expr::ast::{
    Arg, BinaryOp, Call, Expr, ExprKind, Node, Span, Template, UnaryOp,
};
use kflow_runtime::expr::library::{self, Args, Kind, Signature};
use serde_json::Value;

use crate::diag::{Code, Severity};
use crate::suggest::did_you_mean;

#[derive(Debug, Clone)]
pub enum Ty {
    Any,
    Null,
    Bool,
    Int,
    Float,
    String,
    List(Box<Ty>),
    /// String keys to values of one type: labels, outputs of a task inside a loop.
    Map(Box<Ty>),
    /// Known fields: a task's outputs, the inputs, `flow`, `taskrun`.
    Object(Rc<Object>),
}

/// A record with a closed set of fields; `name` says what it is in messages.
#[derive(Debug)]
pub struct Object {
    pub name: String,
    /// What a field is called in messages: "task", "output", "input", "field".
    pub noun: &'static str,
    pub fields: Vec<Field>,
    /// Help for a field it does not have, when listing its fields is not the best help.
    pub missing_help: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    pub status: Status,
}

/// Whether a field can be read at this position of the flow.
#[derive(Debug, Clone)]
pub enum Status {
    Available,
    /// It may be missing (the task ran only in some branch); a warning unless guarded.
    Maybe(String),
    /// It is certainly missing here (the task runs later, in parallel, in another branch).
    Never {
        reason: String,
        help: Option<String>,
    },
}

impl Ty {
    pub fn object(name: impl Into<String>, noun: &'static str, fields: Vec<Field>) -> Ty {
        Ty::Object(Rc::new(Object {
            name: name.into(),
            noun,
            fields,
            missing_help: None,
        }))
    }

    fn describe(&self) -> String {
        match self {
            Ty::Any => "a value".into(),
            Ty::Null => "null".into(),
            Ty::Bool => "a boolean".into(),
            Ty::Int => "an integer".into(),
            Ty::Float => "a number".into(),
            Ty::String => "a string".into(),
            Ty::List(_) => "a list".into(),
            Ty::Map(_) => "a map".into(),
            Ty::Object(o) => o.name.clone(),
        }
    }

    fn is_scalar(&self) -> bool {
        matches!(self, Ty::Bool | Ty::Int | Ty::Float | Ty::String)
    }

    /// Whether a value of this type can be passed where `kind` is expected.
    fn fits(&self, kind: Kind) -> bool {
        match (self, kind) {
            (Ty::Any | Ty::Null, _) | (_, Kind::Any | Kind::Input) => true,
            // Pebble's text filters print scalars first; a date may be a string or epoch number.
            (t, Kind::String) => t.is_scalar(),
            (Ty::String | Ty::Int | Ty::Float, Kind::Date) => true,
            (Ty::Int | Ty::Float, Kind::Number) | (Ty::Int, Kind::Integer) => true,
            // Numbers often arrive as text (a STRING input, a JSON body); Kestra converts them.
            (Ty::String, Kind::Number | Kind::Integer) => true,
            (Ty::Bool, Kind::Boolean) => true,
            (Ty::List(_), Kind::List) => true,
            (Ty::Map(_) | Ty::Object(_), Kind::Map) => true,
            _ => false,
        }
    }

    fn from_kind(kind: Kind, input: &Ty) -> Ty {
        match kind {
            Kind::String | Kind::Date => Ty::String,
            Kind::Integer => Ty::Int,
            Kind::Number => Ty::Float,
            Kind::Boolean => Ty::Bool,
            Kind::List => Ty::List(Box::new(Ty::Any)),
            Kind::Map => Ty::Map(Box::new(Ty::Any)),
            Kind::Input => input.clone(),
            Kind::Null => Ty::Null,
            Kind::Any => Ty::Any,
        }
    }

    pub fn of_value(value: &Value) -> Ty {
        match value {
            Value::Null => Ty::Null,
            Value::Bool(_) => Ty::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => Ty::Int,
            Value::Number(_) => Ty::Float,
            Value::String(_) => Ty::String,
            Value::Array(_) => Ty::List(Box::new(Ty::Any)),
            Value::Object(_) => Ty::Map(Box::new(Ty::Any)),
        }
    }

    /// The least specific of two types (branches of `??`, `? :`).
    fn join(a: Ty, b: &Ty) -> Ty {
        match (&a, b) {
            (Ty::Null, _) => b.clone(),
            (_, Ty::Null) => a,
            (Ty::Bool, Ty::Bool) | (Ty::Int, Ty::Int) | (Ty::String, Ty::String) => a,
            (Ty::Int | Ty::Float, Ty::Int | Ty::Float) => Ty::Float,
            _ => Ty::Any,
        }
    }
}

/// One finding inside a template; spans are byte offsets in the template text.
#[derive(Debug, Clone)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

/// Methods Pebble calls on Java values through attribute syntax (`name.length`, `list.size`).
const JAVA_STRING_MEMBERS: &[&str] = &[
    "length",
    "empty",
    "blank",
    "bytes",
    "class",
    "toString",
    "toUpperCase",
    "toLowerCase",
    "trim",
    "strip",
    "isEmpty",
    "isBlank",
    "hashCode",
    "lines",
    "chars",
];
const JAVA_COLLECTION_MEMBERS: &[&str] = &[
    "size", "empty", "isEmpty", "class", "toString", "hashCode", "keySet", "values", "entrySet",
    "keys", "stream",
];

/// Common mix-ups of top-level names, with what Kestra calls them.
const ROOT_HINTS: &[(&str, &str)] = &[
    ("namespace", "flow.namespace"),
    ("flowId", "flow.id"),
    ("executionId", "execution.id"),
    ("input", "inputs"),
    ("output", "outputs"),
    ("var", "vars"),
    ("variables", "vars"),
    ("secrets", "secret('NAME')"),
    ("env", "envs"),
    ("label", "labels"),
];

/// Jinja filters people reach for, and what Pebble/Kestra offers instead.
const FILTER_HINTS: &[(&str, &str)] = &[
    (
        "list",
        "there is no `list` filter; `range()` and `[…]` already give lists",
    ),
    (
        "map",
        "Pebble has no `map` filter; use `jq('.[].field')` to pick a field from each item",
    ),
    ("tojson", "the filter is `toJson`"),
    ("to_json", "the filter is `toJson`"),
    ("fromjson", "`fromJson` is a function: `fromJson(text)`"),
    (
        "int",
        "use `number` to parse a number, e.g. `value | number('INT')`",
    ),
    (
        "string",
        "values print as text already; use `~` to concatenate",
    ),
    ("dateFormat", "use `date('yyyy-MM-dd')` to format a date"),
    ("selectattr", "use `jq('map(select(…))')`"),
    (
        "tostring",
        "values print as text already; use `~` to concatenate",
    ),
];

/// Argument mix-ups with a better fix than the signature.
const ARGUMENT_HINTS: &[(&str, &str)] = &[(
    "replace",
    "Kestra's `replace` takes a map of replacements: `value | replace({'old': 'new'})`",
)];

/// Type inference over one template with a root context.
pub struct Checker<'a> {
    root: &'a Ty,
    scopes: Vec<HashMap<String, Ty>>,
    pub findings: Vec<Finding>,
    /// The template's own macros, callable like functions.
    macros: Vec<String>,
    /// Inside a macro body, which sees only its parameters.
    isolated: bool,
}

impl<'a> Checker<'a> {
    pub fn new(root: &'a Ty) -> Self {
        Checker {
            root,
            scopes: Vec::new(),
            findings: Vec::new(),
            macros: Vec::new(),
            isolated: false,
        }
    }

    fn report(&mut self, code: Code, span: Span, message: String, help: Option<String>) {
        self.findings.push(Finding {
            code,
            severity: Severity::Error,
            span,
            message,
            help,
        });
    }

    fn warn(&mut self, code: Code, span: Span, message: String, help: Option<String>) {
        self.findings.push(Finding {
            code,
            severity: Severity::Warning,
            span,
            message,
            help,
        });
    }

    /// A name that does not exist. Behind `??`, `is defined` or `default` it is a warning: the
    /// template works (it always takes the fallback), which is rarely what was meant.
    fn unknown(&mut self, guarded: bool, code: Code, span: Span, message: String, help: String) {
        if guarded {
            self.warn(
                code,
                span,
                format!("{message}, so the fallback is always used"),
                Some(help),
            );
        } else {
            self.report(code, span, message, Some(help));
        }
    }

    /// `taskrun.<task id>`: `taskrun` is this task's own run; other tasks' states are `tasks.*`.
    fn taskrun_hint(&self, base: &Expr, name: &str) -> Option<String> {
        let ExprKind::Var(var) = &base.kind else {
            return None;
        };
        if var != "taskrun" || self.local("taskrun").is_some() {
            return None;
        }
        let Ty::Object(root) = self.root else {
            return None;
        };
        let tasks = root.fields.iter().find(|f| f.name == "tasks")?;
        let Ty::Object(tasks) = &tasks.ty else {
            return None;
        };
        tasks.fields.iter().any(|f| f.name == name).then(|| {
            format!("`taskrun` is this task's own run; the state of task `{name}` is `tasks.{name}.state`")
        })
    }

    pub fn template(&mut self, template: &Template) {
        self.macros = template
            .nodes
            .iter()
            .filter_map(|n| match n {
                Node::Macro { name, .. } => Some(name.name.clone()),
                _ => None,
            })
            .collect();
        self.scopes.push(HashMap::new());
        self.nodes(&template.nodes);
        self.scopes.pop();
    }

    fn nodes(&mut self, nodes: &[Node]) {
        pebble::deep(|| self.nodes_at(nodes));
    }

    fn nodes_at(&mut self, nodes: &[Node]) {
        for node in nodes {
            match node {
                Node::Text(_) => {}
                Node::Print(expr) => {
                    self.infer(expr, false);
                }
                Node::If {
                    branches,
                    otherwise,
                } => {
                    for (condition, body) in branches {
                        self.infer(condition, false);
                        self.nodes(body);
                    }
                    if let Some(body) = otherwise {
                        self.nodes(body);
                    }
                }
                Node::For {
                    key,
                    item,
                    iterable,
                    body,
                    otherwise,
                } => {
                    let collection = self.infer(iterable, false);
                    let (key_ty, item_ty) = match &collection {
                        Ty::List(t) => (Ty::Int, (**t).clone()),
                        Ty::Map(t) if key.is_some() => (Ty::String, (**t).clone()),
                        Ty::Map(t) => (
                            Ty::String,
                            Ty::object(
                                "a map entry",
                                "field",
                                vec![
                                    available("key", Ty::String),
                                    available("value", (**t).clone()),
                                ],
                            ),
                        ),
                        t if t.is_scalar() => {
                            self.report(
                                Code::TypeMismatch,
                                iterable.span,
                                format!("cannot loop over {}", t.describe()),
                                None,
                            );
                            (Ty::Any, Ty::Any)
                        }
                        _ => (Ty::Any, Ty::Any),
                    };
                    let mut scope = HashMap::new();
                    if let Some(key) = key {
                        scope.insert(key.name.clone(), key_ty);
                    }
                    scope.insert(item.name.clone(), item_ty);
                    scope.insert("loop".into(), loop_type());
                    self.scopes.push(scope);
                    self.nodes(body);
                    self.scopes.pop();
                    if let Some(body) = otherwise {
                        self.nodes(body);
                    }
                }
                Node::Set { name, value } => {
                    let ty = self.infer(value, false);
                    if let Some(scope) = self.scopes.last_mut() {
                        scope.insert(name.name.clone(), ty);
                    }
                }
                Node::Macro { params, body, .. } => {
                    // A macro sees only its parameters.
                    let scope = params
                        .iter()
                        .map(|(p, _)| (p.name.clone(), Ty::Any))
                        .collect();
                    let saved = std::mem::replace(&mut self.scopes, vec![scope]);
                    let root = std::mem::replace(&mut self.isolated, true);
                    self.nodes(body);
                    self.scopes = saved;
                    self.isolated = root;
                }
                Node::Block { body, .. } => self.nodes(body),
                Node::FilterBlock { filters, body } => {
                    self.nodes(body);
                    let mut ty = Ty::String;
                    for call in filters {
                        ty = self.filter(ty, call);
                    }
                }
            }
        }
    }

    fn local(&self, name: &str) -> Option<&Ty> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    /// `guarded`: the expression sits where a missing value is expected and handled (left of
    /// `??`, `is defined`, `| default`), so availability problems are not reported there.
    fn infer(&mut self, expr: &Expr, guarded: bool) -> Ty {
        pebble::deep(|| self.infer_at(expr, guarded))
    }

    fn infer_at(&mut self, expr: &Expr, guarded: bool) -> Ty {
        match &expr.kind {
            ExprKind::Literal(value) => Ty::of_value(value),
            ExprKind::Var(name) => {
                if let Some(ty) = self.local(name) {
                    return ty.clone();
                }
                if self.isolated {
                    self.report(
                        Code::UnknownVariable,
                        expr.span,
                        format!("unknown variable `{name}` in a macro"),
                        Some(
                            "a macro sees only its parameters; pass the value as an argument"
                                .into(),
                        ),
                    );
                    return Ty::Any;
                }
                let root = self.root;
                let Ty::Object(object) = root else {
                    return Ty::Any;
                };
                if let Some(found) = object.fields.iter().find(|f| f.name == *name) {
                    return self.field(found, expr.span, guarded, None);
                }
                let locals: Vec<String> =
                    self.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
                let candidates = object
                    .fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .chain(locals.iter().map(String::as_str));
                let help = ROOT_HINTS
                    .iter()
                    .find(|(wrong, _)| wrong == name)
                    .map(|(_, right)| format!("did you mean `{right}`?"))
                    .or_else(|| {
                        did_you_mean(name, candidates).map(|s| format!("did you mean `{s}`?"))
                    });
                let known: Vec<&str> = object
                    .fields
                    .iter()
                    .filter(|f| !matches!(f.status, Status::Never { .. }))
                    .map(|f| f.name.as_str())
                    .collect();
                let help =
                    help.unwrap_or_else(|| format!("the variables here are {}", known.join(", ")));
                self.unknown(
                    guarded,
                    Code::UnknownVariable,
                    expr.span,
                    format!("unknown variable `{name}`"),
                    help,
                );
                Ty::Any
            }
            ExprKind::Attr(base, name) => {
                let base_ty = self.infer(base, guarded);
                self.attribute(&base_ty, &name.name, name.span, base, guarded)
            }
            ExprKind::Index(base, index) => {
                let base_ty = self.infer(base, guarded);
                if let ExprKind::Literal(Value::String(key)) = &index.kind {
                    return self.attribute(&base_ty, key, index.span, base, guarded);
                }
                let index_ty = self.infer(index, false);
                match base_ty {
                    Ty::List(t) => *t,
                    Ty::Map(t) => *t,
                    Ty::String => Ty::Any,
                    t @ (Ty::Int | Ty::Float | Ty::Bool) => {
                        self.report(
                            Code::TypeMismatch,
                            index.span,
                            format!("cannot index {}", describe_expr(base, &t)),
                            None,
                        );
                        Ty::Any
                    }
                    _ => {
                        let _ = index_ty;
                        Ty::Any
                    }
                }
            }
            ExprKind::List(items) => {
                let mut element: Option<Ty> = None;
                for item in items {
                    let ty = self.infer(item, false);
                    element = Some(match element {
                        None => ty,
                        Some(prev) => Ty::join(prev, &ty),
                    });
                }
                Ty::List(Box::new(element.unwrap_or(Ty::Any)))
            }
            ExprKind::Map(entries) => {
                for (k, v) in entries {
                    self.infer(k, false);
                    self.infer(v, false);
                }
                Ty::Map(Box::new(Ty::Any))
            }
            ExprKind::Unary(op, operand) => {
                let ty = self.infer(operand, false);
                match op {
                    UnaryOp::Not => Ty::Bool,
                    UnaryOp::Neg | UnaryOp::Plus => {
                        if matches!(ty, Ty::List(_) | Ty::Map(_) | Ty::Object(_) | Ty::Bool) {
                            self.report(
                                Code::TypeMismatch,
                                operand.span,
                                format!("cannot negate {}", describe_expr(operand, &ty)),
                                None,
                            );
                        }
                        ty
                    }
                }
            }
            ExprKind::Binary(op, left, right) => self.binary(*op, left, right, guarded),
            ExprKind::Ternary(condition, then, otherwise) => {
                self.infer(condition, false);
                let a = self.infer(then, guarded);
                let b = self.infer(otherwise, guarded);
                Ty::join(a, &b)
            }
            ExprKind::Filter(input, call) => {
                let input_ty = self.infer(input, guarded || call.name.name == "default");
                self.filter(input_ty, call)
            }
            ExprKind::Test { input, call, .. } => {
                let lenient = matches!(call.name.name.as_str(), "defined" | "null" | "empty");
                let input_ty = self.infer(input, guarded || lenient);
                match library::test(&call.name.name) {
                    Some(def) => {
                        self.arguments(def.signature, call, "test");
                        if let Some(kind) = def.signature.input.first() {
                            if !def.signature.input.iter().any(|k| input_ty.fits(*k)) {
                                self.report(
                                    Code::TypeMismatch,
                                    call.name.span,
                                    format!(
                                        "`is {}` needs {}, but {} is {}",
                                        call.name.name,
                                        kind.name(),
                                        expr_text(input),
                                        input_ty.describe()
                                    ),
                                    None,
                                );
                            }
                        }
                    }
                    None => self.unknown_name(call, "test", &library::test_names()),
                }
                Ty::Bool
            }
            ExprKind::Function(call) => self.function(call),
            // Java methods (`text.split(',')`): the evaluator knows the common ones; untyped here.
            ExprKind::Method(target, call) => {
                self.infer(target, guarded);
                self.arg_types(&call.args);
                Ty::Any
            }
            ExprKind::Interpolated(parts) => {
                for part in parts {
                    self.infer(part, false);
                }
                Ty::String
            }
        }
    }

    /// Reading a root variable or an object field: reports what is unavailable here.
    fn field(&mut self, found: &Field, span: Span, guarded: bool, owner: Option<&str>) -> Ty {
        let what = match owner {
            Some(owner) => format!("{owner}.{}", found.name),
            None => found.name.clone(),
        };
        match &found.status {
            Status::Available => {}
            Status::Maybe(reason) if !guarded => self.warn(
                Code::MaybeUnavailable,
                span,
                format!("`{what}` may not exist here: {reason}"),
                Some(format!(
                    "give a fallback for when it is missing: `{what} ?? …`"
                )),
            ),
            Status::Never { reason, help } if !guarded => {
                self.report(
                    Code::Unavailable,
                    span,
                    format!("`{what}` is not available here: {reason}"),
                    help.clone(),
                );
            }
            _ => {}
        }
        found.ty.clone()
    }

    fn attribute(
        &mut self,
        base: &Ty,
        name: &str,
        span: Span,
        base_expr: &Expr,
        guarded: bool,
    ) -> Ty {
        match base {
            Ty::Any | Ty::Null => Ty::Any,
            Ty::Map(t) => {
                // `outputs.task.value` for a task inside a loop: its outputs are per loop value.
                if let Ty::Object(outputs) = &**t {
                    if outputs.noun == "output"
                        && outputs.fields.iter().any(|f| f.name == name)
                        && !guarded
                    {
                        let path = path_text(base_expr).unwrap_or_else(|| "…".into());
                        self.report(
                            Code::TypeMismatch,
                            span,
                            format!("`{path}` holds one set of outputs per loop value (the task runs inside a loop), not `{name}` itself"),
                                                        Some(format!("read `{path}[taskrun.value].{name}` inside the loop, or `currentEachOutput({path}).{name}`")),
                        );
                        // Read on as if the loop value had been given.
                        return outputs
                            .fields
                            .iter()
                            .find(|f| f.name == name)
                            .map_or(Ty::Any, |f| f.ty.clone());
                    }
                }
                (**t).clone()
            }
            Ty::Object(object) => {
                if let Some(found) = object.fields.iter().find(|f| f.name == name) {
                    let owner = path_text(base_expr).unwrap_or_else(|| "…".into());
                    return self.field(found, span, guarded, Some(&owner));
                }
                if JAVA_COLLECTION_MEMBERS.contains(&name) {
                    return Ty::Any;
                }
                let mut names: Vec<&str> = Vec::new();
                for f in &object.fields {
                    if !names.contains(&f.name.as_str()) {
                        names.push(&f.name);
                    }
                }
                // Name the fields by their full path, ready to paste: `outputs.fetch.uri`.
                let prefix = base_expr
                    .path()
                    .map(|p| p.iter().map(|(s, _)| *s).collect::<Vec<_>>().join("."))
                    .filter(|_| names.len() <= 12);
                let full = |n: &str| match &prefix {
                    Some(prefix) => format!("`{prefix}.{n}`"),
                    None => format!("`{n}`"),
                };
                let suggestion = did_you_mean(name, names.iter().copied());
                let listing = if names.is_empty() {
                    format!("it has no {}s", object.noun)
                } else {
                    format!(
                        "it has {}",
                        names.iter().map(|n| full(n)).collect::<Vec<_>>().join(", ")
                    )
                };
                let hint = self
                    .taskrun_hint(base_expr, name)
                    .or_else(|| object.missing_help.clone());
                let help = match (suggestion, hint) {
                    (_, Some(hint)) => hint,
                    (Some(s), None) => format!("did you mean {}? ({listing})", full(s)),
                    (None, None) => listing,
                };
                self.unknown(
                    guarded,
                    Code::UnknownAttribute,
                    span,
                    format!("{} has no {} `{name}`", object.name, object.noun),
                    help,
                );
                Ty::Any
            }
            Ty::List(t) => {
                if name.parse::<usize>().is_ok() {
                    (**t).clone()
                } else if JAVA_COLLECTION_MEMBERS.contains(&name) {
                    Ty::Any
                } else {
                    self.report(
                        Code::TypeMismatch,
                        span,
                        format!(
                            "{} is a list; it has no attribute `{name}`",
                            expr_text(base_expr)
                        ),
                        Some(
                            "index a list with a number (`list[0]`) or map over it with `jq`"
                                .into(),
                        ),
                    );
                    Ty::Any
                }
            }
            t @ (Ty::String | Ty::Int | Ty::Float | Ty::Bool) => {
                if matches!(t, Ty::String) && JAVA_STRING_MEMBERS.contains(&name) {
                    return Ty::Any;
                }
                let help = matches!(t, Ty::String)
                    .then(|| "if it holds JSON text, parse it first: `fromJson(…)`".to_string());
                self.report(
                    Code::TypeMismatch,
                    span,
                    format!(
                        "{} is {}; it has no attribute `{name}`",
                        expr_text(base_expr),
                        t.describe()
                    ),
                    help,
                );
                Ty::Any
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, left: &Expr, right: &Expr, guarded: bool) -> Ty {
        match op {
            BinaryOp::NullCoalesce | BinaryOp::UndefinedCoalesce => {
                let l = self.infer(left, true);
                let r = self.infer(right, guarded);
                return Ty::join(l, &r);
            }
            BinaryOp::And | BinaryOp::Or => {
                self.infer(left, false);
                self.infer(right, false);
                return Ty::Bool;
            }
            _ => {}
        }
        let l = self.infer(left, false);
        let r = self.infer(right, false);
        match op {
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Gt
            | BinaryOp::Le
            | BinaryOp::Ge => Ty::Bool,
            BinaryOp::Contains => {
                if matches!(l, Ty::Int | Ty::Float | Ty::Bool) {
                    self.report(
                        Code::TypeMismatch,
                        left.span,
                        format!(
                            "`contains` needs a string, list or map, but {} is {}",
                            expr_text(left),
                            l.describe()
                        ),
                        None,
                    );
                }
                Ty::Bool
            }
            BinaryOp::Concat => Ty::String,
            BinaryOp::Range => Ty::List(Box::new(Ty::Int)),
            BinaryOp::Add if matches!(l, Ty::String) || matches!(r, Ty::String) => Ty::String,
            BinaryOp::Add if matches!(l, Ty::List(_)) => l,
            _ => {
                for (side, ty) in [(left, &l), (right, &r)] {
                    if matches!(ty, Ty::List(_) | Ty::Map(_) | Ty::Object(_) | Ty::Bool)
                        || (matches!(ty, Ty::String) && op != BinaryOp::Add)
                    {
                        self.report(
                            Code::TypeMismatch,
                            side.span,
                            format!(
                                "`{}` needs numbers, but {} is {}",
                                op.symbol(),
                                expr_text(side),
                                ty.describe()
                            ),
                            matches!(ty, Ty::String)
                                .then(|| "convert it first: `value | number`".to_string()),
                        );
                    }
                }
                match (&l, &r) {
                    (Ty::Int, Ty::Int) => Ty::Int,
                    (Ty::Int | Ty::Float, Ty::Int | Ty::Float) => Ty::Float,
                    _ => Ty::Any,
                }
            }
        }
    }

    fn filter(&mut self, input: Ty, call: &Call) -> Ty {
        let Some(def) = library::filter(&call.name.name) else {
            self.arg_types(&call.args);
            self.unknown_name(call, "filter", &library::filter_names());
            return Ty::Any;
        };
        self.arguments(def.signature, call, "filter");
        if !def.signature.input.iter().any(|k| input.fits(*k)) {
            let wanted: Vec<&str> = def.signature.input.iter().map(|k| k.name()).collect();
            self.report(
                Code::TypeMismatch,
                call.name.span,
                format!(
                    "filter `{}` needs {}, not {}",
                    call.name.name,
                    wanted.join(" or "),
                    input.describe()
                ),
                None,
            );
            return Ty::Any;
        }
        match call.name.name.as_str() {
            "first" | "last" => match input {
                Ty::List(t) => *t,
                Ty::String => Ty::String,
                _ => Ty::Any,
            },
            _ => Ty::from_kind(def.signature.returns, &input),
        }
    }

    fn function(&mut self, call: &Call) -> Ty {
        let name = call.name.name.as_str();
        if library::function(name).is_none()
            && (self.macros.iter().any(|m| m == name) || name == "block")
        {
            self.arg_types(&call.args);
            return Ty::String;
        }
        let Some(def) = library::function(&call.name.name) else {
            self.arg_types(&call.args);
            self.unknown_name(call, "function", &library::function_names());
            return Ty::Any;
        };
        let types = self.arguments(def.signature, call, "function");
        match call.name.name.as_str() {
            // The outputs of the current iteration: one map level less than what was given.
            "currentEachOutput" => match types.into_iter().next() {
                Some(Ty::Map(t)) => *t,
                _ => Ty::Any,
            },
            _ => Ty::from_kind(def.signature.returns, &Ty::Any),
        }
    }

    fn arg_types(&mut self, args: &[Arg]) -> Vec<Ty> {
        args.iter().map(|a| self.infer(&a.value, false)).collect()
    }

    /// Checks the arguments against the signature: count, names, and literal types.
    fn arguments(&mut self, signature: Signature, call: &Call, what: &str) -> Vec<Ty> {
        let types = self.arg_types(&call.args);
        let given: Vec<(Option<String>, Value)> = call
            .args
            .iter()
            .map(|a| (a.name.as_ref().map(|n| n.name.clone()), Value::Null))
            .collect();
        if let Err(message) = Args::bind(signature, given) {
            // Point at the named argument nobody takes, the first extra one, or the whole call.
            let unknown_name = call.args.iter().find_map(|a| {
                a.name
                    .as_ref()
                    .filter(|n| signature.params.iter().all(|p| p.name != n.name))
                    .map(|n| n.span)
            });
            let extra = call
                .args
                .iter()
                .filter(|a| a.name.is_none())
                .nth(signature.params.len())
                .map(|a| a.value.span);
            let span = if message.starts_with("missing") {
                call.span
            } else {
                unknown_name.or(extra).unwrap_or(call.span)
            };
            self.report(
                Code::WrongArguments,
                span,
                format!("{what} `{}`: {message}", call.name.name),
                Some(signature_help(signature, what)),
            );
            return types;
        }
        // Literal arguments of the wrong shape (`slice("a")`); one finding per call is enough.
        let mut position = 0;
        for (arg, ty) in call.args.iter().zip(&types) {
            let param = if let Some(name) = &arg.name {
                signature.params.iter().find(|p| p.name == name.name)
            } else {
                position += 1;
                signature.params.get(position - 1)
            };
            if let Some(param) = param {
                let literal = matches!(
                    arg.value.kind,
                    ExprKind::Literal(_) | ExprKind::List(_) | ExprKind::Map(_)
                );
                if literal && !ty.fits(param.kind) {
                    let help = ARGUMENT_HINTS
                        .iter()
                        .find(|(name, _)| *name == call.name.name)
                        .map_or_else(
                            || signature_help(signature, what),
                            |(_, hint)| (*hint).to_string(),
                        );
                    self.report(
                        Code::WrongArguments,
                        arg.value.span,
                        format!(
                            "argument `{}` of {what} `{}` must be {}, not {}",
                            param.name,
                            call.name.name,
                            param.kind.name(),
                            ty.describe()
                        ),
                        Some(help),
                    );
                    break;
                }
            }
        }
        types
    }

    fn unknown_name(&mut self, call: &Call, what: &str, names: &[&'static str]) {
        let name = call.name.name.as_str();
        let help = FILTER_HINTS
            .iter()
            .find(|(wrong, _)| *wrong == name && what == "filter")
            .map(|(_, hint)| (*hint).to_string())
            .or_else(|| {
                // A function used as a filter, or the other way round.
                match what {
                    "filter" if library::function(name).is_some() => {
                        Some(format!("`{name}` is a function: `{name}(…)`"))
                    }
                    "function" if library::filter(name).is_some() => {
                        Some(format!("`{name}` is a filter: `value | {name}`"))
                    }
                    _ => None,
                }
            })
            .or_else(|| {
                did_you_mean(name, names.iter().copied()).map(|s| format!("did you mean `{s}`?"))
            });
        self.report(
            Code::UnknownFilter,
            call.name.span,
            format!("unknown {what} `{name}`"),
            help,
        );
    }
}

/// A field readable everywhere it is in scope.
pub fn available(name: &str, ty: Ty) -> Field {
    Field {
        name: name.into(),
        ty,
        status: Status::Available,
    }
}

fn loop_type() -> Ty {
    Ty::object(
        "`loop`",
        "field",
        vec![
            available("index", Ty::Int),
            available("length", Ty::Int),
            available("first", Ty::Bool),
            available("last", Ty::Bool),
            available("revindex", Ty::Int),
        ],
    )
}

fn signature_help(signature: Signature, what: &str) -> String {
    let params: Vec<String> = signature
        .params
        .iter()
        .map(|p| {
            if p.required {
                p.name.to_string()
            } else {
                format!("{}?", p.name)
            }
        })
        .collect();
    match what {
        "function" => format!("usage: {}({})", signature.name, params.join(", ")),
        "test" => format!("usage: value is {}({})", signature.name, params.join(", ")),
        _ if params.is_empty() => format!("usage: value | {}", signature.name),
        _ => format!("usage: value | {}({})", signature.name, params.join(", ")),
    }
}

/// `outputs.task.value` for a path expression.
fn path_text(expr: &Expr) -> Option<String> {
    expr.path()
        .map(|path| path.iter().map(|(s, _)| *s).collect::<Vec<_>>().join("."))
}

/// `` `outputs.task.value` `` for a path expression, else "the value".
pub fn expr_text(expr: &Expr) -> String {
    path_text(expr).map_or_else(|| "the value".into(), |p| format!("`{p}`"))
}

fn describe_expr(expr: &Expr, ty: &Ty) -> String {
    format!("{} ({})", expr_text(expr), ty.describe())
}
