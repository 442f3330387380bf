//! Script tasks as local processes in a built binary: shell commands with `beforeCommands`,
//! `env`, `inputFiles`, `outputFiles` and `outputDir`, Kestra's `::{...}::` output protocol,
//! stderr making the task WARNING, a failing command, a `WorkingDirectory` shared by two
//! tasks, a Node script, a Python script in a real virtualenv with the `kestra` package from
//! `PyPI` calling `Kestra.outputs`, the Docker runner without a daemon, and a timeout that kills
//! the whole process group.

use std::path::Path;
use std::process::{Command, Output};

use kflow_tests::{build_yamls, scratch_dir, summary_of, task_run};

const SHELL: &str = r#"id: shell_tasks
namespace: kflow.tests
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      GREETING: hello
    inputFiles:
      data.txt: "one\ntwo\nthree"
    beforeCommands:
      - export WHO=kflow
    commands:
      - echo "$GREETING $WHO"
      - echo '::{"outputs":{"lines":'$(wc -l < data.txt)',"who":"'$WHO'"}}::'
      - echo '::{"logs":[{"level":"ERROR","message":"from the protocol"}]}::'
      - echo report > report.csv
      - echo kept > "{{ outputDir }}/kept.txt"
    outputFiles:
      - "*.csv"
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.sh.vars.who }} {{ outputs.sh.vars.lines }} {{ outputs.sh.exitCode }}"
  - id: warn
    type: io.kestra.plugin.scripts.shell.Script
    script: |
      echo to stdout
      echo to stderr >&2
  - id: shared
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo shared > note.txt
      - id: read_back
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo '::{"outputs":{"note":"'$(cat note.txt)'"}}::'
  - id: node
    type: io.kestra.plugin.scripts.node.Script
    script: |
      const n = [1, 2, 3].reduce((a, b) => a + b, 0);
      console.log('::' + JSON.stringify({ outputs: { sum: n } }) + '::');
"#;

const FAILING: &str = "id: script_failing
namespace: kflow.tests
tasks:
  - id: fails
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo before
      - exit 3
      - echo never
";

const DOCKER: &str = "id: script_docker
namespace: kflow.tests
tasks:
  - id: in_docker
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
    containerImage: ubuntu
    commands:
      - echo hi
";

const KILLED: &str = r#"id: script_killed
namespace: kflow.tests
inputs:
  - id: pidfile
    type: STRING
tasks:
  - id: sleeps
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT2S
    commands:
      - sleep 300 &
      - echo $! > "{{ inputs.pidfile }}"
      - wait
"#;

const PYTHON: &str = r#"id: python_sdk
namespace: kflow.tests
inputs:
  - id: venv
    type: STRING
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    beforeCommands:
      - . "{{ inputs.venv }}/bin/activate"
    script: |
      from kestra import Kestra
      Kestra.outputs({"answer": 6 * 7, "name": "kflow"})
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.py.vars.name }}={{ outputs.py.vars.answer }}"
"#;

fn run(bin: &Path, state: &Path, flow: &str, inputs: &[&str]) -> Output {
    let mut command = Command::new(bin);
    command.args(["run", flow, "--state"]).arg(state);
    for input in inputs {
        command.args(["--input", input]);
    }
    command.output().expect("the binary runs")
}

#[test]
fn script_tasks_run_as_processes_with_kestras_protocol() {
    let bin = build_yamls(
        "script_tasks",
        &[
            ("shell_tasks", SHELL),
            ("script_failing", FAILING),
            ("script_docker", DOCKER),
            ("script_killed", KILLED),
            ("python_sdk", PYTHON),
        ],
    );
    let dir = scratch_dir("script-tasks");
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");

    let out = run(&bin, &state, "shell_tasks", &[]);
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `warn` wrote to stderr: the execution is WARNING, the rest SUCCESS.
    assert_eq!(summary["state"], "WARNING", "{summary:#}\n{stderr}");
    let sh = &task_run(&summary, "sh")["outputs"];
    assert_eq!(sh["exitCode"], 0);
    assert_eq!(sh["vars"], serde_json::json!({"lines": 2, "who": "kflow"}));
    assert_eq!(task_run(&summary, "read")["outputs"]["value"], "kflow 2 0");
    // Lines reach the log as they come; the protocol's log line at its level.
    assert!(stderr.contains("INFO  sh hello kflow"), "{stderr}");
    assert!(stderr.contains("ERROR sh from the protocol"), "{stderr}");
    assert!(!stderr.contains("::{"), "{stderr}");
    // outputFiles and outputDir are stored.
    let files = sh["outputFiles"].as_object().unwrap();
    let mut names: Vec<&String> = files.keys().collect();
    names.sort();
    assert_eq!(names, ["kept.txt", "report.csv"]);
    for (name, content) in [("report.csv", "report\n"), ("kept.txt", "kept\n")] {
        let uri = files[name].as_str().unwrap();
        let path = state
            .join("storage")
            .join(uri.trim_start_matches("kestra:///"));
        assert_eq!(std::fs::read_to_string(path).unwrap(), content);
    }
    assert_eq!(task_run(&summary, "warn")["state"], "WARNING");
    assert!(stderr.contains("WARN  warn to stderr"), "{stderr}");
    assert_eq!(
        task_run(&summary, "read_back")["outputs"]["vars"]["note"],
        "shared"
    );
    assert_eq!(task_run(&summary, "node")["outputs"]["vars"]["sum"], 6);

    // A failing command fails the task with its exit code; nothing after it runs.
    let out = run(&bin, &state, "script_failing", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary_of(&out)["state"], "FAILED");
    assert!(
        stderr.contains("Command failed with exit code 3"),
        "{stderr}"
    );
    assert!(
        stderr.contains("before") && !stderr.contains("never"),
        "{stderr}"
    );

    // The Docker runner with no daemon: a clear error naming the way out.
    let out = run(&bin, &state, "script_docker", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary_of(&out)["state"], "FAILED");
    assert!(
        stderr.contains("the Docker task runner needs a Docker daemon, and none answers"),
        "{stderr}"
    );
    assert!(
        stderr.contains("io.kestra.plugin.core.runner.Process"),
        "{stderr}"
    );

    // A timeout kills the whole process group, the backgrounded sleep with it.
    let pidfile = dir.join("sleep.pid");
    let input = format!("pidfile={}", pidfile.display());
    let out = run(&bin, &state, "script_killed", &[&input]);
    assert_eq!(summary_of(&out)["state"], "FAILED");
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    let gone = (0..50).any(|_| {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "));
        if alive {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        !alive
    });
    assert!(gone, "the sleep {pid} outlived its task");
}

/// A virtualenv with Kestra's real Python package from `PyPI`: `Kestra.outputs` in a script,
/// read by the next task through an expression.
#[test]
fn a_python_script_reports_outputs_through_kestras_package() {
    let dir = scratch_dir("python-sdk");
    std::fs::create_dir_all(&dir).unwrap();
    let venv = kflow_tests::venv(&dir, &["kestra"]);
    let bin = build_yamls("python_sdk_only", &[("python_sdk", PYTHON)]);
    let state = dir.join("state");
    let input = format!("venv={}", venv.display());
    let out = run(&bin, &state, "python_sdk", &[&input]);
    let summary = summary_of(&out);
    assert_eq!(
        summary["state"],
        "SUCCESS",
        "{summary:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(task_run(&summary, "after")["outputs"]["value"], "kflow=42");
}
