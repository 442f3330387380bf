//! Renderers: human (like rustc), `json`, `github` workflow commands and SARIF 2.1.0.

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde_json::{json, Value};

use super::{Code, Diagnostic, Severity};
use crate::source::SourceFile;

/// One checked file and what was found in it.
#[derive(Debug)]
pub struct FileReport {
    pub source: SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileReport {
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    fn display_path(&self) -> String {
        self.source.path().display().to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Always,
    Never,
}

/// rustc-style text: a title line, the YAML lines with the token underlined, labels and help.
pub fn render_human(reports: &[FileReport], color: Color) -> String {
    let renderer = match color {
        Color::Always => Renderer::styled(),
        Color::Never => Renderer::plain(),
    };
    let mut out = String::new();
    let (mut errors, mut warnings) = (0, 0);
    for report in reports {
        for diag in &report.diagnostics {
            match diag.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            out.push_str(&render_one(&renderer, report, diag));
            out.push_str("\n\n");
        }
    }
    let files = reports.len();
    let _ = writeln!(
        out,
        "checked {files} file{}: {errors} error{}, {warnings} warning{}",
        plural(files),
        plural(errors),
        plural(warnings)
    );
    out
}

/// One diagnostic of `report` as [`render_human`] shows it, without colour or totals (what
/// `include_flow!` gives the Rust compiler).
pub fn render_diagnostic(report: &FileReport, diag: &Diagnostic) -> String {
    render_one(&Renderer::plain(), report, diag)
}

fn render_one(renderer: &Renderer, report: &FileReport, diag: &Diagnostic) -> String {
    let path = report.display_path();
    let level = match diag.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let mut snippet = Snippet::source(report.source.text())
        .path(path.as_str())
        .fold(true)
        .annotation(AnnotationKind::Primary.span(diag.span.range()));
    for label in &diag.labels {
        snippet = snippet.annotation(
            AnnotationKind::Context
                .span(label.span.range())
                .label(label.message.as_str()),
        );
    }
    let mut groups = vec![Group::with_title(
        level
            .primary_title(diag.message.as_str())
            .id(diag.code.as_str()),
    )
    .element(snippet)];
    if let Some(help) = &diag.help {
        groups.push(Group::with_title(
            Level::HELP.secondary_title(help.as_str()),
        ));
    }
    renderer.render(&groups)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The position fields shared by the JSON, GitHub and SARIF renderers (1-based; end exclusive).
struct Position {
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

fn position(report: &FileReport, diag: &Diagnostic) -> Position {
    let start = report.source.line_col(diag.span.start);
    let end = report.source.line_col(diag.span.end);
    Position {
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
    }
}

/// The `--format json` object of DESIGN.md: `{"files_checked": N, "diagnostics": [...]}`.
pub fn render_json(reports: &[FileReport]) -> String {
    let diagnostics: Vec<Value> = reports
        .iter()
        .flat_map(|report| {
            report.diagnostics.iter().map(move |diag| {
                let pos = position(report, diag);
                json!({
                    "file": report.display_path(),
                    "line": pos.line,
                    "column": pos.column,
                    "end_line": pos.end_line,
                    "end_column": pos.end_column,
                    "severity": diag.severity.as_str(),
                    "code": diag.code.as_str(),
                    "message": diag.message,
                    "help": diag.help,
                })
            })
        })
        .collect();
    let doc = json!({ "files_checked": reports.len(), "diagnostics": diagnostics });
    format!("{doc}\n")
}

/// GitHub Actions workflow commands: one `::error file=...::message` line per diagnostic.
pub fn render_github(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for report in reports {
        for diag in &report.diagnostics {
            let pos = position(report, diag);
            let mut message = diag.message.clone();
            if let Some(help) = &diag.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            let _ = writeln!(
                out,
                "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}",
                diag.severity.as_str(),
                escape_github_property(&report.display_path()),
                pos.line,
                pos.column,
                pos.end_line,
                pos.end_column,
                escape_github_property(&format!("{} {}", diag.code.as_str(), diag.code.name())),
                escape_github_data(&message),
            );
        }
    }
    out
}

fn escape_github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_github_property(s: &str) -> String {
    escape_github_data(s)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

/// SARIF 2.1.0, one run, with a rule per code that occurs.
pub fn render_sarif(reports: &[FileReport]) -> String {
    let mut codes: Vec<Code> = reports
        .iter()
        .flat_map(|r| r.diagnostics.iter().map(|d| d.code))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let rules: Vec<Value> = codes
        .iter()
        .map(|code| {
            json!({
                "id": code.as_str(),
                "name": code.name(),
                "shortDescription": { "text": code.summary() },
            })
        })
        .collect();
    let results: Vec<Value> = reports
        .iter()
        .flat_map(|report| {
            let codes = &codes;
            report.diagnostics.iter().map(move |diag| {
                let pos = position(report, diag);
                let mut text = diag.message.clone();
                if let Some(help) = &diag.help {
                    text.push_str("\nhelp: ");
                    text.push_str(help);
                }
                json!({
                    "ruleId": diag.code.as_str(),
                    "ruleIndex": codes.binary_search(&diag.code).unwrap_or(0),
                    "level": diag.severity.as_str(),
                    "message": { "text": text },
                    "locations": [{
                        "physicalLocation": {
                            "artifactLocation": { "uri": sarif_uri(&report.display_path()) },
                            "region": {
                                "startLine": pos.line,
                                "startColumn": pos.column,
                                "endLine": pos.end_line,
                                "endColumn": pos.end_column,
                            }
                        }
                    }],
                })
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "kflowc",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://kestra.io/docs",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    format!("{doc}\n")
}

/// SARIF wants URI references: relative paths with `/` and percent-escaped specials.
fn sarif_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '\\' => out.push('/'),
            ' ' => out.push_str("%20"),
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            _ => out.push(c),
        }
    }
    out
}
