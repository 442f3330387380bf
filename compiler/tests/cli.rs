//! `kflowc check` as a user runs it: exit codes, the JSON contract of DESIGN.md, the other formats.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kflowc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kflowc"))
        .args(args)
        .output()
        .expect("kflowc runs")
}

fn corpus(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(path)
        .display()
        .to_string()
}

/// A fresh folder under the system temp dir for one test's files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kflowc-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON object")
}

/// The (code, line, message) of each diagnostic in a `check --format json` report.
fn diagnostics(output: &Output) -> Vec<(String, u64, String)> {
    json(output)["diagnostics"]
        .as_array()
        .expect("a diagnostics array")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const HELLO: &str = "id: hello\nnamespace: demo\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

#[test]
fn a_clean_flow_exits_zero() {
    let dir = temp_dir("clean");
    std::fs::write(dir.join("hello.yml"), HELLO).unwrap();
    let out = kflowc(&["check", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("checked 1 file: 0 errors, 0 warnings"));
}

#[test]
fn json_points_at_the_exact_token() {
    let out = kflowc(&[
        "check",
        "--format",
        "json",
        &corpus("kestra/invalids/invalid-property.yaml"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!(doc["files_checked"], 1);
    let diags = doc["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 1);
    let d = &diags[0];
    assert!(d["file"]
        .as_str()
        .unwrap()
        .ends_with("invalid-property.yaml"));
    // `    invalid: "{{taskrun.startDate}}"`: the key starts at column 5 of line 7.
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(7), Some(5))
    );
    assert_eq!(
        (d["end_line"].as_u64(), d["end_column"].as_u64()),
        (Some(7), Some(12))
    );
    assert_eq!(d["severity"], "error");
    assert_eq!(d["code"], "KF101");
    assert_eq!(d["message"], "unknown key `invalid` in task `taskInvalid`");
    assert!(d["help"].is_string());
}

#[test]
fn columns_count_characters_in_non_ascii_lines() {
    let dir = temp_dir("unicode");
    let flow = "id: ünï\nnamespace: demo\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"héllo\"\n    levle: INFO\n";
    std::fs::write(dir.join("u.yml"), flow).unwrap();
    let out = kflowc(&["check", "--format", "json", dir.to_str().unwrap()]);
    let doc = json(&out);
    let diags = doc["diagnostics"].as_array().unwrap();
    let by_code = |code: &str| {
        diags
            .iter()
            .find(|d| d["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {doc}"))
    };
    assert_eq!(
        (
            by_code("KF105")["line"].as_u64(),
            by_code("KF105")["column"].as_u64()
        ),
        (Some(1), Some(5))
    );
    let typo = by_code("KF101");
    assert_eq!(
        (typo["line"].as_u64(), typo["column"].as_u64()),
        (Some(7), Some(5))
    );
    assert_eq!(typo["help"], "did you mean `level`?");
}

#[test]
fn every_invalid_file_in_a_folder_is_reported() {
    let out = kflowc(&["check", "--format", "json", &corpus("kestra/invalids")]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!(doc["files_checked"], 22);
    let files: std::collections::BTreeSet<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files.len(),
        22,
        "every invalid flow has an error: {files:?}"
    );
}

#[test]
fn unknown_types_are_errors_unless_allowed() {
    let dir = temp_dir("unknown");
    let flow = "id: q\nnamespace: demo\ntasks:\n  - id: query\n    type: io.example.Unknown\n    anything: goes\n";
    std::fs::write(dir.join("q.yml"), flow).unwrap();
    let strict = kflowc(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1));
    assert_eq!(json(&strict)["diagnostics"][0]["severity"], "error");
    let lenient = kflowc(&[
        "check",
        "--format",
        "json",
        "--allow-unknown-types",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(lenient.status.code(), Some(0));
    assert_eq!(json(&lenient)["diagnostics"][0]["severity"], "warning");
    assert_eq!(json(&lenient)["diagnostics"][0]["code"], "KF107");
}

#[test]
fn unusable_paths_and_arguments_exit_two() {
    let missing = kflowc(&["check", "/definitely/not/here.yml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/definitely/not/here.yml"));
    assert_eq!(
        kflowc(&["check", "--format", "xml", "x.yml"]).status.code(),
        Some(2)
    );
    assert_eq!(kflowc(&["check"]).status.code(), Some(2));
}

#[test]
fn a_file_that_is_not_utf8_is_a_diagnostic_not_a_crash() {
    let dir = temp_dir("binary");
    std::fs::write(dir.join("bad.yml"), b"id: \xff\xfe\n").unwrap();
    let out = kflowc(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["diagnostics"][0]["code"], "KF001");
}

#[test]
fn github_format_prints_workflow_commands() {
    let out = kflowc(&[
        "check",
        "--format",
        "github",
        &corpus("kestra/invalids/invalid-property.yaml"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().next().unwrap();
    assert!(line.starts_with("::error file="), "{line}");
    assert!(
        line.contains(
            ",line=7,col=5,endLine=7,endColumn=12,title=KF101 unknown-key::unknown key `invalid`"
        ),
        "{line}"
    );
}

#[test]
fn sarif_format_is_sarif_2_1_0() {
    let out = kflowc(&[
        "check",
        "--format",
        "sarif",
        &corpus("kestra/invalids/duplicate.yaml"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "kflowc");
    let results = run["results"].as_array().unwrap();
    assert!(results.len() >= 5);
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for result in results {
        let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert!(
            result["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
}

#[test]
fn human_format_underlines_the_token_with_help() {
    let out = kflowc(&["check", &corpus("kestra/invalids/invalid-property.yaml")]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("error[KF101]: unknown key `invalid` in task `taskInvalid`"),
        "{text}"
    );
    assert!(text.contains("invalid-property.yaml:7:5"), "{text}");
    assert!(text.contains("^^^^^^^"), "{text}");
    assert!(
        text.contains("checked 1 file: 1 error, 0 warnings"),
        "{text}"
    );
}

#[test]
fn eval_renders_a_template_with_variables() {
    let dir = temp_dir("eval");
    let vars = dir.join("vars.json");
    std::fs::write(
        &vars,
        r#"{"inputs": {"name": "world", "n": 3}, "items": [1, 2]}"#,
    )
    .unwrap();
    let out = kflowc(&[
        "eval",
        "--vars",
        vars.to_str().unwrap(),
        "Hello {{ inputs.name | upper }}: {{ inputs.n * 2 }} {{ items }} {{ missing ?? 'none' }}",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello WORLD: 6 [1,2] none\n"
    );
}

#[test]
fn eval_fails_with_exit_one_and_points_at_the_error() {
    let out = kflowc(&["eval", "{{ inputs.name }}"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("variable `inputs` is not defined"),
        "{stderr}"
    );
    assert!(
        stderr.contains("{{ inputs.name }}\n  |    ^^^^^^"),
        "{stderr}"
    );
    let out = kflowc(&["eval", "{{ 1 + }}"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn eval_rejects_bad_arguments_with_exit_two() {
    let dir = temp_dir("eval-bad");
    let vars = dir.join("vars.json");
    std::fs::write(&vars, "[1, 2]").unwrap();
    let out = kflowc(&["eval", "--vars", vars.to_str().unwrap(), "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must hold a JSON object"));
    std::fs::write(&vars, "{not json").unwrap();
    let out = kflowc(&["eval", "--vars", vars.to_str().unwrap(), "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = kflowc(&[
        "eval",
        "--vars",
        dir.join("absent.json").to_str().unwrap(),
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = kflowc(&["eval"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn eval_reads_secrets_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_kflowc"))
        .args(["eval", "{{ secret('API_KEY') }}"])
        .env("SECRET_API_KEY", "czNjcjN0") // base64 of "s3cr3t"
        .output()
        .expect("kflowc runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "s3cr3t\n");
    let out = kflowc(&["eval", "{{ secret('NOPE_NOT_SET') }}"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SECRET_NOPE_NOT_SET"));
}

#[test]
fn expression_findings_point_at_the_token_inside_the_string() {
    let dir = temp_dir("expr-position");
    let flow = "id: pos\nnamespace: demo\ninputs:\n  - id: city\n    type: STRING\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"caf\\u00e9 \\\"q\\\" {{ inputs.cty }}\"\n";
    std::fs::write(dir.join("pos.yml"), flow).unwrap();
    let out = kflowc(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let d = &report["diagnostics"][0];
    assert_eq!(d["code"], "KF403");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(9), Some(41))
    );
    assert_eq!(d["end_column"].as_u64(), Some(44));
    assert!(d["help"].as_str().unwrap().contains("inputs.city"));
}

/// `kflowc emit` writes a workspace that builds on its own: the flow's crate, the runtime's
/// source, the manifest and the lockfile.
#[test]
fn emit_writes_a_self_contained_workspace() {
    let dir = temp_dir("emit");
    std::fs::write(dir.join("hello.yml"), HELLO).unwrap();
    let out_dir = dir.join("out");
    let out = kflowc(&[
        "emit",
        dir.join("hello.yml").to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let main = std::fs::read_to_string(out_dir.join("flows/hello/src/main.rs")).unwrap();
    assert!(main.starts_with("// @generated by kflowc"));
    assert!(main.contains("::kflow_runtime::cli::main("));
    assert!(out_dir.join("runtime/src/executor.rs").exists());
    assert!(out_dir.join("Cargo.lock").exists());
    let manifest = std::fs::read_to_string(out_dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("[workspace.dependencies]"));
    assert!(!manifest.contains("kflow-compiler"));
}

#[test]
fn build_refuses_a_flow_with_errors() {
    let dir = temp_dir("build-errors");
    let bad = HELLO.replace("message: hi", "message: \"{{ inputz.x }}\"");
    std::fs::write(dir.join("bad.yml"), bad).unwrap();
    let out = kflowc(&[
        "build",
        dir.join("bad.yml").to_str().unwrap(),
        "-o",
        dir.join("bad").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown variable `inputz`"));
    assert!(!dir.join("bad").exists());
}

const HTTP: &str = "id: fetch\nnamespace: demo\ntasks:\n  - id: get\n    type: io.kestra.plugin.jdbc.mysql.Query\n    url: jdbc:mysql://db/x\n    sql: select 1\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ outputs.get.size }}\"\n  - id: notify\n    type: io.kestra.plugin.jdbc.snowflake.Query\n    url: jdbc:snowflake://db/x\n    sql: select 2\n";

/// `check` accepts a flow whose types the runtime cannot run yet; `check --runnable` and
/// `build` refuse it with the same errors, one at each such task's `type`, before any cargo
/// build starts.
#[test]
fn build_and_check_runnable_refuse_types_the_runtime_cannot_run() {
    let dir = temp_dir("runnable");
    let flow = dir.join("fetch.yml");
    std::fs::write(&flow, HTTP).unwrap();
    let flow = flow.to_str().unwrap();
    assert_eq!(kflowc(&["check", flow]).status.code(), Some(0));

    let out = kflowc(&["check", "--runnable", "--format", "json", flow]);
    assert_eq!(out.status.code(), Some(1));
    let found = diagnostics(&out);
    assert!(found.iter().all(|(code, ..)| code == "KF111"), "{found:?}");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].1, 5);
    assert!(found[0].2.contains("io.kestra.plugin.jdbc.mysql.Query"));
    assert_eq!(found[1].1, 12);

    let binary = dir.join("fetch-bin");
    let out = kflowc(&["build", flow, "-o", binary.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[KF111]"), "{stderr}");
    assert!(stderr.contains("not runnable in this version"), "{stderr}");
    assert!(!binary.exists());
}

/// Folders: a link loop is walked once, devices and FIFOs are skipped (never read), and a
/// device given by name is refused at once instead of being read forever.
#[cfg(unix)]
#[test]
fn folders_with_link_loops_fifos_and_devices_are_checked_once_and_bounded() {
    let dir = temp_dir("loops");
    std::fs::write(dir.join("hello.yml"), HELLO).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("again")).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("and-again")).unwrap();
    let fifo = dir.join("pipe.yml");
    let made = Command::new("mkfifo").arg(&fifo).status();
    let started = std::time::Instant::now();
    let out = kflowc(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json(&out)["files_checked"],
        1,
        "each file once, the FIFO skipped"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // A file that cannot be read (even by root: reading /proc/self/mem at 0 fails) is that
    // file's error; the rest of the folder is still checked.
    std::os::unix::fs::symlink("/proc/self/mem", dir.join("unreadable.yml")).unwrap();
    let out = kflowc(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["files_checked"], 2);
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0]["code"], "KF001");
    assert!(diagnostics[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("unreadable.yml"));
    std::fs::remove_file(dir.join("unreadable.yml")).unwrap();
    if made.is_ok_and(|s| s.success()) {
        let out = kflowc(&["check", fifo.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
    }
    let out = kflowc(&["check", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/dev/zero") && stderr.contains("not a regular file"),
        "{stderr}"
    );
}

/// `build -o` refuses, before building, a path it cannot use, naming the path as given (exit
/// 2): the flow file itself (it would be overwritten) and a folder that does not exist.
#[test]
fn build_refuses_an_output_path_it_cannot_use() {
    let dir = temp_dir("output");
    let flow = dir.join("hello.yml");
    std::fs::write(&flow, HELLO).unwrap();
    let flow = flow.to_str().unwrap();
    let out = kflowc(&["build", flow, "-o", flow]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("that is the flow file"));
    assert_eq!(
        std::fs::read_to_string(flow).unwrap(),
        HELLO,
        "the flow is intact"
    );
    let out = kflowc(&["build", flow, "-o", "/no/such/folder/hello"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-o /no/such/folder/hello"));
}

/// `kflowc run FLOW --input k=v` passes the binary's options with or without `--`: here the
/// flow has an error, so it stops at the check (exit 1), not at the arguments (exit 2).
#[test]
fn run_takes_the_binary_options_with_or_without_a_double_dash() {
    let dir = temp_dir("run-args");
    let flow = dir.join("broken.yml");
    std::fs::write(&flow, "id: broken\nnamespace: demo\ntasks: []\nbogus: 1\n").unwrap();
    let flow = flow.to_str().unwrap();
    for args in [
        vec!["run", flow, "--input", "k=v"],
        vec!["run", flow, "--", "--input", "k=v"],
    ] {
        let out = kflowc(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A misspelled core type is checked as the type it most likely means: one run reports the
/// type and the misspelled property under it.
#[test]
fn properties_of_a_misspelled_core_type_are_checked_against_the_suggestion() {
    let dir = temp_dir("logg");
    let flow = dir.join("logg.yml");
    std::fs::write(
        &flow,
        "id: x\nnamespace: t\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Logg\n    mesage: hi\n",
    )
    .unwrap();
    let out = kflowc(&["check", "--format", "json", flow.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let found: Vec<(String, u64)> = diagnostics(&out)
        .into_iter()
        .map(|(code, line, _)| (code, line))
        .collect();
    assert!(found.contains(&("KF107".into(), 5)), "{found:?}");
    assert!(found.contains(&("KF101".into(), 6)), "{found:?}");
}

/// Validators are compiled as the binary compiles them: Java's look-around passes `check`
/// (and runs), a construct the binary cannot run is an error at `check`.
#[test]
fn validators_are_checked_as_the_binary_runs_them() {
    let dir = temp_dir("validators");
    let flow = |validator: &str| {
        format!(
            "id: v\nnamespace: t\ninputs:\n  - id: code\n    type: STRING\n    validator: '{validator}'\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        )
    };
    let good = dir.join("good.yml");
    std::fs::write(&good, flow("(?=.*[0-9])(?<!x)[a-z0-9]+")).unwrap();
    let out = kflowc(&["check", good.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let bad = dir.join("bad.yml");
    std::fs::write(&bad, flow("\\p{javaLowerCase}+")).unwrap();
    let out = kflowc(&["check", "--format", "json", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["diagnostics"][0]["code"], "KF301");
}

/// A flow file over the size limit (64 MiB, or `KFLOW_MAX_FLOW_MIB`) is that file's error, and
/// no more than the limit is read.
#[test]
fn files_over_the_size_limit_are_refused() {
    let dir = temp_dir("size");
    let flow = dir.join("big.yml");
    let mut text = String::from(HELLO);
    text.push_str("# ");
    text.push_str(&"x".repeat(2 * 1024 * 1024));
    std::fs::write(&flow, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kflowc"))
        .args(["check", "--format", "json", flow.to_str().unwrap()])
        .env("KFLOW_MAX_FLOW_MIB", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["diagnostics"][0]["code"], "KF001");
    assert!(report["diagnostics"][0]["message"]
        .as_str()
        .unwrap()
        .contains("larger than 1 MiB"));
    // Under the default limit it is an ordinary flow.
    assert_eq!(
        kflowc(&["check", flow.to_str().unwrap()]).status.code(),
        Some(0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kflowc graph` draws a flow's tasks and how they lead to one another.
#[test]
fn graph_draws_branches_loops_and_dag_edges() {
    let dir = temp_dir("graph");
    let flow = dir.join("g.yml");
    std::fs::write(
        &flow,
        "id: g\nnamespace: t\ntasks:\n  - id: check\n    type: io.kestra.plugin.core.flow.If\n    condition: 'true'\n    then:\n      - id: yes\n        type: io.kestra.plugin.core.log.Log\n        message: y\n    else:\n      - id: no\n        type: io.kestra.plugin.core.log.Log\n        message: n\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n      - task:\n          id: a\n          type: io.kestra.plugin.core.log.Log\n          message: a\n      - task:\n          id: b\n          type: io.kestra.plugin.core.log.Log\n          message: b\n        dependsOn: [a]\nerrors:\n  - id: alert\n    type: io.kestra.plugin.core.log.Log\n    message: failed\n",
    )
    .unwrap();
    let flow = flow.to_str().unwrap();
    let out = kflowc(&["graph", "--format", "json", flow]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let graph = json(&out);
    let edges: Vec<(String, String, String)> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("from"), s("to"), s("label"))
        })
        .collect();
    for expected in [
        ("check", "yes", "then"),
        ("check", "no", "else"),
        ("check", "dag", "next"),
        ("dag", "a", "tasks"),
        ("a", "b", "dependsOn"),
        ("errors", "alert", "errors"),
    ] {
        let expected = (
            expected.0.to_string(),
            expected.1.to_string(),
            expected.2.to_string(),
        );
        assert!(edges.contains(&expected), "{expected:?} not in {edges:?}");
    }
    let dot = String::from_utf8(kflowc(&["graph", flow]).stdout).unwrap();
    assert!(dot.starts_with("digraph \"g\""), "{dot}");
    assert!(
        dot.contains("\"a\" -> \"b\" [label=\"dependsOn\"]"),
        "{dot}"
    );
    let mermaid =
        String::from_utf8(kflowc(&["graph", "--format", "mermaid", flow]).stdout).unwrap();
    assert!(mermaid.starts_with("flowchart TD"), "{mermaid}");
    assert!(mermaid.contains("-->|then|"), "{mermaid}");
}

/// A Schedule's cron is checked as Kestra reads it, and an impossible field is an error at the
/// value.
#[test]
fn schedule_crons_are_checked_at_the_value() {
    let dir = temp_dir("cron");
    let flow = dir.join("cron.yml");
    std::fs::write(
        &flow,
        "id: c\nnamespace: t\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: nightly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 25 * * *\"\n  - id: quartz\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 0 L * ?\"\n  - id: fine\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"*/10 * * * * *\"\n    withSeconds: true\n",
    )
    .unwrap();
    let out = kflowc(&["check", "--format", "json", flow.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let found = diagnostics(&out);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].1, 10);
    assert!(found[0].2.contains("hour `25`"), "{found:?}");
    assert_eq!(found[1].1, 13);
    assert!(found[1].2.contains("Quartz"), "{found:?}");
}

/// A SELECT or MULTISELECT default outside its `values` (the binary would refuse every run that
/// does not give the input) and a retry whose first wait is past its `maxDuration` (it never
/// retries) are errors at the value; `allowCustomValue: true` accepts any default.
#[test]
fn select_defaults_and_retry_waits_are_checked() {
    let dir = temp_dir("select-retry");
    let flow = dir.join("flow.yml");
    std::fs::write(
        &flow,
        "id: s
namespace: t
inputs:
  - id: env
    type: SELECT
    values: [dev, prod]
    defaults: prd
  - id: regions
    type: MULTISELECT
    values: [eu, us]
    defaults: [eu, asia]
  - id: free
    type: SELECT
    values: [a, b]
    allowCustomValue: true
    defaults: c
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hi
    retry:
      type: constant
      interval: PT10M
      maxDuration: PT1M
  - id: b
    type: io.kestra.plugin.core.log.Log
    message: hi
    retry:
      type: random
      minInterval: PT1S
      maxInterval: PT5S
      maxDuration: PT1M
",
    )
    .unwrap();
    let out = kflowc(&["check", "--format", "json", flow.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let found = diagnostics(&out);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!((found[0].1, found[0].0.as_str()), (7, "KF301"));
    assert!(found[0].2.contains("`prd`"), "{found:?}");
    assert_eq!(found[1].1, 11);
    assert!(found[1].2.contains("`asia`"), "{found:?}");
    assert_eq!(found[2].1, 23);
    assert!(
        found[2]
            .2
            .contains("`interval` is longer than `maxDuration`"),
        "{found:?}"
    );
}
