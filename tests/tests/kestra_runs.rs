//! Kestra's own runner tests, as data (`tests/cases/kestra-runs.json`, one entry per flow run
//! a test makes, with what it asserts): each flow of `../shared/corpus/kestra/valids` is built
//! into a binary, run with the test's inputs and labels, and must end the way Kestra's test
//! says: state, number of task runs, per-task states, attempts and outputs, flow outputs,
//! labels. Differences kflow makes on purpose are listed with reasons in
//! `tests/cases/kestra-runs-known.txt`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use kflow_tests::{build_flow, corpus_dir, project_dir};
use serde_json::{json, Value};

/// Run one entry; returns the problems found (empty: Kestra's assertions hold).
/// A corpus flow built with the flows it starts as subflows (found beside it) and the files
/// `with` names (flows whose Flow triggers listen to it): the binary, and the flow to name to
/// `run` when the binary hosts several.
fn build_with_companions(
    path: &Path,
    with: &[PathBuf],
) -> Result<(PathBuf, Option<String>), String> {
    let mut companions = kflow_tests::companions(path);
    for extra in with {
        if !companions.contains(extra) {
            companions.push(extra.clone());
        }
    }
    if companions.is_empty() {
        return build_flow(path).map(|binary| (binary, None));
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let flow = kflow_compiler::check_source(
        kflow_compiler::source::SourceFile::new(path, text),
        kflow_compiler::Options::default(),
    )
    .flow
    .ok_or_else(|| format!("{} does not parse", path.display()))?;
    let name = format!("{}.{}", flow.namespace.value, flow.id.value);
    let mut paths = vec![path.to_path_buf()];
    paths.extend(companions);
    let bin = format!("bundle_{}", flow.id.value.replace('-', "_"));
    kflow_tests::build_flows(&paths, &bin).map(|binary| (binary, Some(name)))
}

fn check_entry(entry: &Value, binary: &Path, flow: Option<&str>, n: usize) -> Vec<String> {
    let state = std::env::temp_dir().join(format!("kflow-kestra-runs-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    // `serve`: the binary's Flow triggers run meanwhile (they see the run end).
    let serve = entry.get("serve").and_then(Value::as_bool).unwrap_or(false);
    let serving = serve.then(|| {
        let log = state.with_extension("serve.log");
        let child = kflow_tests::start_serve(binary, &state, &log, &[], &[]);
        kflow_tests::wait_for_log(&log, "serving the triggers");
        child
    });
    let (mut problems, main_id) = run_entry(entry, binary, flow, &state);
    if let Some(Value::Array(others)) = entry.get("others") {
        problems.extend(check_others(others, binary, &state, main_id.as_deref()));
    }
    if let Some(child) = serving {
        kflow_tests::terminate(child);
    }
    problems
}

/// What Kestra's test asserts of the other executions the run led to (subflows, executions
/// Flow triggers started): for each `flow`, `count` executions, each ended in `state`, with
/// `labels` and `trigger` (`<execution.id>`: the run's), and `outputs_in_order`: the flow
/// outputs of each, oldest first. Waits up to a minute for them.
fn check_others(
    others: &[Value],
    binary: &Path,
    state: &Path,
    main_id: Option<&str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let listed = || -> Vec<Value> { kflow_tests::executions(binary, state) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    for want in others {
        let flow = want["flow"].as_str().unwrap_or_default();
        // `count`: exactly; `count_min`: at least.
        let exact = want.get("count").and_then(Value::as_u64);
        if exact == Some(0) {
            // None may come: give `serve` (it looks every second) the time to start a wrong one.
            std::thread::sleep(std::time::Duration::from_millis(2500));
        }
        let count = exact
            .or_else(|| want.get("count_min").and_then(Value::as_u64))
            .unwrap_or(1);
        let found = loop {
            let ended: Vec<Value> = listed()
                .into_iter()
                .filter(|e| e["flow_id"] == flow && e["ended_ms"].is_u64())
                .collect();
            if ended.len() as u64 >= count || std::time::Instant::now() > deadline {
                break ended;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let wrong = match exact {
            Some(_) => found.len() as u64 != count,
            None => (found.len() as u64) < count,
        };
        if wrong {
            problems.push(format!(
                "{} ended executions of `{flow}` (want {count})",
                found.len()
            ));
            continue;
        }
        if let Some(Value::Array(wanted)) = want.get("outputs_in_order") {
            // Listed newest first: reversed, in the order they were created.
            let have: Vec<&Value> = found.iter().rev().map(|e| &e["outputs"]).collect();
            if have.iter().copied().ne(wanted.iter()) {
                problems.push(format!(
                    "`{flow}` outputs, oldest first: {have:?} (want {wanted:?})"
                ));
            }
        }
        for execution in &found {
            if let Some(state) = want.get("state") {
                if &execution["state"] != state {
                    problems.push(format!(
                        "`{flow}` execution {}: state {} (want {state})",
                        execution["id"], execution["state"]
                    ));
                }
            }
            for key in ["labels", "trigger", "inputs"] {
                for (k, v) in want
                    .get(key)
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let have = &execution[key][k];
                    let matches = match v.as_str() {
                        Some("<any>") => !have.is_null(),
                        Some(text) if text.contains("<execution.id>") => {
                            let wanted = text.replace("<execution.id>", main_id.unwrap_or("?"));
                            have.as_str() == Some(wanted.as_str())
                        }
                        _ => have == v,
                    };
                    if !matches {
                        problems.push(format!(
                            "`{flow}` execution {}: {key}.{k} is {have} (want {v})",
                            execution["id"]
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// The entry's run and the steps after it (`then`).
fn run_entry(
    entry: &Value,
    binary: &Path,
    flow: Option<&str>,
    state: &Path,
) -> (Vec<String>, Option<String>) {
    let mut problems = Vec::new();
    let mut command = Command::new(binary);
    command.arg("run").args(flow).arg("--state").arg(state);
    // FILE inputs: the content given, written to a local file whose path is the value.
    let mut given = entry
        .get("inputs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (name, content) in entry
        .get("input_files")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let file = state.with_extension(format!("{name}.txt"));
        std::fs::write(&file, content.as_str().unwrap_or_default()).expect("temp file");
        given.insert(name.clone(), Value::String(file.display().to_string()));
    }
    if !given.is_empty() {
        let inputs = &given;
        // Kestra's harness passed these raw; strings are what a command line gives.
        let inputs: serde_json::Map<String, Value> = inputs
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if v.is_string() {
                        v.clone()
                    } else {
                        Value::String(v.to_string())
                    },
                )
            })
            .collect();
        let file = state.with_extension("inputs.json");
        std::fs::write(&file, Value::Object(inputs).to_string()).expect("temp file");
        command.arg("--inputs").arg(&file);
    }
    if let Some(Value::Object(labels)) = entry.get("run_labels") {
        for (k, v) in labels {
            command
                .arg("--label")
                .arg(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    if let Some(Value::Object(env)) = entry.get("env") {
        for (k, v) in env {
            command.env(k, v.as_str().unwrap_or_default());
        }
    }
    let output = command.output().expect("the binary runs");
    let Some(summary) = last_summary(&output, &mut problems) else {
        return (problems, None);
    };
    let main_id = summary["id"].as_str().map(str::to_string);
    problems.extend(check_summary(entry, &summary));
    // What the test does next: to the recorded execution (`restart`, `resume`, `replay`,
    // `kill`), or a new `run` of the flow on the same state, each with what Kestra asserts once
    // it has ended.
    for (index, step) in entry
        .get("then")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let action = step["action"].as_str().unwrap_or_default();
        let id = summary["id"].as_str().unwrap_or_default();
        let mut command = Command::new(binary);
        command.arg(action);
        if action == "run" {
            // Another flow of the binary (`flow`), or the entry's own.
            match step.get("flow").and_then(Value::as_str) {
                Some(other) => command.arg(other),
                None => command.args(flow),
            };
        } else {
            command.arg(id);
        }
        command.arg("--state").arg(state);
        if action != "kill" {
            command.args(["--format", "json"]);
        }
        if let Some(task) = step.get("from_task").and_then(Value::as_str) {
            let run = summary["task_runs"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["task_id"] == task);
            command
                .arg("--from")
                .arg(run.map_or("", |r| r["task_run_id"].as_str().unwrap_or_default()));
        }
        if let Some(Value::Object(inputs)) = step.get("inputs") {
            for (k, v) in inputs {
                command
                    .arg("--input")
                    .arg(format!("{k}={}", v.as_str().unwrap_or_default()));
            }
        }
        let output = command.output().expect("the binary runs");
        let label = format!("then #{} ({action})", index + 1);
        if let Some(want) = step.get("exit").and_then(Value::as_i64) {
            if output.status.code() != Some(i32::try_from(want).unwrap_or(-1)) {
                problems.push(format!(
                    "{label}: exit {:?} (want {want})",
                    output.status.code()
                ));
            }
            for (stream, text) in [("stderr", &output.stderr), ("stdout", &output.stdout)] {
                let key = format!("{stream}_contains");
                if let Some(want) = step.get(&key).and_then(Value::as_str) {
                    if !String::from_utf8_lossy(text).contains(want) {
                        problems.push(format!("{label}: {stream} lacks `{want}`"));
                    }
                }
            }
            continue;
        }
        let Some(after) = last_summary(&output, &mut problems) else {
            return (problems, main_id);
        };
        problems.extend(
            check_summary(step, &after)
                .into_iter()
                .map(|p| format!("{label}: {p}")),
        );
    }
    (problems, main_id)
}

/// The summary a run printed last (its JSON line), or a problem saying why there is none.
fn last_summary(output: &std::process::Output, problems: &mut Vec<String>) -> Option<Value> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<Value>(l).ok());
    if summary.is_none() {
        problems.push(format!(
            "no summary (exit {:?}): {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ));
    }
    summary
}

/// What Kestra's test asserts of an ended execution (`entry`'s `state`, `task_runs`, `tasks`,
/// `outputs`, `labels`), checked against a summary; the problems found.
fn check_summary(entry: &Value, summary: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let runs = summary["task_runs"].as_array().cloned().unwrap_or_default();
    if let Some(want) = entry.get("state").and_then(Value::as_str) {
        if summary["state"] != want {
            problems.push(format!("state {} (want {want})", summary["state"]));
        }
    }
    if let Some(want) = entry.get("task_runs").and_then(Value::as_u64) {
        if runs.len() as u64 != want {
            let ids: Vec<&str> = runs.iter().filter_map(|r| r["task_id"].as_str()).collect();
            problems.push(format!("{} task runs (want {want}): {ids:?}", runs.len()));
        }
    }
    for task in entry
        .get("tasks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = task["id"].as_str().unwrap_or_default();
        let of_task: Vec<&Value> = runs.iter().filter(|r| r["task_id"] == id).collect();
        if let Some(count) = task.get("count").and_then(Value::as_u64) {
            if of_task.len() as u64 != count {
                problems.push(format!("{} runs of `{id}` (want {count})", of_task.len()));
            }
            continue;
        }
        let selected = if let Some(index) = task.get("index").and_then(Value::as_u64) {
            let at = runs.get(usize::try_from(index).unwrap_or(usize::MAX));
            if at.is_none_or(|r| r["task_id"] != id) {
                problems.push(format!(
                    "task run #{index} is {:?}, want `{id}`",
                    at.map(|r| &r["task_id"])
                ));
            }
            at.filter(|r| r["task_id"] == id)
        } else if let Some(Value::Array(values)) = task.get("values") {
            of_task
                .iter()
                .copied()
                .find(|r| value_path(&runs, r) == *values)
        } else {
            of_task.first().copied()
        };
        let Some(run) = selected else {
            problems.push(format!("no task run of `{id}`"));
            continue;
        };
        if let Some(want) = task.get("state").and_then(Value::as_str) {
            if run["state"] != want {
                problems.push(format!("`{id}` {} (want {want})", run["state"]));
            }
        }
        let attempts = run["attempts"].as_array().map_or(0, Vec::len) as u64;
        if let Some(want) = task.get("attempts").and_then(Value::as_u64) {
            if attempts != want {
                problems.push(format!("`{id}` {attempts} attempts (want {want})"));
            }
        }
        if let Some(want) = task.get("attempts_min").and_then(Value::as_u64) {
            if attempts < want {
                problems.push(format!("`{id}` {attempts} attempts (want at least {want})"));
            }
        }
        if let Some(want) = task.get("outputs") {
            if !contains_json(&run["outputs"], want) {
                problems.push(format!("`{id}` outputs {} (want {want})", run["outputs"]));
            }
        }
        if let Some(want) = task.get("outputs_contains") {
            // `{field: text}`: the output field, as text, contains the text.
            let pairs: Vec<(Option<&str>, String)> = match want {
                Value::Object(map) => map
                    .iter()
                    .map(|(k, v)| {
                        (
                            Some(k.as_str()),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        )
                    })
                    .collect(),
                Value::String(s) => vec![(None, s.clone())],
                other => vec![(None, other.to_string())],
            };
            for (field, needle) in pairs {
                let text = match field.map(|f| &run["outputs"][f]) {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => run["outputs"].to_string(),
                };
                if !text.contains(&needle) {
                    problems.push(format!("`{id}` outputs {text} lack `{needle}`"));
                }
            }
        }
    }
    if let Some(want) = entry.get("outputs") {
        if want.is_null() != summary["outputs"].is_null()
            || (!want.is_null() && !contains_json(&summary["outputs"], want))
        {
            problems.push(format!("flow outputs {} (want {want})", summary["outputs"]));
        }
    }
    if let Some(Value::Object(labels)) = entry.get("labels") {
        for (k, v) in labels {
            let task_run_of = v
                .as_str()
                .and_then(|s| s.strip_prefix("<taskrun.id of "))
                .and_then(|s| s.strip_suffix('>'));
            let want = if v == "<execution.id>" {
                summary["id"].clone()
            } else if let Some(task) = task_run_of {
                runs.iter()
                    .find(|r| r["task_id"] == task)
                    .map_or(Value::Null, |r| r["task_run_id"].clone())
            } else {
                v.clone()
            };
            if summary["labels"][k] != want {
                problems.push(format!(
                    "label {k} = {} (want {want})",
                    summary["labels"][k]
                ));
            }
        }
    }
    problems
}

/// A task run's loop values from the outermost in, read up its parent chain (a flowable inside
/// a loop repeats its loop's value; it counts once).
fn value_path(runs: &[Value], run: &Value) -> Vec<Value> {
    let mut path = Vec::new();
    let mut current = Some(run);
    while let Some(r) = current {
        if !r["value"].is_null() && path.last() != Some(&r["value"]) {
            path.push(r["value"].clone());
        }
        current = runs.iter().find(|p| {
            p["task_run_id"] == r["parent_task_run_id"] && !r["parent_task_run_id"].is_null()
        });
    }
    path.reverse();
    path
}

/// Every field of `want` is in `got` with the same value (numbers compare by value).
fn contains_json(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| contains_json(gv, v))),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), b) if !b.is_string() => a.as_str() == b.to_string().as_str(),
        (a, b) => a == b,
    }
}

#[test]
fn kestra_runner_tests_give_the_same_results() {
    let entries: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(project_dir().join("tests/cases/kestra-runs.json"))
            .expect("the table"),
    )
    .expect("valid JSON");
    let known: BTreeMap<String, String> =
        std::fs::read_to_string(project_dir().join("tests/cases/kestra-runs-known.txt"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                l.split_once('\t')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
    let mut binaries: HashMap<String, Result<(PathBuf, Option<String>), String>> = HashMap::new();
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut seen_known = Vec::new();
    for (n, entry) in entries.iter().enumerate() {
        let Some(flow) = entry.get("flow").and_then(Value::as_str) else {
            continue;
        };
        let test = entry["test"].as_str().unwrap_or_default().to_string();
        let key = format!(
            "{flow} {}",
            entry.get("with").map_or(String::new(), ToString::to_string)
        );
        let binary = binaries
            .entry(key)
            .or_insert_with(|| {
                let valids = corpus_dir().join("kestra/valids");
                let with: Vec<PathBuf> = entry
                    .get("with")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|f| valids.join(f))
                    .collect();
                build_with_companions(&valids.join(flow), &with)
            })
            .clone();
        let problems = match binary {
            Ok((binary, name)) => check_entry(entry, &binary, name.as_deref(), n),
            Err(e) => vec![format!("build: {e}")],
        };
        if problems.is_empty() {
            passed += 1;
            if known.contains_key(&test) {
                failures.push(format!(
                    "{test} ({flow}) now passes: remove it from kestra-runs-known.txt"
                ));
            }
        } else if known.contains_key(&test) {
            seen_known.push(test);
        } else {
            failures.push(format!("{test} ({flow}): {}", problems.join("; ")));
        }
    }
    println!(
        "{passed} Kestra runner-test runs give Kestra's result; {} known differences",
        seen_known.len()
    );
    assert!(passed >= 60, "only {passed} runs pass");
    assert!(
        failures.is_empty(),
        "{} runs differ from Kestra's tests:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let _ = json!(null);
}

/// Every flow of `kestra/valids` that this version builds (it passes `check --runnable`) holds,
/// once built, exactly the plan lowered in process (`build_flow` compares `./<flow> plan`).
#[test]
fn every_valid_flow_that_builds_holds_the_plan_lowered_in_process() {
    let options = kflow_compiler::Options {
        allow_unknown_types: false,
        runnable: true,
    };
    let mut built = 0;
    let mut failures = Vec::new();
    for path in kflow_tests::flow_files(&corpus_dir().join("kestra/valids")) {
        let root = corpus_dir();
        if kflow_tests::check_file(&path, &root, options).error_count() > 0 {
            continue;
        }
        match build_with_companions(&path, &[]) {
            Ok(_) => built += 1,
            // A Subflow whose target is not in the corpus, or does not check: `build`
            // refuses it (KF205, or the target's own errors).
            Err(e)
                if e.contains("which is not among the flows given")
                    || !e.starts_with(&path.display().to_string()) => {}
            Err(e) => failures.push(e),
        }
    }
    println!("{built} flows of kestra/valids built, each holding its lowered plan");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(built >= 100, "only {built} flows built");
}
