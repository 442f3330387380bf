//! The compiler and the runtime agree, checked in process (no cargo build): flows are checked
//! as `kflowc build` checks them, lowered, printed as the plan JSON the binary embeds, read back
//! as the binary reads it, and run through the binary's own command line (`cli::run_cli`).
//!
//! - every runnable type's registry entry is the runtime's own definition, every property it
//!   declares is read by its implementation, and its outputs have the declared types;
//! - no property the checker accepts is dropped on its way to the plan without a warning;
//! - every context name the checker accepts exists in a real run;
//! - templated `timeout`, `retry.interval` and input bounds behave as written.

use std::fmt::Write as _;

use kflow_compiler::diag::Code;
use kflow_compiler::plugins::{self, PluginDef, PluginKind, PropType, ValueType};
use kflow_compiler::{check_source, source::SourceFile, Options};
use kflow_runtime::tasks;
use kflow_tests::{lowered, run_in_process as run, task_run};
use serde_json::{json, Map, Value};

const BUILD: Options = Options {
    allow_unknown_types: false,
    runnable: true,
};

/// A value of this shape that a task accepts and can run with.
fn sample(name: &str, ty: &PropType) -> Value {
    match ty {
        // `condition`s: false, so that Fail does not fail.
        PropType::String if name == "condition" => json!("false"),
        PropType::String if name.ends_with("Date") => json!("2024-01-01T00:00:00Z"),
        // TemplatedTask: one runnable task, as YAML.
        PropType::String if name == "spec" => {
            json!("id: inner\ntype: io.kestra.plugin.core.debug.Return\nformat: ok")
        }
        // A file the flow stored first (see `SEED`).
        PropType::String if matches!(name, "uri" | "from") => json!("{{ outputs.seed.uri }}"),
        PropType::OneOf(_) if name == "files" => json!(["{{ outputs.seed.uri }}"]),
        PropType::OneOf(_) if name == "filesMap" => json!({ "k.txt": "{{ outputs.seed.uri }}" }),
        // `storage.Split` takes one of `rows`, `bytes`, `partitions`: `rows` is set.
        PropType::String if name == "bytes" => Value::Null,
        PropType::Int if name == "partitions" => Value::Null,
        // The sample flow's own (a state holds one flow).
        PropType::String if name == "namespace" => json!("t"),
        PropType::String if name == "flowId" => json!("sample"),
        // Converters read and write UTF-8 text with one-character separators.
        PropType::String if name == "charset" => json!("UTF-8"),
        PropType::String if name == "fieldSeparator" => json!(";"),
        PropType::String | PropType::Any => json!("x"),
        PropType::Int => json!(2),
        PropType::Number => json!(1.5),
        // A missing KV key is then not an error.
        PropType::Bool if name == "errorOnMissing" => json!(false),
        PropType::Bool => json!(true),
        PropType::Duration => json!("PT0S"),
        PropType::Enum(values) => json!(values[0]),
        PropType::List(item) => json!([sample(name, item)]),
        PropType::Map(item) => json!({ "k": sample(name, item) }),
        PropType::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|f| (f.name.to_string(), sample(f.name, &f.ty)))
                .collect(),
        ),
        PropType::OneOf(shapes) => sample(name, &shapes[0]),
        PropType::Tasks | PropType::TaskMap | PropType::Plugin(_) => Value::Null,
    }
}

/// A task that stores a file, for the types that read one: lines that are JSON, Ion and CSV.
const SEED: &str =
    "  - id: seed\n    type: io.kestra.plugin.core.storage.Write\n    content: \"1\\n2\\n\"\n";

fn runnable_types() -> impl Iterator<Item = &'static PluginDef> {
    tasks::DEFINITIONS.iter().filter(|d| !d.flowable)
}

