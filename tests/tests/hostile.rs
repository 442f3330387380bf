//! Hostile input gets a clear error, within a bound, and never aborts: templates nested past
//! any stack, renders that would grow without end, alias bombs measured in bytes, mappings
//! with hundreds of thousands of keys. Each case runs on a test thread (2 MiB of stack), so a
//! recursion that is not bounded would overflow here.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use kflow_compiler::diag::Code;
use kflow_compiler::{check_source, source::SourceFile, Options};
use kflow_runtime::expr::{self, NoHost};
use kflow_tests::{lowered, run_in_process, task_run};
use serde_json::Map;

/// Templates nested far past [`expr::parser::MAX_NESTING`], one per way of nesting.
fn deep_templates() -> Vec<(&'static str, String)> {
    let n = 5_000;
    vec![
        (
            "parentheses",
            format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n)),
        ),
        (
            "lists",
            format!("{{{{ {}{} }}}}", "[".repeat(n), "]".repeat(n)),
        ),
        (
            "maps",
            format!("{{{{ {}1{} }}}}", "{'a': ".repeat(n), "}".repeat(n)),
        ),
        ("unary minus", format!("{{{{ {}1 }}}}", "-".repeat(n))),
        ("not", format!("{{{{ {}true }}}}", "not ".repeat(n))),
        ("a + chain", format!("{{{{ 1{} }}}}", " + 1".repeat(n))),
        (
            "a filter chain",
            format!("{{{{ 1{} }}}}", " | abs".repeat(n)),
        ),
        (
            "an attribute chain",
            format!("{{{{ a{} }}}}", ".b".repeat(n)),
        ),
        ("an index chain", format!("{{{{ a{} }}}}", "[0]".repeat(n))),
        (
            "a ternary chain",
            format!("{{{{ {}1 }}}}", "true ? 1 : ".repeat(n)),
        ),
        (
            "if tags",
            format!(
                "{}x{}",
                "{% if true %}".repeat(10_000),
                "{% endif %}".repeat(10_000)
            ),
        ),
        (
            "for tags",
            format!(
                "{}x{}",
                "{% for i in [1] %}".repeat(10_000),
                "{% endfor %}".repeat(10_000)
            ),
        ),
    ]
}

#[test]
fn deeply_nested_templates_are_syntax_errors_not_stack_overflows() {
    for (what, template) in deep_templates() {
        let started = Instant::now();
        let error = expr::parse(&template).expect_err(what);
        assert!(
            error.message.contains("levels deep"),
            "{what}: {}",
            error.message
        );
        // `kflowc check` reports it as KF401 at its position inside the YAML string.
        let yaml = format!(
            "id: deep\nnamespace: t\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: '{}'\n",
            template.replace('\'', "''")
        );
        let checked = check_source(SourceFile::new("deep.yml", yaml), Options::default());
        let codes: Vec<Code> = checked.report.diagnostics.iter().map(|d| d.code).collect();
        assert!(codes.contains(&Code::ExpressionSyntax), "{what}: {codes:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: too slow"
        );
    }
}

#[test]
fn renders_that_grow_without_end_fail_naming_the_limit() {
    let vars = Map::new();
    let cases = [
        (
            "a string doubled in a loop",
            "{% set s = 'ab' %}{% for i in range(1, 60) %}{% set s = s ~ s %}{% endfor %}{{ s | length }}",
            "larger than",
        ),
        (
            "nested range loops",
            "{% for i in range(1, 100000) %}{% for j in range(1, 100000) %}{% endfor %}{% endfor %}",
            "steps",
        ),
        (
            "output that grows past the limit",
            "{% for i in range(1, 1000000) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}{% endfor %}",
            "",
        ),
        (
            "a range wider than i64",
            "{{ range(-9000000000000000000, 9000000000000000000) | length }}",
            "too large",
        ),
    ];
    for (what, template, expected) in cases {
        let started = Instant::now();
        let error = expr::render_str(template, &vars, &NoHost).expect_err(what);
        assert!(
            error.message.contains(expected),
            "{what}: {}",
            error.message
        );
        // Debug builds are slow; release takes about a second for the largest budget.
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "{what}: too slow"
        );
    }
}

/// A hostile template given as an input and `render()`ed by a task fails that task; the flow's
/// `finally` still runs and the execution ends FAILED, recorded, instead of aborting.
#[test]
fn a_hostile_input_rendered_at_run_time_fails_its_task_only() {
    let flow = lowered(
        r"
id: rendered
namespace: t
inputs:
  - id: text
    type: STRING
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: '{{ render(inputs.text) }}'
finally:
  - id: always
    type: io.kestra.plugin.core.debug.Return
    format: done
",
    );
    for (what, hostile) in [
        (
            "nesting",
            format!("{{{{ {}1{} }}}}", "(".repeat(5_000), ")".repeat(5_000)),
        ),
        (
            "growth",
            "{% set s = 'ab' %}{% for i in range(1, 60) %}{% set s = s ~ s %}{% endfor %}{{ s }}"
                .to_string(),
        ),
    ] {
        let input = format!("text={hostile}");
        let (code, summary, err) = run_in_process(&flow, &["--input", &input]);
        assert_eq!(code, 1, "{what}: {err}");
        assert_eq!(summary["state"], "FAILED", "{what}");
        assert_eq!(task_run(&summary, "show")["state"], "FAILED", "{what}");
        assert_eq!(task_run(&summary, "always")["state"], "SUCCESS", "{what}");
    }
}

/// One long string repeated by many aliases is refused by the bytes it would take, before
/// they are taken; a mapping of 200,000 keys is read in linear time.
#[test]
fn alias_bombs_in_bytes_and_huge_mappings_are_bounded() {
    let big = "y".repeat(1_000_000);
    let aliases = vec!["*x"; 100_000].join(", ");
    let yaml = format!(
        "id: b\nnamespace: t\nvariables:\n  a: &x \"{big}\"\n  b: [{aliases}]\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    );
    let started = Instant::now();
    let checked = check_source(SourceFile::new("bomb.yml", yaml), Options::default());
    assert!(
        checked
            .report
            .diagnostics
            .iter()
            .any(|d| d.code == Code::UnsupportedYaml && d.message.contains("MiB of text")),
        "{:?}",
        checked.report.diagnostics
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let mut yaml = String::from(
        "id: big\nnamespace: t\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\nvariables:\n",
    );
    for i in 0..200_000 {
        let _ = writeln!(yaml, "  key_{i}: {i}");
    }
    let started = Instant::now();
    let checked = check_source(SourceFile::new("big.yml", yaml), Options::default());
    assert_eq!(checked.report.error_count(), 0);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// A task's `timeout` bounds the rendering of its properties too: a template that would take
/// seconds fails at the timeout.
#[test]
fn rendering_honours_the_task_timeout() {
    let flow = lowered(
        r"
id: slow_render
namespace: t
tasks:
  - id: heavy
    type: io.kestra.plugin.core.log.Log
    timeout: PT0.3S
    message: '{% for i in range(1, 100000) %}{% for j in range(1, 100000) %}{% endfor %}{% endfor %}'
",
    );
    let started = Instant::now();
    let (code, summary, _) = run_in_process(&flow, &[]);
    let elapsed = started.elapsed();
    assert_eq!(code, 1);
    assert_eq!(task_run(&summary, "heavy")["state"], "FAILED");
    // The whole step budget takes seconds in a debug build; the timeout stops it first.
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}
