//! `include_flow!`'s whole work, so that the macro crate stays a shell: read the flow file,
//! check it as `kflowc build` does (`check --runnable`), lower it, and print the module of
//! [`crate::emit::embedded_module`] — or every diagnostic, rendered as `kflowc check` shows it
//! (the YAML's `file:line:column`, the message, the help), for `compile_error!`.
//!
//! The flow is checked together with the other flow files of its folder, as `kflowc check
//! <folder>` checks them: a Subflow's inputs and outputs are checked against the flow it starts
//! when that flow sits beside it (the program includes it too, to run it).

use std::path::Path;

use proc_macro2::TokenStream;

use crate::diag::{render_diagnostic, FileReport};
use crate::source::SourceFile;
use crate::{build, check_sources, emit, Options};

/// The module for the flow at `path` (absolute: the macro resolves it), its generated code
/// calling the runtime at `krate` (`::kflow::runtime`); or the messages to fail with.
pub fn embedded_flow(path: &Path, krate: &TokenStream) -> Result<TokenStream, Vec<String>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![format!(
            "include_flow!: cannot read the flow file {shown}: {e}"
        )]
    })?;
    let options = Options {
        allow_unknown_types: false,
        runnable: true,
    };
    // The ones that cannot be read are left out (and not tracked: `include_bytes!` would fail).
    let neighbours: Vec<(std::path::PathBuf, String)> = neighbours(path)
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p, text))
        })
        .collect();
    let mut sources = vec![SourceFile::new(path, text.clone())];
    sources.extend(
        neighbours
            .iter()
            .map(|(p, text)| SourceFile::new(p, text.clone())),
    );
    let Some(checked) = check_sources(sources, options, false).into_iter().next() else {
        return Err(vec![format!("include_flow!: {shown} is not a flow")]);
    };
    let report: &FileReport = &checked.report;
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            // The position first: it is what a reader (and a test) looks for.
            let at = report.source.line_col(d.span.start);
            let rendered = render_diagnostic(report, d);
            let snippet = rendered.split_once('\n').map_or("", |(_, rest)| rest);
            format!(
                "{shown}:{}:{}: {} [{}]\n{snippet}",
                at.line,
                at.column,
                d.message,
                d.code.as_str()
            )
        })
        .collect();
    let flow = match (checked.flow, errors.is_empty()) {
        (Some(flow), true) => flow,
        (_, false) => return Err(errors),
        (None, true) => return Err(vec![format!("include_flow!: {shown} is not a flow")]),
    };
    let name = path
        .file_name()
        .map_or_else(|| shown.clone(), |n| n.to_string_lossy().to_string());
    let plan = build::plan(&flow, &text, &name);
    let files = build::namespace_file_paths(path).map_err(|e| vec![e.to_string()])?;
    let files: Vec<(&str, String)> = files
        .iter()
        .map(|(name, file)| (name.as_str(), file.display().to_string()))
        .collect();
    let neighbours: Vec<String> = neighbours
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    Ok(emit::embedded_module(
        &plan,
        krate,
        &shown,
        &files,
        &neighbours,
    ))
}

/// At most this many other flow files of the folder are read with the flow.
const MAX_NEIGHBOURS: usize = 200;

/// The other `*.yml`/`*.yaml` files of the flow's folder (not below it: a flow at a crate's
/// root must not walk `target/`), sorted.
fn neighbours(path: &Path) -> Vec<std::path::PathBuf> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut found: Vec<std::path::PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.as_path() != path
                && p.extension().is_some_and(|e| e == "yml" || e == "yaml")
        })
        .take(MAX_NEIGHBOURS)
        .collect();
    found.sort();
    found
}