/// Whether `value` has the declared type (null stands for "not set", as in Kestra).
fn conforms(value: &Value, ty: &ValueType) -> bool {
    match (ty, value) {
        (_, Value::Null) | (ValueType::Any, _) => true,
        (
            ValueType::String | ValueType::Uri | ValueType::DateTime | ValueType::Duration,
            Value::String(_),
        ) => true,
        (ValueType::Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (ValueType::Number, Value::Number(_)) | (ValueType::Bool, Value::Bool(_)) => true,
        (ValueType::List(item), Value::Array(items)) => items.iter().all(|i| conforms(i, item)),
        (ValueType::Map(item), Value::Object(map)) => map.values().all(|v| conforms(v, item)),
        (ValueType::Object(fields), Value::Object(map)) => {
            map.keys().all(|k| fields.iter().any(|f| f.name == k))
                && fields
                    .iter()
                    .all(|f| map.get(f.name).is_none_or(|v| conforms(v, &f.ty)))
        }
        _ => false,
    }
}

#[test]
fn every_runnable_type_is_its_own_definition_reads_every_property_and_has_its_outputs() {
    let mut checked = 0;
    for definition in runnable_types() {
        // The checker's registry entry is the runtime's definition itself, under every name.
        for name in std::iter::once(definition.name).chain(definition.aliases.iter().copied()) {
            let entry = plugins::lookup(PluginKind::Task, name).expect("registered");
            assert!(
                std::ptr::eq(entry, definition),
                "{name}: the registry holds a second copy"
            );
        }
        // Every declared property is a field of the type's properties struct.
        let all: Map<String, Value> = definition
            .properties
            .iter()
            .map(|p| (p.name.to_string(), sample(p.name, &p.ty)))
            .collect();
        tasks::validate_properties(definition.name, Value::Object(all.clone()))
            .unwrap_or_else(|e| panic!("{}: {e}", definition.name));
        // A Subflow needs a second flow, and ForEachItem's three tasks run only as its parts:
        // `tests/tests/bundle.rs` runs them in binaries of several flows. HTTP tasks,
        // notifications and scripts need a server or a program: `http_tasks.rs`,
        // `notify_tasks.rs` and `script_tasks.rs` run them against real ones.
        if definition.name.contains('$')
            || definition.name.ends_with(".flow.Subflow")
            || definition.feature.is_some()
            || definition.working_dir
        {
            checked += 1;
            continue;
        }

        // A run with every property set: its outputs have the declared names and types.
        // LocalFiles and UploadFiles's `files` work in a WorkingDirectory's folder: they run
        // inside one.
        let (open, indent) = if definition.name.ends_with(".LocalFiles")
            || definition.name.ends_with(".UploadFiles")
        {
            (
                "  - id: folder\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    tasks:\n",
                "    ",
            )
        } else {
            ("", "")
        };
        let mut yaml = format!(
            "id: sample\nnamespace: t\ntasks:\n{SEED}{open}{indent}  - id: it\n{indent}    type: {}\n",
            definition.name
        );
        for (name, value) in &all {
            let _ = writeln!(yaml, "{indent}    {name}: {value}");
        }
        let flow = lowered(&yaml);
        let (_, summary, err) = run(&flow, &[]);
        let it = task_run(&summary, "it");
        assert_eq!(
            it["state"], "SUCCESS",
            "{}: {summary} {err}",
            definition.name
        );
        let outputs = it["outputs"].clone();
        if definition.name == "io.kestra.plugin.core.templating.TemplatedTask" {
            // Its outputs are the templated task's: here Return's.
            assert_eq!(outputs, json!({"value": "ok"}));
            checked += 1;
            continue;
        }
        assert!(
            conforms(&outputs, &ValueType::Object(definition.outputs)),
            "{}: outputs {outputs} do not match the definition",
            definition.name
        );
        for output in definition.outputs.iter().filter(|o| o.only_with.is_none()) {
            assert!(
                outputs.get(output.name).is_some(),
                "{}: declared output `{}` missing from {outputs}",
                definition.name,
                output.name
            );
        }
        checked += 1;
    }
    assert!(checked >= 8, "{checked} runnable types");
}

/// Every property of a flowable type either reaches the plan or is warned about as ignored.
#[test]
fn no_property_of_a_flowable_type_is_dropped_silently() {
    let child = "[{id: child, type: io.kestra.plugin.core.log.Log, message: hi}]";
    for definition in tasks::DEFINITIONS.iter().filter(|d| d.flowable) {
        for property in definition.properties {
            if matches!(property.ty, PropType::Tasks | PropType::TaskMap)
                || matches!(property.name, "errors" | "finally" | "tasks")
            {
                continue;
            }
            // The type's required slots and values, then the property under test with a value
            // that can be found in the plan.
            let mut yaml = format!(
                "id: drop\nnamespace: t\ntasks:\n  - id: it\n    type: {}\n",
                definition.name
            );
            for other in definition.properties.iter().filter(|p| p.required) {
                let value = match other.ty {
                    PropType::Tasks => child.to_string(),
                    // A Dag's `tasks` are `{task, dependsOn}` entries.
                    _ if other.name == "tasks" => {
                        format!("[{{task: {}}}]", &child[1..child.len() - 1])
                    }
                    _ if other.name == property.name => continue,
                    _ => sample(other.name, &other.ty).to_string(),
                };
                let _ = writeln!(yaml, "    {}: {value}", other.name);
            }
            if definition.property("tasks").is_some_and(|p| !p.required) {
                let _ = writeln!(yaml, "    tasks: {child}");
            }
            if definition.name.ends_with(".Switch") {
                let _ = writeln!(yaml, "    cases: {{a: {child}}}");
            }
            let marker = match property.ty {
                PropType::Int => json!(7),
                PropType::Duration => json!("PT7S"),
                PropType::Plugin(_) => {
                    json!({"id": "hook", "type": "io.kestra.plugin.core.log.Log", "message": "marker"})
                }
                // The last constant (the first is usually the default, which need not be kept).
                PropType::Enum(values) => json!(values[values.len() - 1]),
                // A flag written as is (ForEachItem's `wait`): found by its name.
                PropType::Bool if !property.dynamic => json!(false),
                // A template, which a dynamic boolean may be.
                PropType::Bool => json!(format!("{{{{ 'marker-{}' == 'x' }}}}", property.name)),
                // An object (`checkFrequency`, `cache`, `namespaceFiles`): each field marked.
                PropType::Object(fields) => Value::Object(
                    fields
                        .iter()
                        .map(|f| {
                            let value = match f.ty {
                                PropType::Int => json!(7),
                                PropType::Bool => json!(true),
                                PropType::Enum(values) => json!(values[values.len() - 1]),
                                PropType::List(_) => json!([format!("marker-{}", f.name)]),
                                PropType::String => json!(format!("marker-{}", f.name)),
                                _ => json!("PT7S"),
                            };
                            (f.name.to_string(), value)
                        })
                        .collect(),
                ),
                // A list of strings (`outputFiles`).
                PropType::List(PropType::String) => json!([format!("marker-{}", property.name)]),
                // A map (a ForEachItem's `inputs`, `labels`): one marked entry.
                PropType::Map(_) | PropType::OneOf(_) => {
                    json!({"k": format!("marker-{}", property.name)})
                }
                // Input declarations (a Pause's `onResume`).
                _ if property.name == "onResume" => {
                    json!([{"id": format!("marker-{}", property.name), "type": "STRING"}])
                }
                _ => json!(format!("marker-{}", property.name)),
            };
            let _ = writeln!(yaml, "    {}: {marker}", property.name);
            let checked = check_source(SourceFile::new("flow.yml", yaml.clone()), BUILD);
            let warned = checked
                .report
                .diagnostics
                .iter()
                .any(|d| d.code == Code::Ignored && d.message.contains(property.name));
            if property.not_run_yet {
                assert!(
                    warned,
                    "{} `{}`: no warning",
                    definition.name, property.name
                );
                continue;
            }
            assert!(!warned, "{} `{}`: warned", definition.name, property.name);
            let plan = lowered(&yaml).to_json();
            let found = match &marker {
                Value::Bool(_) => plan.contains(&format!("\"{}\"", property.name)),
                Value::Number(_) => plan.contains(":7"),
                Value::String(text) if text == "PT7S" => plan.contains("\"secs\":7"),
                Value::String(text) => plan.contains(text.as_str()),
                Value::Object(fields) if matches!(property.ty, PropType::Object(_)) => {
                    fields.values().all(|v| match v {
                        Value::Number(_) => plan.contains(":7"),
                        Value::Bool(_) => true,
                        Value::String(text) if text == "PT7S" => {
                            plan.contains("\"secs\":7") || plan.contains("PT7S")
                        }
                        Value::String(text) => plan.contains(text.as_str()),
                        Value::Array(items) => items
                            .iter()
                            .all(|i| plan.contains(i.as_str().unwrap_or("marker"))),
                        _ => false,
                    })
                }
                _ => plan.contains("marker"),
            };
            assert!(
                found,
                "{} `{}` does not reach the plan: {plan}",
                definition.name, property.name
            );
        }
    }
}

/// `examples/core/context.yml` reads every fixed context variable; each exists at run time.
#[test]
fn every_context_name_the_checker_accepts_renders_in_a_run() {
    let yaml =
        std::fs::read_to_string(kflow_tests::project_dir().join("examples/core/context.yml"))
            .unwrap();
    // The flow reads every variable the runtime publishes.
    for variable in kflow_runtime::context::VARIABLES {
        assert!(
            yaml.contains(&format!("{{{{ {}", variable.name))
                || yaml.contains(&format!("{}.", variable.name)),
            "context.yml does not read `{}`",
            variable.name
        );
    }
    let flow = lowered(&yaml);
    let (code, summary, err) = run(&flow, &[]);
    assert_eq!(code, 0, "{summary} {err}");
    assert_eq!(summary["state"], "SUCCESS");
    // In a ForEach, `parent` is the ForEach's own task run (its value: none, it is not in a
    // loop itself); `taskrun.parentId` is that run.
    let item = task_run(&summary, "item");
    let expected = format!(
        "a#0 in  (1 up), run {}",
        item["parent_task_run_id"].as_str().unwrap()
    );
    assert_eq!(item["outputs"]["value"], expected.as_str());
    assert_eq!(
        task_run(&summary, "states")["outputs"]["value"],
        format!("SUCCESS {expected}").as_str()
    );
    // `workingDir` is a real folder while the WorkingDirectory runs, gone after it.
    let inside = task_run(&summary, "inside")["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, dir) = inside.split_once(" in ").expect("a folder");
    assert!(dir.contains("kflow-"), "{inside}");
    assert!(!std::path::Path::new(dir).exists(), "{dir} is left behind");
}

/// Templates in `timeout`, `retry.interval` and input bounds reach the binary and act there.
#[test]
fn templated_timeout_retry_interval_and_input_bounds_behave_as_written() {
    let flow = lowered(
        r#"
id: templated
namespace: t
inputs:
  - id: limit
    type: STRING
    defaults: PT0.2S
  - id: pause
    type: STRING
    defaults: PT0.1S
  - id: count
    type: INT
    defaults: 5
    min: 1
    max: 10
tasks:
  - id: slow
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5S
    timeout: "{{ inputs.limit }}"
    allowFailure: true
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    retry:
      type: constant
      interval: "{{ inputs.pause }}"
      maxAttempt: 3
    allowFailure: true
"#,
    );
    let started = std::time::Instant::now();
    let (code, summary, err) = run(&flow, &[]);
    let elapsed = started.elapsed();
    assert_eq!(code, 0, "{summary} {err}");
    // The timeout of 0.2 s stopped a 5 s sleep.
    assert_eq!(task_run(&summary, "slow")["state"], "WARNING");
    // Three attempts, 0.1 s apart.
    assert_eq!(
        task_run(&summary, "flaky")["attempts"]
            .as_array()
            .map_or(0, Vec::len),
        3,
        "{summary}"
    );
    assert!(
        elapsed >= std::time::Duration::from_millis(400),
        "{elapsed:?}"
    );
    assert!(elapsed < std::time::Duration::from_secs(4), "{elapsed:?}");
    // The bounds are enforced.
    let (code, _, err) = run(&flow, &["--input", "count=11"]);
    assert_eq!(code, 2);
    assert!(err.contains("count"), "{err}");
    let (code, _, err) = run(&flow, &["--input", "count=0"]);
    assert_eq!(code, 2, "{err}");
    let (code, summary, _) = run(&flow, &["--input", "count=10"]);
    assert_eq!(code, 0, "{summary}");
}

/// A template that fails at run time names the flow file, line and column of the expression.
#[test]
fn a_failing_template_names_its_yaml_position() {
    let yaml = "id: positions\nnamespace: t\ninputs:\n  - id: data\n    type: JSON\n    defaults: '{}'\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"value: {{ inputs.data.missing }}\"\n";
    let flow = lowered(yaml);
    let kflow_runtime::plan::TaskKind::Run { properties } = &flow.tasks[0].kind else {
        panic!("a runnable task");
    };
    let vars = json!({ "inputs": { "data": {} } });
    let error = properties[0]
        .1
        .render(vars.as_object().unwrap(), &kflow_runtime::expr::NoHost)
        .expect_err("`missing` is not there");
    let at = error.at.expect("a position");
    // Line 10, column 37: the attribute that is missing (`{{` is at 22), as `check` points.
    assert_eq!((at.line, at.column), (10, 37), "{error:?}");
    assert!(
        error
            .describe("flow.yml")
            .ends_with(&format!("(flow.yml:10:{})", at.column)),
        "{}",
        error.describe("flow.yml")
    );
    // The binary's log line carries it (logs go to stderr; the run fails).
    let (code, summary, _) = run(&flow, &[]);
    assert_eq!(code, 1);
    assert_eq!(summary["state"], "FAILED");
}

/// A Dag starts independent tasks together and each task once what it depends on has ended.
#[test]
fn a_dag_runs_independent_tasks_together_and_respects_depends_on() {
    let flow = lowered(
        r"
id: dag
namespace: t
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: join
          type: io.kestra.plugin.core.debug.Return
          format: joined
        dependsOn: [left, right]
      - task:
          id: left
          type: io.kestra.plugin.core.flow.Sleep
          duration: PT0.4S
      - task:
          id: right
          type: io.kestra.plugin.core.flow.Sleep
          duration: PT0.4S
",
    );
    let started = std::time::Instant::now();
    let (code, summary, err) = run(&flow, &[]);
    let elapsed = started.elapsed();
    assert_eq!(code, 0, "{err}");
    let order: Vec<&str> = summary["task_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["task_id"].as_str().unwrap())
        .collect();
    // `join` is written first but starts last, once both sleeps have ended.
    assert_eq!(order, ["dag", "left", "right", "join"]);
    assert_eq!(task_run(&summary, "join")["state"], "SUCCESS");
    // The two sleeps overlapped: well under the 0.8 s they take one after the other.
    assert!(
        elapsed < std::time::Duration::from_millis(750),
        "{elapsed:?}"
    );
}

/// `Assert` passes when every condition holds and fails when one does not (the log lines it
/// writes are the binary's: in process they are not captured).
#[test]
fn assert_fails_with_each_false_condition_logged() {
    let yaml = "id: asserts\nnamespace: t\ninputs:\n  - id: n\n    type: INT\n    defaults: 3\ntasks:\n  - id: holds\n    type: io.kestra.plugin.core.execution.Assert\n    conditions:\n      - \"{{ inputs.n == 3 }}\"\n      - \"{{ inputs.n > 0 }}\"\n  - id: breaks\n    type: io.kestra.plugin.core.execution.Assert\n    errorMessage: \"n is {{ inputs.n }}\"\n    conditions:\n      - \"{{ inputs.n > 5 }}\"\n      - \"{{ inputs.n == 3 }}\"\n      - \"{{ inputs.n < 0 }}\"\n";
    let (code, summary, err) = run(&lowered(yaml), &[]);
    assert_eq!(code, 1, "{summary} {err}");
    assert_eq!(task_run(&summary, "holds")["state"], "SUCCESS");
    assert_eq!(task_run(&summary, "breaks")["state"], "FAILED");
}
