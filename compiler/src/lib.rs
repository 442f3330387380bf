//! kflow's compiler: Kestra-style flow YAML in, checked typed flows out.
//!
//! The pipeline is `source → yaml → parse (model) → check → expr → lower → emit → build`, one
//! module per stage, data flowing one way. Every stage reports [`diag::Diagnostic`]s with byte
//! spans; only the CLI renders them.

pub mod build;
pub mod check;
pub mod diag;
pub mod emit;
pub mod expr;
pub mod files;
pub mod graph;
pub mod include;
pub mod lower;
pub mod model;
pub mod parse;
pub mod plugins;
pub mod source;
pub mod suggest;
pub mod yaml;

use diag::{Diagnostic, FileReport};
use model::Flow;
use source::{SourceFile, Span};

pub use parse::Options;

/// Everything the front end learned about one file: the flow (when it could be typed at all)
/// and every diagnostic, sorted by position.
pub struct Checked {
    pub flow: Option<Flow>,
    pub report: FileReport,
}

/// How many broken YAML lines are blanked out, one at a time, to check the rest of the file.
const MAX_RECOVERED_LINES: usize = 8;

/// Runs the front end (YAML, model, flow rules) over one file's text.
pub fn check_source(source: SourceFile, options: Options) -> Checked {
    let parsed = parse_source(source, options);
    finish(parsed, options, 0, &check::bundle::Neighbours::default())
}

/// [`check_source`] over several files checked or built together: each is checked as alone,
/// and what one says of another (a Subflow's target, its inputs and outputs, a Flow trigger's
/// upstream flows, a flow defined twice) against the others. `complete`: the flows are all
/// there is (`build` makes one binary of them), so a flow they name must be among them.
pub fn check_sources(sources: Vec<SourceFile>, options: Options, complete: bool) -> Vec<Checked> {
    let parsed: Vec<Parsed> = sources
        .into_iter()
        .map(|s| parse_source(s, options))
        .collect();
    let neighbours = check::bundle::Neighbours::of(
        parsed
            .iter()
            .enumerate()
            .filter_map(|(file, p)| Some((file, p.flow.as_ref()?))),
        complete,
    );
    parsed
        .into_iter()
        .enumerate()
        .map(|(file, p)| finish(p, options, file, &neighbours))
        .collect()
}

/// A file after YAML and the model: the flow (when it could be typed and compiled) and the
/// diagnostics so far.
struct Parsed {
    source: SourceFile,
    flow: Option<Flow>,
    diagnostics: Vec<Diagnostic>,
}

/// The rules over a parsed flow (its own, then those between it and its `neighbours`), and
/// the diagnostics sorted.
fn finish(
    parsed: Parsed,
    options: Options,
    file: usize,
    neighbours: &check::bundle::Neighbours,
) -> Checked {
    let Parsed {
        source,
        flow,
        mut diagnostics,
    } = parsed;
    if let Some(flow) = &flow {
        diagnostics.extend(check::check(flow));
        diagnostics.extend(expr::check_with(flow, &source, neighbours));
        check::bundle::check(flow, file, neighbours, &mut diagnostics);
        if options.runnable {
            diagnostics.extend(check::runnable::not_runnable(flow));
        }
    }
    sort_and_dedup(&mut diagnostics);
    Checked {
        flow,
        report: FileReport {
            source,
            diagnostics,
        },
    }
}

/// YAML (recovering from syntax errors line by line) and the model.
fn parse_source(source: SourceFile, options: Options) -> Parsed {
    let (root, mut diagnostics, blanked) = load_recovering(&source);
    let whole = Span::new(0, source.text().len().min(source.line_span(1).end as usize));
    let (flow, parse_diagnostics) = match (&root, &blanked) {
        (None, Some(_)) => (None, Vec::new()),
        (_, None) => parse::parse(root.as_ref(), whole, options),
        // The tree lacks the blanked lines: a key missing there is an artefact, not a finding.
        // Its templates are still checked, except for names that appear on a blanked line
        // (a task declared there is simply not in the tree). The flow is not compiled.
        (Some(_), Some(lines)) => {
            let (partial, found) = parse::parse(root.as_ref(), whole, options);
            let blanked_text: String = lines
                .iter()
                .map(|line| &source.text()[source.line_span(*line).range()])
                .collect::<Vec<_>>()
                .join("\n");
            let mut kept: Vec<Diagnostic> = found
                .into_iter()
                .filter(|d| d.code != diag::Code::MissingKey)
                .collect();
            if let Some(partial) = &partial {
                kept.extend(
                    expr::check(partial, &source)
                        .into_iter()
                        .filter(|d| !names_blanked(d, &blanked_text)),
                );
            }
            (None, kept)
        }
    };
    diagnostics.extend(parse_diagnostics);
    Parsed {
        source,
        flow,
        diagnostics,
    }
}

/// Whether a finding about a name (`` `x` ``) may come from a line blanked during recovery.
fn names_blanked(diagnostic: &Diagnostic, blanked_text: &str) -> bool {
    use diag::Code::{MaybeUnavailable, Unavailable, UnknownAttribute, UnknownVariable};
    matches!(
        diagnostic.code,
        UnknownVariable | UnknownAttribute | Unavailable | MaybeUnavailable
    ) && diagnostic
        .message
        .split('`')
        .skip(1)
        .step_by(2)
        .any(|name| blanked_text.contains(name))
}

/// Loads the YAML; on a syntax error, blanks the offending line (keeping every byte offset)
/// and loads again, so the mistakes in the rest of the file are reported in the same run.
/// Returns the tree, the diagnostics, and the lines blanked, if any (the tree is then
/// incomplete: it is checked, but not compiled).
fn load_recovering(
    source: &SourceFile,
) -> (Option<yaml::Node>, Vec<Diagnostic>, Option<Vec<usize>>) {
    let is_syntax = |d: &&Diagnostic| d.code == diag::Code::YamlSyntax;
    let (mut root, mut last) = yaml::load(source);
    if !last.iter().any(|d| is_syntax(&d)) {
        return (root, last, None);
    }
    let mut found = Vec::new();
    let mut text = source.text().to_string();
    let mut blanked = Vec::new();
    // Loading stops at the first syntax error, so each round has at most one.
    while let Some(error) = last.iter().find(is_syntax).cloned() {
        let line = source.line_col(error.span.start).line;
        found.push(error);
        if blanked.contains(&line) || blanked.len() == MAX_RECOVERED_LINES {
            return (None, found, Some(blanked));
        }
        blanked.push(line);
        let span = source.line_span(line);
        text.replace_range(span.range(), &" ".repeat(span.len()));
        (root, last) = yaml::load(&SourceFile::new(source.path(), text.clone()));
    }
    found.extend(last);
    (root, found, Some(blanked))
}

/// Diagnostics in file order; the same finding reached twice (a pluginDefault merged into
/// several tasks) is reported once.
fn sort_and_dedup(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        (a.span.start, a.span.end, a.code).cmp(&(b.span.start, b.span.end, b.code))
    });
    diagnostics.dedup_by(|a, b| a.span == b.span && a.code == b.code && a.message == b.message);
}
