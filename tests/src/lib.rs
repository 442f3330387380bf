//! Helpers shared by kflow's end-to-end tests: where the corpus is, and checking a file the way
//! `kflowc check` does, with paths printed relative to a root so snapshots are stable.

use std::path::{Path, PathBuf};

use kflow_compiler::diag::{render_human, Color, FileReport};
use kflow_compiler::source::SourceFile;
use kflow_compiler::{check_source, Options};

/// `../shared/corpus`, beside the project (as CI lays it out).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}

/// The project's root folder.
pub fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `*.yml`/`*.yaml` file below `dir`, sorted.
pub fn flow_files(dir: &Path) -> Vec<PathBuf> {
    kflow_compiler::files::collect(&[dir.to_path_buf()])
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
}

/// Checks one file; the report names it relative to `root`.
pub fn check_file(path: &Path, root: &Path, options: Options) -> FileReport {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let name = path.strip_prefix(root).unwrap_or(path);
    check_source(SourceFile::new(name, text), options).report
}

/// The diagnostics as a person reads them, without colour.
pub fn human(report: &FileReport) -> String {
    render_human(std::slice::from_ref(report), Color::Never)
}

/// `(line, code, severity)` of each diagnostic, for compact assertions.
pub fn findings(report: &FileReport) -> Vec<(usize, &'static str, &'static str)> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            (
                report.source.line_col(d.span.start).line,
                d.code.as_str(),
                d.severity.as_str(),
            )
        })
        .collect()
}
