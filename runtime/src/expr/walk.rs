//! Visiting every expression of a template: the checker's traversal and the tests' census of
//! which filters and functions are used.

use super::ast::{Expr, ExprKind, Node, Template};

/// Calls `f` on every expression in the template, outer ones before their parts.
pub fn exprs(template: &Template, f: &mut dyn FnMut(&Expr)) {
    nodes(&template.nodes, f);
}

fn nodes(nodes: &[Node], f: &mut dyn FnMut(&Expr)) {
    super::deep(|| nodes_at(nodes, f));
}

fn nodes_at(nodes: &[Node], f: &mut dyn FnMut(&Expr)) {
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Print(e) | Node::Set { value: e, .. } => expr(e, f),
            Node::If {
                branches,
                otherwise,
            } => {
                for (condition, body) in branches {
                    expr(condition, f);
                    self::nodes(body, f);
                }
                if let Some(body) = otherwise {
                    self::nodes(body, f);
                }
            }
            Node::For {
                iterable,
                body,
                otherwise,
                ..
            } => {
                expr(iterable, f);
                self::nodes(body, f);
                if let Some(body) = otherwise {
                    self::nodes(body, f);
                }
            }
            Node::FilterBlock { filters, body } => {
                for call in filters {
                    for arg in &call.args {
                        expr(&arg.value, f);
                    }
                }
                self::nodes(body, f);
            }
            Node::Macro { params, body, .. } => {
                for default in params.iter().filter_map(|(_, d)| d.as_ref()) {
                    expr(default, f);
                }
                self::nodes(body, f);
            }
            Node::Block { body, .. } => self::nodes(body, f),
        }
    }
}

/// Calls `f` on `e` and then on each of its sub-expressions.
pub fn expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    super::deep(|| expr_at(e, f));
}

#[allow(clippy::many_single_char_names)]
fn expr_at(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Literal(_) | ExprKind::Var(_) => {}
        ExprKind::Attr(base, _) => expr(base, f),
        ExprKind::Index(base, index) => {
            expr(base, f);
            expr(index, f);
        }
        ExprKind::List(items) | ExprKind::Interpolated(items) => {
            for item in items {
                expr(item, f);
            }
        }
        ExprKind::Map(entries) => {
            for (k, v) in entries {
                expr(k, f);
                expr(v, f);
            }
        }
        ExprKind::Unary(_, operand) => expr(operand, f),
        ExprKind::Binary(_, l, r) => {
            expr(l, f);
            expr(r, f);
        }
        ExprKind::Ternary(c, t, o) => {
            expr(c, f);
            expr(t, f);
            expr(o, f);
        }
        ExprKind::Filter(input, call) | ExprKind::Test { input, call, .. } => {
            expr(input, f);
            for arg in &call.args {
                expr(&arg.value, f);
            }
        }
        ExprKind::Function(call) => {
            for arg in &call.args {
                expr(&arg.value, f);
            }
        }
        ExprKind::Method(base, call) => {
            expr(base, f);
            for arg in &call.args {
                expr(&arg.value, f);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Filter,
    Function,
    Test,
}

/// Every filter, function and test name the template calls (filter blocks included).
pub fn names(template: &Template, f: &mut dyn FnMut(NameKind, &str)) {
    fn block(nodes: &[Node], f: &mut dyn FnMut(NameKind, &str)) {
        for node in nodes {
            match node {
                Node::FilterBlock { filters, body } => {
                    for call in filters {
                        f(NameKind::Filter, &call.name.name);
                    }
                    block(body, f);
                }
                Node::If {
                    branches,
                    otherwise,
                } => {
                    for (_, body) in branches {
                        block(body, f);
                    }
                    if let Some(body) = otherwise {
                        block(body, f);
                    }
                }
                Node::For {
                    body, otherwise, ..
                } => {
                    block(body, f);
                    if let Some(body) = otherwise {
                        block(body, f);
                    }
                }
                Node::Macro { body, .. } | Node::Block { body, .. } => block(body, f),
                _ => {}
            }
        }
    }
    block(&template.nodes, f);
    exprs(template, &mut |e| match &e.kind {
        ExprKind::Filter(_, call) => f(NameKind::Filter, &call.name.name),
        ExprKind::Test { call, .. } => f(NameKind::Test, &call.name.name),
        ExprKind::Function(call) => f(NameKind::Function, &call.name.name),
        _ => {}
    });
}
