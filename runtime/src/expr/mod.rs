//! Kestra's expression language: Pebble templates with Kestra's filters, functions and the
//! `??`/`???` operators. One module for both sides: the compiler parses and type-checks every
//! template with it, the generated binaries evaluate them with it, and `kflowc eval` is its
//! playground.

pub mod ast;
pub mod eval;
mod functions;

pub use functions::to_ion;
mod host;
mod java;
mod java_time;
pub mod library;
pub mod parser;
pub mod value;
pub mod walk;

pub use ast::{Expr, ExprKind, Node, Span, Template};
pub use eval::{
    evaluate, render, render_layered, render_str, with_deadline, EvalError, Host, NoHost,
    INTERRUPTED,
};
pub use host::EnvHost;
#[cfg(feature = "executor")]
pub use host::{FlowHost, GivenSecrets};
pub use parser::{parse, parse_expression, SyntaxError};

/// YAML text as a JSON value, resolved as Kestra (Jackson's YAML parser) resolves scalars.
#[cfg(feature = "executor")]
pub(crate) use functions::yaml::parse as parse_yaml;

/// The first value of Ion text as a JSON value (one row of an Ion file).
#[cfg(feature = "executor")]
pub(crate) use functions::ion::parse as parse_ion;

/// An evaluation error as `kflowc eval` prints it: the message, then the template line with a
/// caret under the failing part.
pub fn describe_error(template: &str, error: &EvalError) -> String {
    let start = error.span.start.min(template.len());
    let line_start = template[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = template[start..]
        .find('\n')
        .map_or(template.len(), |i| start + i);
    let line = &template[line_start..line_end];
    let column = template[line_start..start].chars().count();
    let width = template[start..error.span.end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    format!(
        "error: {}\n  | {line}\n  | {}{}",
        error.message,
        " ".repeat(column),
        "^".repeat(width)
    )
}

/// Whether a string is a template (holds `{{`, `{%` or `{#`); anything else is literal text.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// Runs one step of a recursive walk over a template (parsing, checking, evaluating) with
/// enough stack: when little is left, the walk goes on in a new segment on the heap. Trees are
/// at most [`parser::MAX_NESTING`] deep, so this bounds memory too, on any thread (a host
/// program's 2 MiB tokio workers, a debug build's large frames).
pub fn deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
}
