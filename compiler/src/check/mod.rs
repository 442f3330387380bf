//! Flow-level rules over the typed flow, each its own small visitor. All of them always run:
//! every problem is reported, never just the first.

pub mod bundle;
mod cron;
mod dag;
mod ids;
mod inputs;
mod labels;
pub mod runnable;
mod structure;
mod subflow;

use crate::diag::Diagnostic;
use crate::model::Flow;

pub fn check(flow: &Flow) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    ids::check(flow, &mut diagnostics);
    labels::check(flow, &mut diagnostics);
    inputs::check(flow, &mut diagnostics);
    dag::check(flow, &mut diagnostics);
    cron::check(flow, &mut diagnostics);
    subflow::check(flow, &mut diagnostics);
    structure::check(flow, &mut diagnostics);
    runnable::check(flow, &mut diagnostics);
    runnable::triggers(flow, &mut diagnostics);
    diagnostics
}
