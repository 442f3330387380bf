//! Rendering a parsed template with Kestra's semantics: undefined variables are errors, `??`
//! and `???` recover from them, maps and lists print as JSON, numbers follow Java's `long`
//! and `double` arithmetic, `loop.index` starts at 0.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::ast::{Arg, BinaryOp, Call, Expr, ExprKind, Node, Span, Template, UnaryOp};
use super::library::{self, Args};
use super::value::{self, display};

/// Why rendering failed, and where in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    pub message: String,
    pub span: Span,
    /// True when the error is a missing variable or attribute: what `??` and `???` recover from.
    pub undefined: bool,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

pub type Result<T> = std::result::Result<T, EvalError>;

pub(crate) fn fail<T>(message: impl Into<String>, span: Span) -> Result<T> {
    Err(EvalError {
        message: message.into(),
        span,
        undefined: false,
    })
}

fn undefined<T>(message: impl Into<String>, span: Span) -> Result<T> {
    Err(EvalError {
        message: message.into(),
        span,
        undefined: true,
    })
}

/// What the evaluator needs from the world: secrets, the KV store, files, the clock.
/// The generated binaries implement it over their state; `kflowc eval` over the environment.
pub trait Host {
    fn secret(&self, key: &str) -> std::result::Result<String, String>;
    fn kv(&self, namespace: Option<&str>, key: &str) -> std::result::Result<Option<Value>, String>;
    fn read(&self, path: &str) -> std::result::Result<String, String>;
    /// Current time as an RFC 3339 instant.
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
    /// Size in bytes of a file (`fileSize()`, `isFileEmpty()`).
    fn file_size(&self, path: &str) -> std::result::Result<u64, String> {
        Err(format!("file `{path}`: files are not available here"))
    }
    /// Whether a file exists (`fileExists()`).
    fn file_exists(&self, path: &str) -> std::result::Result<bool, String> {
        Err(format!("file `{path}`: files are not available here"))
    }
    /// The execution's ERROR logs as a list of log entries (`errorLogs()`).
    fn error_logs(&self) -> std::result::Result<Value, String> {
        Err("the execution's logs are not available here".into())
    }
    /// The namespace files bundled into the binary (path, contents): none but a flow's.
    fn bundled_files(&self) -> &'static [(&'static str, &'static [u8])] {
        &[]
    }
}

/// A host with no secrets, no KV store and no files: every such call fails clearly.
pub struct NoHost;

impl Host for NoHost {
    fn secret(&self, key: &str) -> std::result::Result<String, String> {
        Err(format!("secret `{key}` is not available here"))
    }
    fn kv(&self, _: Option<&str>, key: &str) -> std::result::Result<Option<Value>, String> {
        Err(format!("the KV store (key `{key}`) is not available here"))
    }
    fn read(&self, path: &str) -> std::result::Result<String, String> {
        Err(format!("file `{path}` cannot be read here"))
    }
}

/// Render a template with `vars` as its top-level variables.
pub fn render(template: &Template, vars: &Map<String, Value>, host: &dyn Host) -> Result<String> {
    render_layered(template, vars, &EMPTY, host)
}

/// [`render`] with two layers of variables: `vars` first, then `shared` (values that stay the
/// same across many renders, such as an execution's inputs, kept once instead of copied into
/// every render's variables).
pub fn render_layered(
    template: &Template,
    vars: &Map<String, Value>,
    shared: &Map<String, Value>,
    host: &dyn Host,
) -> Result<String> {
    let mut evaluator = Evaluator::new(vars, host);
    evaluator.shared = shared;
    evaluator.define(&template.nodes);
    let mut out = String::new();
    evaluator.nodes(&template.nodes, &mut out)?;
    Ok(out)
}

