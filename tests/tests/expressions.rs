//! Kestra's own expression tests, as case files under `tests/cases/expr/`, run through the
//! runtime's evaluator: the same string, or an error where Kestra fails.

use std::collections::BTreeSet;

use kflow_runtime::expr::{self, library, NoHost};
use kflow_tests::{project_dir, read_expr_cases, Expect, ExprCase};

fn all_cases() -> Vec<ExprCase> {
    let dir = project_dir().join("tests/cases/expr");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "case"))
        .collect();
    files.sort();
    files.iter().flat_map(|f| read_expr_cases(f)).collect()
}

#[test]
fn every_case_renders_as_kestra_does() {
    let cases = all_cases();
    assert!(
        cases.len() > 100,
        "expected the case folder, found {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let result = expr::render_str(&case.template, &case.vars, &NoHost);
        let problem = match (&case.expect, &result) {
            (Expect::Output(want), Ok(got)) if want == got => None,
            (Expect::OutputContains(want), Ok(got)) if got.contains(want.as_str()) => None,
            // The body is Kestra's message, kept for reference; kflow words its own errors.
            (Expect::Error(_), Err(_)) => None,
            (want, got) => Some(format!("want {want:?}, got {got:?}")),
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "{} / {}: {problem}\n    template: {}",
                case.file, case.name, case.template
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Kestra:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every filter, function and test the library offers is exercised by at least one case.
#[test]
fn every_filter_function_and_test_has_a_case() {
    let cases = all_cases();
    let mut used_filters = BTreeSet::new();
    let mut used_functions = BTreeSet::new();
    let mut used_tests = BTreeSet::new();
    for case in &cases {
        if let Ok(template) = expr::parse(&case.template) {
            expr::walk::names(&template, &mut |kind, name| {
                match kind {
                    expr::walk::NameKind::Filter => used_filters.insert(name.to_string()),
                    expr::walk::NameKind::Function => used_functions.insert(name.to_string()),
                    expr::walk::NameKind::Test => used_tests.insert(name.to_string()),
                };
            });
        }
    }
    let missing: Vec<String> = library::filter_names()
        .into_iter()
        .filter(|n| !used_filters.contains(*n))
        .map(|n| format!("filter {n}"))
        .chain(
            library::function_names()
                .into_iter()
                .filter(|n| !used_functions.contains(*n))
                .map(|n| format!("function {n}")),
        )
        .chain(
            library::test_names()
                .into_iter()
                .filter(|n| !used_tests.contains(*n))
                .map(|n| format!("test {n}")),
        )
        .collect();
    assert!(
        missing.is_empty(),
        "no evaluation case for: {}",
        missing.join(", ")
    );
}
