//! The real Kestra flows of `../shared/corpus`: what Kestra rejects, kflowc rejects at the right
//! place; what Kestra runs, kflowc accepts (unknown plugin types aside).

use std::collections::BTreeMap;

use kflow_compiler::Options;
use kflow_tests::{check_file, corpus_dir, findings, flow_files, human, project_dir};

const ALLOW_UNKNOWN: Options = Options {
    allow_unknown_types: true,
    runnable: false,
};

/// Every invalid flow gets at least one error, and the full text of its diagnostics is a
/// reviewed snapshot.
#[test]
fn kestra_invalids_are_rejected_where_they_are_wrong() {
    let corpus = corpus_dir();
    let files = flow_files(&corpus.join("kestra/invalids"));
    assert_eq!(
        files.len(),
        22,
        "the corpus changed: review the new invalid flows"
    );
    for path in files {
        let report = check_file(&path, &corpus, Options::default());
        assert!(
            report.error_count() > 0,
            "{} was accepted:\n{}",
            path.display(),
            human(&report)
        );
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        insta::assert_snapshot!(format!("invalid__{name}"), human(&report));
    }
}

/// Valid flows check clean except for task types the registry does not have (warnings with
/// `--allow-unknown-types`), and the few exceptions listed with reasons in `known-exceptions.txt`.
#[test]
fn kestra_valids_examples_and_plugin_scripts_have_no_errors() {
    let corpus = corpus_dir();
    let exceptions = known_list("known-exceptions.txt");
    let mut unexpected = Vec::new();
    let mut seen = Vec::new();
    for dir in ["kestra/valids", "examples", "plugin-scripts"] {
        for path in flow_files(&corpus.join(dir)) {
            let report = check_file(&path, &corpus, ALLOW_UNKNOWN);
            let file = path.strip_prefix(&corpus).unwrap().display().to_string();
            for (line, code, severity) in findings(&report) {
                if severity != "error" {
                    continue;
                }
                let key = format!("{file}:{line}:{code}");
                if exceptions.contains_key(&key) {
                    seen.push(key);
                } else {
                    unexpected.push(format!("{key}\n{}", human(&report)));
                }
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "errors on valid flows:\n{}",
        unexpected.join("\n")
    );
    let stale: Vec<_> = exceptions.keys().filter(|k| !seen.contains(k)).collect();
    assert!(
        stale.is_empty(),
        "known-exceptions.txt lists errors that no longer occur: {stale:?}"
    );
}

/// Blueprints are documentation examples; the errors kflowc finds in them are each listed
/// with a reason in `known-findings.txt`, and nothing else is reported.
#[test]
fn blueprint_findings_are_exactly_the_known_ones() {
    let corpus = corpus_dir();
    let known = known_list("known-findings.txt");
    let mut found = BTreeMap::new();
    for path in flow_files(&corpus.join("blueprints")) {
        let report = check_file(&path, &corpus, ALLOW_UNKNOWN);
        let file = path.strip_prefix(&corpus).unwrap().display().to_string();
        for (diag, (line, code, severity)) in report.diagnostics.iter().zip(findings(&report)) {
            if severity == "error" {
                found.insert(format!("{file}:{line}:{code}"), diag.message.clone());
            }
        }
    }
    let unexpected: Vec<String> = found
        .iter()
        .filter(|(k, _)| !known.contains_key(*k))
        .map(|(k, m)| format!("{k}\t{m}"))
        .collect();
    let stale: Vec<&String> = known.keys().filter(|k| !found.contains_key(*k)).collect();
    assert!(
        unexpected.is_empty(),
        "blueprint errors not in known-findings.txt:\n{}",
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "known-findings.txt lists errors that no longer occur: {stale:?}"
    );
}

/// `kestra/tests` holds flows of Kestra's runner tests, some accepted and some rejected. The
/// decision for each, from Kestra's tests and documentation, is this table.
#[test]
fn kestra_test_flows_follow_kestras_decisions() {
    let corpus = corpus_dir();
    let decisions: &[(&str, &[(usize, &str)])] = &[
        // Uses `id:` (once `name:`): accepted.
        ("inputs-old.yaml", &[]),
        // taskDefaults gives Log a property it does not have: Kestra's PluginDefaultValidator rejects it.
        ("invalid-task-defaults.yaml", &[(8, "KF101")]),
        // Deprecated listeners are accepted with a warning (test-only task types are unknown).
        ("listeners.yaml", &[]),
        ("listeners-failed.yaml", &[]),
        ("listeners-flowable.yaml", &[]),
        ("listeners-multiple.yaml", &[]),
        ("listeners-multiple-failed.yaml", &[]),
        // pluginDefaults on test-only types: accepted.
        ("plugin-defaults.yaml", &[]),
        // A deprecated, ignored `backfill` map: accepted with a warning.
        ("trigger-empty.yaml", &[]),
        ("trigger.yaml", &[]),
    ];
    let files = flow_files(&corpus.join("kestra/tests"));
    assert_eq!(files.len(), decisions.len());
    for (name, expected) in decisions {
        let report = check_file(
            &corpus.join("kestra/tests").join(name),
            &corpus,
            ALLOW_UNKNOWN,
        );
        let errors: Vec<(usize, &str)> = findings(&report)
            .into_iter()
            .filter(|f| f.2 == "error")
            .map(|(line, code, _)| (line, code))
            .collect();
        assert_eq!(&errors, expected, "{name}:\n{}", human(&report));
    }
}

/// Every file of the corpus goes through the checker without a panic (as the CLI would run it).
#[test]
fn every_corpus_file_is_checked_without_panic() {
    let corpus = corpus_dir();
    let files = flow_files(&corpus);
    assert!(
        files.len() > 450,
        "corpus not found at {}",
        corpus.display()
    );
    for path in files {
        for options in [Options::default(), ALLOW_UNKNOWN] {
            let report = check_file(&path, &corpus, options);
            // Rendering walks every span: a span outside the text would panic here.
            let _ = human(&report);
            let _ = kflow_compiler::diag::render_json(std::slice::from_ref(&report));
        }
    }
}

/// `file:line:code<TAB>reason` lines; `#` starts a comment.
fn known_list(name: &str) -> BTreeMap<String, String> {
    let path = project_dir().join("tests").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, reason) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("{name}: `{l}` has no tab-separated reason"));
            assert!(!reason.trim().is_empty(), "{name}: `{key}` needs a reason");
            (key.trim().to_string(), reason.trim().to_string())
        })
        .collect()
}
