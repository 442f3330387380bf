//! The flows of the seed article: corrected in `examples/` they check clean; with their
//! mistakes kept (`tests/cases/seed/`) every listed mistake gets a diagnostic at its line whose
//! help (or message) names the correct form.

use kflow_compiler::Options;
use kflow_tests::{check_file, flow_files, human, project_dir};

#[test]
fn examples_check_clean() {
    let root = project_dir();
    let files = flow_files(&root.join("examples"));
    assert!(files.len() >= 9);
    for path in files {
        let report = check_file(
            &path,
            &root,
            Options {
                allow_unknown_types: true,
                runnable: false,
            },
        );
        assert_eq!(report.error_count(), 0, "{}", human(&report));
    }
}

/// One `.expect` line: `LINE<TAB>KIND<TAB>what is wrong<TAB>the correct form`.
struct Mistake {
    line: usize,
    kind: String,
    what: String,
    correct: String,
}

fn mistakes(text: &str) -> Vec<Mistake> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.len(), 4, "bad .expect line: {l}");
            Mistake {
                line: fields[0].parse().expect("line number"),
                kind: fields[1].to_string(),
                what: fields[2].to_string(),
                correct: fields[3].to_string(),
            }
        })
        .collect()
}

/// The identifier-like words of the correct form (`pullPolicy`, `interval`, a type name).
fn key_words(correct: &str) -> Vec<String> {
    correct
        .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '_'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| w.len() > 2)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_seed_mistake_is_reported_at_its_line_with_the_fix() {
    let root = project_dir();
    let dir = root.join("tests/cases/seed");
    let mut checked = 0;
    let mut missing = Vec::new();
    for path in flow_files(&dir) {
        let expect = std::fs::read_to_string(path.with_extension("expect"))
            .expect("each seed case has an .expect file");
        let report = check_file(&path, &root, Options::default());
        for mistake in mistakes(&expect) {
            checked += 1;
            let at_line: Vec<String> = report
                .diagnostics
                .iter()
                .filter(|d| {
                    d.is_error() && report.source.line_col(d.span.start).line == mistake.line
                })
                .map(|d| format!("{} {}", d.message, d.help.clone().unwrap_or_default()))
                .collect();
            let words = key_words(&mistake.correct);
            let named = mistake.kind == "yaml-syntax"
                || at_line
                    .iter()
                    .any(|text| words.iter().any(|w| text.contains(w.as_str())));
            if at_line.is_empty() || !named {
                missing.push(format!(
                    "{}:{} {} ({}; want one of {words:?}); found: {at_line:?}",
                    path.file_name().unwrap().to_string_lossy(),
                    mistake.line,
                    mistake.kind,
                    mistake.what,
                ));
            }
        }
    }
    assert!(checked >= 30, "only {checked} seed mistakes checked");
    assert!(
        missing.is_empty(),
        "{} of {checked} seed mistakes not reported as expected:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