/// Parse and render in one step; syntax errors come back as evaluation errors.
pub fn render_str(source: &str, vars: &Map<String, Value>, host: &dyn Host) -> Result<String> {
    let template = super::parse(source).map_err(|e| EvalError {
        message: e.message,
        span: e.span,
        undefined: false,
    })?;
    render(&template, vars, host)
}

/// Evaluate one expression to a value (what `runIf` and `If.condition` need before
/// stringification).
pub fn evaluate(expr: &Expr, vars: &Map<String, Value>, host: &dyn Host) -> Result<Value> {
    Evaluator::new(vars, host).expr(expr)
}

thread_local! {
    /// When renders on this thread must stop (a task's timeout), set by [`with_deadline`].
    static DEADLINE: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` (which renders) so that a render still going at `deadline` fails: a task's
/// `timeout` bounds the rendering of its properties too, not only its work after them.
pub fn with_deadline<R>(deadline: Option<std::time::Instant>, f: impl FnOnce() -> R) -> R {
    let previous = DEADLINE.with(|d| d.replace(deadline));
    let result = f();
    DEADLINE.with(|d| d.set(previous));
    result
}

fn past_deadline() -> bool {
    DEADLINE
        .with(std::cell::Cell::get)
        .is_some_and(|d| std::time::Instant::now() >= d)
}

/// Set (from a signal handler) when the process is told to stop: a render in progress ends at
/// its next check instead of finishing first, so a kill takes effect at once.
pub static INTERRUPTED: std::sync::LazyLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
    std::sync::LazyLock::new(Default::default);

fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Nested `render()` calls stop here, like Kestra's recursion limit.
const MAX_RENDER_DEPTH: usize = 32;

/// The work one render may do: evaluation steps (expressions, nodes, loop iterations), and the
/// size of what it builds (its output, and any string on the way). Far beyond any real
/// template; a runaway loop or a value doubled in a loop fails naming the limit, in about a
/// second, instead of taking the machine's memory or time.
pub const MAX_RENDER_STEPS: u64 = 2_000_000;
pub const MAX_RENDER_BYTES: usize = 16 * 1024 * 1024;

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

pub struct Evaluator<'a> {
    root: &'a Map<String, Value>,
    /// Top-level variables shared across renders, looked up after `root`.
    shared: &'a Map<String, Value>,
    /// `{% set %}` and loop variables, innermost last.
    scopes: Vec<Map<String, Value>>,
    pub(crate) host: &'a dyn Host,
    depth: usize,
    /// The template's `{% macro %}`s and `{% block %}`s, by name.
    macros: HashMap<String, Rc<Macro>>,
    blocks: HashMap<String, Rc<Vec<Node>>>,
    /// Inside a macro: only its arguments are visible, as in Pebble.
    isolated: bool,
    /// Steps taken so far (see [`MAX_RENDER_STEPS`]).
    steps: u64,
}

struct Macro {
    params: Vec<(String, Option<Expr>)>,
    body: Vec<Node>,
}

impl<'a> Evaluator<'a> {
    fn new(root: &'a Map<String, Value>, host: &'a dyn Host) -> Self {
        Evaluator {
            root,
            shared: &EMPTY,
            steps: 0,
            scopes: vec![Map::new()],
            host,
            depth: 0,
            macros: HashMap::new(),
            blocks: HashMap::new(),
            isolated: false,
        }
    }

    /// Remember the macros and blocks of a template, wherever they are written.
    fn define(&mut self, nodes: &[Node]) {
        for node in nodes {
            match node {
                Node::Macro { name, params, body } => {
                    let params = params
                        .iter()
                        .map(|(p, d)| (p.name.clone(), d.clone()))
                        .collect();
                    self.macros.insert(
                        name.name.clone(),
                        Rc::new(Macro {
                            params,
                            body: body.clone(),
                        }),
                    );
                }
                Node::Block { name, body } => {
                    self.blocks.insert(name.clone(), Rc::new(body.clone()));
                    self.define(body);
                }
                Node::If {
                    branches,
                    otherwise,
                } => {
                    for (_, body) in branches {
                        self.define(body);
                    }
                    if let Some(body) = otherwise {
                        self.define(body);
                    }
                }
                Node::For {
                    body, otherwise, ..
                } => {
                    self.define(body);
                    if let Some(body) = otherwise {
                        self.define(body);
                    }
                }
                Node::FilterBlock { body, .. } => self.define(body),
                Node::Text(_) | Node::Print(_) | Node::Set { .. } => {}
            }
        }
    }

    fn call_macro(&mut self, definition: &Macro, call: &Call) -> Result<Value> {
        let mut scope = Map::new();
        let mut position = 0;
        for arg in &call.args {
            let value = self.expr(&arg.value)?;
            let name = if let Some(name) = &arg.name {
                name.name.clone()
            } else {
                position += 1;
                match definition.params.get(position - 1) {
                    Some((name, _)) => name.clone(),
                    None => {
                        return fail(
                            format!(
                                "macro `{}` takes {} argument(s)",
                                call.name.name,
                                definition.params.len()
                            ),
                            call.span,
                        )
                    }
                }
            };
            scope.insert(name, value);
        }
        for (name, default) in &definition.params {
            if !scope.contains_key(name) {
                let value = match default {
                    Some(expr) => self.expr(expr)?,
                    None => Value::Null,
                };
                scope.insert(name.clone(), value);
            }
        }
        let saved = std::mem::replace(&mut self.scopes, vec![scope]);
        let was_isolated = std::mem::replace(&mut self.isolated, true);
        let mut out = String::new();
        let result = self.nodes(&definition.body, &mut out);
        self.scopes = saved;
        self.isolated = was_isolated;
        result?;
        Ok(Value::String(out))
    }

    /// A variable as the template sees it: `{% set %}` and loop variables first, then the
    /// top-level ones.
    pub(crate) fn variable(&self, name: &str) -> Option<&Value> {
        self.lookup(name)
    }

    /// The top-level variables, both layers (`printContext()`).
    pub(crate) fn context(&self) -> Map<String, Value> {
        let mut all = self.shared.clone();
        all.extend(self.root.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// Render `source` again with the current variables (`render()`).
    pub(crate) fn render_nested(&mut self, source: &str) -> std::result::Result<String, String> {
        if self.depth >= MAX_RENDER_DEPTH {
            return Err("nested too deeply (is a value rendering itself?)".into());
        }
        let template = super::parse(source).map_err(|e| e.message)?;
        self.depth += 1;
        self.scopes.push(Map::new());
        let mut out = String::new();
        let result = self.nodes(&template.nodes, &mut out);
        self.scopes.pop();
        self.depth -= 1;
        result.map_err(|e| e.message)?;
        Ok(out)
    }

    fn nodes(&mut self, nodes: &[Node], out: &mut String) -> Result<()> {
        for node in nodes {
            self.step(Span::new(0, 0))?;
            super::deep(|| self.node(node, out))?;
            if out.len() > MAX_RENDER_BYTES {
                return fail(
                    format!(
                        "the rendered text is larger than {} MiB",
                        MAX_RENDER_BYTES / (1024 * 1024)
                    ),
                    Span::new(0, 0),
                );
            }
        }
        Ok(())
    }

    /// One more step of the render's budget.
    fn step(&mut self, span: Span) -> Result<()> {
        self.steps += 1;
        if self.steps > MAX_RENDER_STEPS {
            return fail(
                format!("rendering takes more than {MAX_RENDER_STEPS} steps (a loop too large for a template?)"),
                span,
            );
        }
        // The clock is read now and then, not at every step.
        if self.steps.is_multiple_of(1024) {
            if past_deadline() {
                return fail("rendering ran past the task's timeout", span);
            }
            if interrupted() {
                return fail("rendering stopped: the execution is being killed", span);
            }
        }
        Ok(())
    }

    fn node(&mut self, node: &Node, out: &mut String) -> Result<()> {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Print(expr) => {
                let value = self.expr(expr)?;
                display(&value, out);
            }
            Node::If {
                branches,
                otherwise,
            } => {
                for (condition, body) in branches {
                    let value = self.expr(condition)?;
                    if truthy(&value, condition.span)? {
                        return self.nodes(body, out);
                    }
                }
                if let Some(body) = otherwise {
                    self.nodes(body, out)?;
                }
            }
            Node::For {
                key,
                item,
                iterable,
                body,
                otherwise,
            } => {
                let collection = self.expr(iterable)?;
                let entries: Vec<(Value, Value)> = match collection {
                    Value::Array(items) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (Value::from(i), v))
                        .collect(),
                    Value::Object(map) => map
                        .into_iter()
                        .map(|(k, v)| {
                            let mut entry = Map::new();
                            entry.insert("key".into(), Value::String(k.clone()));
                            entry.insert("value".into(), v.clone());
                            (
                                Value::String(k),
                                if key.is_some() {
                                    v
                                } else {
                                    Value::Object(entry)
                                },
                            )
                        })
                        .collect(),
                    // Pebble renders nothing for a null collection, not even the `else` block.
                    Value::Null => return Ok(()),
                    other => {
                        return fail(
                            format!("cannot loop over {}", value::describe(&other)),
                            iterable.span,
                        )
                    }
                };
                if entries.is_empty() {
                    if let Some(body) = otherwise {
                        self.nodes(body, out)?;
                    }
                    return Ok(());
                }
                let length = entries.len();
                self.scopes.push(Map::new());
                let mut result = Ok(());
                for (index, (k, v)) in entries.into_iter().enumerate() {
                    let scope = self.scopes.last_mut().expect("loop scope");
                    if let Some(key) = key {
                        scope.insert(key.name.clone(), k);
                    }
                    scope.insert(item.name.clone(), v);
                    scope.insert("loop".into(), loop_object(index, length));
                    result = self
                        .step(iterable.span)
                        .and_then(|()| self.nodes(body, out));
                    if result.is_err() {
                        break;
                    }
                }
                self.scopes.pop();
                result?;
            }
            Node::Set { name, value } => {
                let value = self.expr(value)?;
                // A variable set before a loop is updated from inside it; a new one stays local.
                let scope = match self.scopes.iter().rposition(|s| s.contains_key(&name.name)) {
                    Some(i) => &mut self.scopes[i],
                    None => self.scopes.last_mut().expect("scope"),
                };
                scope.insert(name.name.clone(), value);
            }
            Node::Macro { .. } => {}
            Node::Block { body, .. } => self.nodes(body, out)?,
            Node::FilterBlock { filters, body } => {
                let mut inner = String::new();
                self.nodes(body, &mut inner)?;
                let mut value = Value::String(inner);
                for call in filters {
                    value = self.filter(value, call)?;
                }
                display(&value, out);
            }
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<&Value> {
        self.scopes
            .iter()
            .rev()
            .find_map(|scope| scope.get(name))
            .or_else(|| {
                if self.isolated {
                    None
                } else {
                    self.root.get(name).or_else(|| self.shared.get(name))
                }
            })
    }

    pub(crate) fn expr(&mut self, expr: &Expr) -> Result<Value> {
        self.step(expr.span)?;
        let value = super::deep(|| self.expr_value(expr))?;
        if let Value::String(text) = &value {
            if text.len() > MAX_RENDER_BYTES {
                return fail(
                    format!(
                        "a value larger than {} MiB",
                        MAX_RENDER_BYTES / (1024 * 1024)
                    ),
                    expr.span,
                );
            }
        }
        Ok(value)
    }

    fn expr_value(&mut self, expr: &Expr) -> Result<Value> {
        match &expr.kind {
            ExprKind::Literal(value) => Ok(value.clone()),
            ExprKind::Var(name) => match self.lookup(name) {
                Some(value) => Ok(value.clone()),
                None => undefined(format!("variable `{name}` is not defined"), expr.span),
            },
            ExprKind::Attr(base, name) => {
                let base_value = self.expr(base)?;
                attribute(&base_value, &name.name, base, name.span)
            }
            ExprKind::Index(base, index) => {
                let base_value = self.expr(base)?;
                let index_value = self.expr(index)?;
                match &index_value {
                    Value::String(key) => attribute(&base_value, key, base, index.span),
                    Value::Number(n) => {
                        let Some(i) = n.as_i64() else {
                            return fail("a list index must be an integer", index.span);
                        };
                        match &base_value {
                            Value::Array(items) => usize::try_from(i)
                                .ok()
                                .and_then(|i| items.get(i))
                                .cloned()
                                .map_or_else(
                                    || {
                                        undefined(
                                            format!("index {i} is out of bounds (the list has {} items)", items.len()),
                                            index.span,
                                        )
                                    },
                                    Ok,
                                ),
                                                        Value::Object(_) => undefined(
                                format!("a map is read with a string key, not the number {i}"),
                                index.span,
                            ),
                            _ => attribute(&base_value, &i.to_string(), base, index.span),
                        }
                    }
                    other => fail(
                        format!("cannot index with {}", value::describe(other)),
                        index.span,
                    ),
                }
            }
            ExprKind::List(items) => items
                .iter()
                .map(|item| self.expr(item))
                .collect::<Result<Vec<_>>>()
                .map(Value::Array),
            ExprKind::Map(entries) => {
                let mut map = Map::new();
                for (key, value) in entries {
                    let key = match self.expr(key)? {
                        Value::String(s) => s,
                        other => value::to_display_string(&other),
                    };
                    let value = self.expr(value)?;
                    map.insert(key, value);
                }
                // Pebble builds `new HashMap<>(ceil(size / 0.75))`.
                let capacity = (map.len() * 4).div_ceil(3);
                Ok(Value::Object(value::java_hash_order(map, capacity)))
            }
            ExprKind::Unary(op, operand) => {
                let value = self.expr(operand)?;
                match op {
                    UnaryOp::Not => Ok(Value::Bool(!truthy(&value, operand.span)?)),
                    UnaryOp::Neg => value::negate(&value).ok_or(()).or_else(|()| {
                        fail(
                            format!("cannot negate {}", value::describe(&value)),
                            operand.span,
                        )
                    }),
                    UnaryOp::Plus => match value {
                        Value::Number(_) => Ok(value),
                        other => fail(
                            format!("`+` needs a number, not {}", value::describe(&other)),
                            operand.span,
                        ),
                    },
                }
            }
            ExprKind::Binary(op, left, right) => self.binary(*op, left, right, expr.span),
            ExprKind::Ternary(condition, then, otherwise) => {
                // Unlike `if`, the ternary takes null as false.
                let value = self.expr(condition)?;
                if !value.is_null() && truthy(&value, condition.span)? {
                    self.expr(then)
                } else {
                    self.expr(otherwise)
                }
            }
            ExprKind::Filter(input, call) => {
                let value = match self.expr(input) {
                    Ok(value) => value,
                    // Pebble lets `default` stand in for a missing value, even in strict mode.
                    Err(e) if e.undefined && call.name.name == "default" => Value::Null,
                    Err(e) => return Err(e),
                };
                self.filter(value, call)
            }
            ExprKind::Test {
                input,
                negated,
                call,
            } => {
                let value = match self.expr(input) {
                    Ok(value) => Some(value),
                    // `x is defined` is how templates ask whether something exists.
                    Err(e) if e.undefined && call.name.name == "defined" => None,
                    Err(e) => return Err(e),
                };
                let args = self.args(&call.args)?;
                let def = library::test(&call.name.name).ok_or_else(|| EvalError {
                    message: format!("unknown test `{}`", call.name.name),
                    span: call.name.span,
                    undefined: false,
                })?;
                let args = Args::bind(def.signature, args).map_err(|m| EvalError {
                    message: m,
                    span: call.span,
                    undefined: false,
                })?;
                let result = (def.run)(value.as_ref(), &args).map_err(|m| EvalError {
                    message: format!("test `{}`: {m}", call.name.name),
                    span: call.span,
                    undefined: false,
                })?;
                Ok(Value::Bool(result != *negated))
            }
            ExprKind::Function(call) if library::function(&call.name.name).is_none() => {
                if let Some(definition) = self.macros.get(&call.name.name).cloned() {
                    return self.call_macro(&definition, call);
                }
                if call.name.name == "block" {
                    let name = match call.args.first() {
                        Some(arg) => self.expr(&arg.value)?,
                        None => return fail("block() needs the block's name", call.span),
                    };
                    let name = value::to_display_string(&name);
                    let Some(body) = self.blocks.get(&name).cloned() else {
                        return fail(format!("no block named `{name}`"), call.span);
                    };
                    let mut out = String::new();
                    self.nodes(&body, &mut out)?;
                    return Ok(Value::String(out));
                }
                fail(
                    format!("unknown function `{}`", call.name.name),
                    call.name.span,
                )
            }
            ExprKind::Function(call) => {
                let def = library::function(&call.name.name).ok_or_else(|| EvalError {
                    message: format!("unknown function `{}`", call.name.name),
                    span: call.name.span,
                    undefined: false,
                })?;
                let args = self.args(&call.args)?;
                let args = Args::bind(def.signature, args).map_err(|m| EvalError {
                    message: format!("{}(): {m}", call.name.name),
                    span: call.span,
                    undefined: false,
                })?;
                (def.run)(self, &args).map_err(|m| EvalError {
                    message: format!("{}(): {m}", call.name.name),
                    span: call.span,
                    undefined: false,
                })
            }
            ExprKind::Method(target, call) => {
                let target_value = self.expr(target)?;
                let args: Vec<Value> = self.args(&call.args)?.into_iter().map(|(_, v)| v).collect();
                match super::java::call(&target_value, &call.name.name, &args) {
                    Some(result) => {
                        result.or_else(|m| fail(format!("{}(): {m}", call.name.name), call.span))
                    }
                    None => fail(
                        format!(
                            "{} has no method `{}` taking {} argument(s)",
                            value::describe(&target_value),
                            call.name.name,
                            args.len()
                        ),
                        call.name.span,
                    ),
                }
            }
            ExprKind::Interpolated(parts) => {
                let mut out = String::new();
                for part in parts {
                    let value = self.expr(part)?;
                    value::java_string(&value, &mut out);
                }
                Ok(Value::String(out))
            }
        }
    }

    fn args(&mut self, args: &[Arg]) -> Result<Vec<(Option<String>, Value)>> {
        args.iter()
            .map(|arg| {
                Ok((
                    arg.name.as_ref().map(|n| n.name.clone()),
                    self.expr(&arg.value)?,
                ))
            })
            .collect()
    }

    fn filter(&mut self, input: Value, call: &Call) -> Result<Value> {
        let def = library::filter(&call.name.name).ok_or_else(|| EvalError {
            message: format!("unknown filter `{}`", call.name.name),
            span: call.name.span,
            undefined: false,
        })?;
        let args = self.args(&call.args)?;
        let args = Args::bind(def.signature, args).map_err(|m| EvalError {
            message: format!("filter `{}`: {m}", call.name.name),
            span: call.span,
            undefined: false,
        })?;
        (def.run)(self, input, &args).map_err(|m| EvalError {
            message: format!("filter `{}`: {m}", call.name.name),
            span: call.span,
            undefined: false,
        })
    }

    fn binary(&mut self, op: BinaryOp, left: &Expr, right: &Expr, span: Span) -> Result<Value> {
        match op {
            BinaryOp::NullCoalesce => {
                return match self.expr(left) {
                    Ok(Value::Null) => self.expr(right),
                    Ok(value) => Ok(value),
                    Err(e) if e.undefined => self.expr(right),
                    Err(e) => Err(e),
                }
            }
            BinaryOp::UndefinedCoalesce => {
                return match self.expr(left) {
                    Ok(value) => Ok(value),
                    Err(e) if e.undefined => self.expr(right),
                    Err(e) => Err(e),
                }
            }
            BinaryOp::And => {
                let l = self.expr(left)?;
                if !truthy(&l, left.span)? {
                    return Ok(Value::Bool(false));
                }
                let r = self.expr(right)?;
                return Ok(Value::Bool(truthy(&r, right.span)?));
            }
            BinaryOp::Or => {
                let l = self.expr(left)?;
                if truthy(&l, left.span)? {
                    return Ok(Value::Bool(true));
                }
                let r = self.expr(right)?;
                return Ok(Value::Bool(truthy(&r, right.span)?));
            }
            _ => {}
        }
        let l = self.expr(left)?;
        let r = self.expr(right)?;
        value::binary(op, &l, &r).map_err(|message| EvalError {
            message,
            span,
            undefined: false,
        })
    }
}

/// Pebble's `loop` variable; `index` counts from 0.
fn loop_object(index: usize, length: usize) -> Value {
    let mut map = Map::new();
    map.insert("index".into(), Value::from(index));
    map.insert("length".into(), Value::from(length));
    map.insert("first".into(), Value::Bool(index == 0));
    map.insert("last".into(), Value::Bool(index + 1 == length));
    map.insert("revindex".into(), Value::from(length - index - 1));
    Value::Object(map)
}

/// `base.name` on a value: maps by key, lists by numeric index.
fn attribute(base: &Value, name: &str, base_expr: &Expr, span: Span) -> Result<Value> {
    match base {
        Value::Object(map) => {
            if let Some(value) = map.get(name) {
                Ok(value.clone())
            } else {
                let what = base_expr
                    .path()
                    .map(|p| p.iter().map(|(s, _)| *s).collect::<Vec<_>>().join("."));
                let mut message = match what {
                    Some(path) => format!("`{path}` has no attribute `{name}`"),
                    None => format!("no attribute `{name}`"),
                };
                if map.len() <= 20 && !map.is_empty() {
                    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                    let _ = write!(message, " (it has {})", keys.join(", "));
                }
                undefined(message, span)
            }
        }
        Value::Array(items) => match name.parse::<usize>() {
            Ok(i) if i < items.len() => Ok(items[i].clone()),
            _ => match super::java::property(base, name) {
                Some(result) => result.or_else(|m| fail(m, span)),
                None => undefined(format!("a list has no attribute `{name}`"), span),
            },
        },
        Value::Null => undefined(format!("cannot read `{name}` of null"), span),
        other => match super::java::property(other, name) {
            Some(result) => result.or_else(|m| fail(m, span)),
            None => undefined(
                format!("{} has no attribute `{name}`", value::describe(other)),
                span,
            ),
        },
    }
}

/// Pebble's truth in `if`, `and`, `or`, `not`: booleans as they are, numbers non-zero, strings
/// and collections non-empty (even the string `"false"`). Null is an error (strict mode).
pub fn truthy(value: &Value, span: Span) -> Result<bool> {
    Ok(match value {
        Value::Null => {
            return fail(
                "null is neither true nor false here (use `?? false`, or `is null`)",
                span,
            )
        }
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => {
            return fail(
                format!(
                    "{} is neither true nor false (test it: `is empty`, `| length > 0`)",
                    value::describe(value)
                ),
                span,
            )
        }
    })
}
