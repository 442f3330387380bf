//! Command-line tool tasks in a built binary, with the real tools: `git.Clone` from a real
//! repository (made by the test with git), `dbt.cli.DbtCLI` with dbt-duckdb from `PyPI` in a
//! virtualenv (dbt 1.10: later releases download a part from outside `PyPI` while installing), the other tools where this host has them; and for every tool, the error a user
//! sees when the program is not on `PATH`.

use std::path::Path;
use std::process::{Command, Output};

use kflow_tests::{base64, build_yamls, scratch_dir, summary_of, task_run, RecordingServer, Route};

const CLONE: &str = r#"id: git_clone
namespace: kflow.tests
inputs:
  - id: repo
    type: STRING
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: "file://{{ inputs.repo }}"
        branch: main
      - id: tagged
        type: io.kestra.plugin.git.Clone
        url: "file://{{ inputs.repo }}"
        tag: v1
        directory: old
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo '::{"outputs":{"now":"'$(cat README.md)'","then":"'$(cat old/README.md)'","commits":'$(git rev-list --count HEAD)'}}::'
"#;

const DBT: &str = r#"id: dbt_build
namespace: kflow.tests
inputs:
  - id: venv
    type: STRING
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      project/dbt_project.yml: |
        name: kflow_demo
        version: "1.0.0"
        profile: kflow_demo
      project/models/numbers.sql: |
        select 1 as n union all select 2 union all select 3
      project/models/schema.yml: |
        version: 2
        models:
          - name: numbers
            columns:
              - name: n
                tests: [not_null]
    tasks:
      - id: dbt
        type: io.kestra.plugin.dbt.cli.DbtCLI
        beforeCommands:
          - . "{{ inputs.venv }}/bin/activate"
        env:
          DBT_SEND_ANONYMOUS_USAGE_STATS: "false"
        projectDir: project
        profiles: |
          kflow_demo:
            target: dev
            outputs:
              dev:
                type: duckdb
                path: "{{ workingDir }}/demo.duckdb"
        storeManifest:
          key: manifest.json
          namespace: kflow.tests
        commands:
          - dbt build
      - id: count
        type: io.kestra.plugin.scripts.python.Script
        beforeCommands:
          - . "{{ inputs.venv }}/bin/activate"
        script: |
          import duckdb, json
          n = duckdb.connect("demo.duckdb").execute("select count(*) from numbers").fetchall()[0][0]
          print("::" + json.dumps({"outputs": {"rows": n}}) + "::")
  - id: manifest
    type: io.kestra.plugin.core.kv.Get
    key: manifest.json
"#;

/// The other tools, where this host has them: Terraform applying a configuration with no
/// provider, the AWS and Google Cloud CLIs reading the credentials the task gives them.
const TERRAFORM: &str = r#"id: terraform_apply
namespace: kflow.tests
tasks:
  - id: tf
    type: io.kestra.plugin.terraform.cli.TerraformCLI
    inputFiles:
      main.tf: |
        output "greeting" { value = "hello from terraform" }
    env:
      TF_IN_AUTOMATION: "1"
      TF_CLI_CONFIG_FILE: /dev/null
    commands:
      - terraform init -input=false -no-color
      - terraform apply -auto-approve -input=false -no-color
      - echo '::{"outputs":{"greeting":'$(terraform output -json greeting)'}}::'
"#;

/// The AWS and Google Cloud CLIs read the settings the task gives them (nothing is sent: no
/// request leaves the machine).
const CLOUDS: &str = r#"id: clouds
namespace: kflow.tests
tasks:
  - id: aws
    type: io.kestra.plugin.aws.cli.AwsCLI
    accessKeyId: AKIAKFLOWTEST0001
    secretKeyId: not-a-real-secret
    region: eu-west-3
    outputFormat: TEXT
    commands:
      - echo '::{"outputs":{"region":"'$AWS_DEFAULT_REGION'","output":"'$AWS_DEFAULT_OUTPUT'"}}::'
      - aws configure list
  - id: gcloud
    type: io.kestra.plugin.gcp.cli.GCloudCLI
    projectId: kflow-test-project
    serviceAccount: '{"type": "service_account"}'
    commands:
      - test -s "$GOOGLE_APPLICATION_CREDENTIALS"
      - echo '::{"outputs":{"project":"'$(gcloud config get-value project 2>/dev/null)'"}}::'
"#;

/// Each tool with `PATH` emptied: the task fails naming the program.
fn missing(id: &str, type_name: &str, command: &str) -> String {
    format!(
        "id: {id}
namespace: kflow.tests
tasks:
  - id: tool
    type: {type_name}
    env:
      PATH: /nonexistent
    commands:
      - {command}
"
    )
}

fn run(bin: &Path, state: &Path, flow: &str, inputs: &[&str]) -> Output {
    let mut command = Command::new(bin);
    command.args(["run", flow, "--state"]).arg(state);
    for input in inputs {
        command.args(["--input", input]);
    }
    command.output().expect("the binary runs")
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=kflow",
            "-c",
            "user.email=kflow@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs (tests/setup.sh installs it)");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn git_clone_checks_out_a_branch_and_a_tag_into_the_working_directory() {
    let dir = scratch_dir("git-clone");
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(repo.join("README.md"), "first").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "first"]);
    git(&repo, &["tag", "v1"]);
    std::fs::write(repo.join("README.md"), "second").unwrap();
    git(&repo, &["commit", "--quiet", "-am", "second"]);

    let bin = build_yamls("git_clone", &[("git_clone", CLONE)]);
    let input = format!("repo={}", repo.display());
    let out = run(&bin, &dir.join("state"), "git_clone", &[&input]);
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "SUCCESS", "{summary:#}\n{stderr}");
    let vars = &task_run(&summary, "read")["outputs"]["vars"];
    assert_eq!(vars["now"], "second");
    assert_eq!(vars["then"], "first");
    // depth 1 by default, as in Kestra.
    assert_eq!(vars["commits"], 1);
    let directory = task_run(&summary, "tagged")["outputs"]["directory"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(directory.ends_with("/old"), "{directory}");
    // git's progress on stderr is no warning.
    assert_eq!(task_run(&summary, "clone")["state"], "SUCCESS");
}

#[test]
fn dbt_builds_a_duckdb_project_with_dbt_from_pypi() {
    let dir = scratch_dir("dbt");
    std::fs::create_dir_all(&dir).unwrap();
    let venv = kflow_tests::venv(&dir, &["dbt-core~=1.10.0", "dbt-duckdb~=1.10.0"]);

    let bin = build_yamls("dbt_build", &[("dbt_build", DBT)]);
    let input = format!("venv={}", venv.display());
    let state = dir.join("state");
    let out = run(&bin, &state, "dbt_build", &[&input]);
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "SUCCESS", "{summary:#}\n{stderr}");
    // dbt's JSON log lines are logged as their messages.
    assert!(stderr.contains("Completed successfully"), "{stderr}");
    assert!(!stderr.contains("\"info\":"), "{stderr}");
    let files = task_run(&summary, "dbt")["outputs"]["outputFiles"]
        .as_object()
        .unwrap()
        .clone();
    for name in ["manifest.json", "run_results.json"] {
        let uri = files[name].as_str().unwrap();
        let stored = state
            .join("storage")
            .join(uri.trim_start_matches("kestra:///"));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(stored).unwrap()).unwrap();
        assert!(json.is_object(), "{name}");
    }
    assert_eq!(task_run(&summary, "count")["outputs"]["vars"]["rows"], 3);
    // storeManifest put the manifest in the KV store.
    let manifest = &task_run(&summary, "manifest")["outputs"]["value"];
    assert!(manifest["nodes"].is_object(), "{manifest}");
}

#[test]
fn tools_on_this_host_run_and_a_missing_tool_is_named() {
    let cases = [
        (
            "miss_dbt",
            "io.kestra.plugin.dbt.cli.DbtCLI",
            "dbt build",
            "dbt",
        ),
        (
            "miss_terraform",
            "io.kestra.plugin.terraform.cli.TerraformCLI",
            "terraform init",
            "terraform",
        ),
        (
            "miss_ansible",
            "io.kestra.plugin.ansible.cli.AnsibleCLI",
            "ansible-playbook site.yml",
            "ansible-playbook",
        ),
        (
            "miss_pwsh",
            "io.kestra.plugin.scripts.powershell.Commands",
            "Get-Date",
            "pwsh",
        ),
        (
            "miss_aws",
            "io.kestra.plugin.aws.cli.AwsCLI",
            "aws s3 ls",
            "aws",
        ),
        (
            "miss_gcloud",
            "io.kestra.plugin.gcp.cli.GCloudCLI",
            "gcloud info",
            "gcloud",
        ),
        (
            "miss_az",
            "io.kestra.plugin.azure.cli.AzCLI",
            "az account show",
            "az",
        ),
        (
            "miss_git",
            "io.kestra.plugin.scripts.shell.Commands",
            "git status",
            "",
        ),
    ];
    let flows: Vec<(String, String)> = cases
        .iter()
        .map(|(id, type_name, command, _)| (id.to_string(), missing(id, type_name, command)))
        .chain([
            ("terraform_apply".to_string(), TERRAFORM.to_string()),
            ("clouds".to_string(), CLOUDS.to_string()),
        ])
        .collect();
    let refs: Vec<(&str, &str)> = flows
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let bin = build_yamls("tool_tasks", &refs);
    let dir = scratch_dir("tools");
    let state = dir.join("state");

    for (id, _, _, program) in cases {
        let out = run(&bin, &state, id, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(summary_of(&out)["state"], "FAILED", "{id}: {stderr}");
        if program.is_empty() {
            // A shell task names no tool: the shell's own words and the exit code.
            assert!(
                stderr.contains("Command failed with exit code 127"),
                "{stderr}"
            );
        } else {
            let expected = format!("`{program}` is not on PATH");
            assert!(stderr.contains(&expected), "{id}: {stderr}");
        }
    }

    let has = |program: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has("terraform") {
        let out = run(&bin, &state, "terraform_apply", &[]);
        let summary = summary_of(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(summary["state"], "SUCCESS", "{summary:#}\n{stderr}");
        assert_eq!(
            task_run(&summary, "tf")["outputs"]["vars"]["greeting"],
            "hello from terraform"
        );
    } else {
        eprintln!(
            "terraform is not installed here (not in Debian's packages): its run is not tested"
        );
    }
    if has("aws") && has("gcloud") {
        let out = run(&bin, &state, "clouds", &[]);
        let summary = summary_of(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(summary["state"].as_str(), Some("SUCCESS" | "WARNING")),
            "{summary:#}\n{stderr}"
        );
        let aws = &task_run(&summary, "aws")["outputs"]["vars"];
        assert_eq!(aws["region"], "eu-west-3", "{stderr}");
        assert_eq!(aws["output"], "text");
        // `aws configure list` shows the key (masked) and the region as read from the task.
        assert!(stderr.contains("****************0001"), "{stderr}");
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("region") && l.contains("eu-west-3") && l.contains("env")),
            "{stderr}"
        );
        assert!(!stderr.contains("not-a-real-secret"), "{stderr}");
        let gcloud = &task_run(&summary, "gcloud")["outputs"]["vars"];
        assert_eq!(gcloud["project"], "kflow-test-project", "{stderr}");
    } else {
        eprintln!(
            "the AWS and Google Cloud CLIs are not both installed here: their runs are not tested"
        );
    }
}

/// The three kubectl tasks against one namespace of the cluster `inputs.server` names.
const KUBE: &str = r#"id: kube
namespace: kflow.tests
inputs:
  - id: server
    type: STRING
tasks:
  - id: apply
    type: io.kestra.plugin.kubernetes.kubectl.Apply
    connection:
      masterUrl: "{{ inputs.server }}"
      oauthToken: "{{ secret('K8S_TOKEN') }}"
    namespace: team
    spec: |
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: platform-baseline
      data:
        managed-by: kestra
  - id: all
    type: io.kestra.plugin.kubernetes.kubectl.Get
    connection:
      masterUrl: "{{ inputs.server }}"
    namespace: team
    resourceType: configmaps
    fetchType: FETCH
  - id: one
    type: io.kestra.plugin.kubernetes.kubectl.Get
    connection:
      masterUrl: "{{ inputs.server }}"
    namespace: team
    resourceType: configmaps
    resourcesNames:
      - platform-baseline
    fetchType: FETCH_ONE
  - id: stored
    type: io.kestra.plugin.kubernetes.kubectl.Get
    connection:
      masterUrl: "{{ inputs.server }}"
    namespace: team
    resourceType: configmaps
    fetchType: STORE
  - id: delete
    type: io.kestra.plugin.kubernetes.kubectl.Delete
    connection:
      masterUrl: "{{ inputs.server }}"
    namespace: team
    resourceType: configmaps
    resourcesNames:
      - platform-baseline
"#;

/// A local HTTP server answering as a Kubernetes API server does to kubectl: discovery, the
/// `ConfigMap` list of namespace `team`, and the `ConfigMap` `platform-baseline` (for GET,
/// PATCH, DELETE alike).
fn api_server() -> RecordingServer {
    let config_map = |name: &str| {
        serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "team", "uid": format!("uid-{name}")},
            "data": {"managed-by": "kestra"},
        })
    };
    let json = |path: &'static str, body: serde_json::Value| {
        Route::new(path, 200, "application/json", body.to_string())
    };
    RecordingServer::start(vec![
        json(
            "/api",
            serde_json::json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
        ),
        json(
            "/apis",
            serde_json::json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}),
        ),
        json(
            "/api/v1",
            serde_json::json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [{
                "name": "configmaps", "singularName": "configmap", "namespaced": true,
                "kind": "ConfigMap", "verbs": ["create", "delete", "get", "list", "patch"]}]}),
        ),
        json(
            "/api/v1/namespaces/team/configmaps",
            serde_json::json!({"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {},
                "items": [config_map("platform-baseline"), config_map("other")]}),
        ),
        json(
            "/api/v1/namespaces/team/configmaps/platform-baseline",
            config_map("platform-baseline"),
        ),
    ])
}

#[test]
fn kubectl_tasks_apply_get_and_delete_through_the_real_kubectl() {
    let dir = scratch_dir("kubectl");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = build_yamls("kube", &[("kube", KUBE)]);
    let server = api_server();
    let input = format!("server={}", server.url(""));
    let run_kube = |path: &str, state: &str| {
        Command::new(&bin)
            .args(["run", "kube", "--state"])
            .arg(dir.join(state))
            .args(["--input", &input])
            .env("PATH", path)
            // kubectl keeps its discovery cache under HOME.
            .env("HOME", &dir)
            .env("SECRET_K8S_TOKEN", base64("k8s-token-not-for-logs"))
            .output()
            .expect("the binary runs")
    };

    // Without kubectl on PATH, the task says which program is missing.
    let out = run_kube("/nonexistent", "state-missing");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary_of(&out)["state"], "FAILED", "{stderr}");
    assert!(stderr.contains("`kubectl` is not on PATH"), "{stderr}");

    let has_kubectl = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_kubectl {
        eprintln!("kubectl is not installed here: the kubectl tasks' runs are not tested");
        return;
    }
    let out = run_kube(&std::env::var("PATH").unwrap_or_default(), "state");
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "SUCCESS", "{summary:#}\n{stderr}");
    assert!(!stderr.contains("k8s-token-not-for-logs"), "{stderr}");
    let outputs = |id: &str| task_run(&summary, id)["outputs"].clone();
    assert_eq!(outputs("apply")["metadata"][0]["name"], "platform-baseline");
    let all = outputs("all");
    let names: Vec<&str> = all["metadataItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["platform-baseline", "other"]);
    assert_eq!(all["size"], 2);
    assert_eq!(
        outputs("one")["metadataItem"]["uid"],
        "uid-platform-baseline"
    );
    let uri = outputs("stored")["uri"].as_str().unwrap().to_string();
    let stored = std::fs::read_to_string(
        dir.join("state/storage")
            .join(uri.trim_start_matches("kestra:///")),
    )
    .unwrap();
    assert_eq!(stored.lines().count(), 2, "{stored}");
    assert!(
        stored.starts_with("{metadata:{name:\"platform-baseline\""),
        "{stored}"
    );

    // What the API server received: a server-side apply of the spec, and the delete.
    let at = server.received_at("/api/v1/namespaces/team/configmaps/platform-baseline");
    let patch = at.iter().find(|r| r.method == "PATCH").expect("a PATCH");
    assert!(
        patch.target.contains("fieldManager=kflow"),
        "{}",
        patch.target
    );
    assert_eq!(patch.json()["data"]["managed-by"], "kestra");
    assert!(at.iter().any(|r| r.method == "DELETE"));
}

/// docker.Build, Run and Push: the Docker client may be installed without a daemon.
const DOCKER: &str = r#"id: docker
namespace: kflow.tests
inputs:
  - id: task
    type: STRING
tasks:
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.task }}"
    cases:
      build:
        - id: build
          type: io.kestra.plugin.docker.Build
          dockerfile: |
            FROM alpine:3
            RUN echo built
          tags:
            - kflow/test:latest
      run:
        - id: run
          type: io.kestra.plugin.docker.Run
          containerImage: alpine:3
          commands:
            - echo
            - hello
      push:
        - id: push
          type: io.kestra.plugin.docker.Push
          tags:
            - kflow/test:latest
"#;

#[test]
fn docker_tasks_say_when_no_daemon_answers() {
    let daemon = ["docker", "podman"].iter().any(|cli| {
        Command::new(cli)
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if daemon {
        eprintln!("a container daemon answers here: the daemon-unreachable message is not tested");
        return;
    }
    let bin = build_yamls("docker", &[("docker", DOCKER)]);
    let dir = scratch_dir("docker");
    for (task, type_name) in [("build", "Build"), ("run", "Run"), ("push", "Push")] {
        let out = run(
            &bin,
            &dir.join("state"),
            "docker",
            &[&format!("task={task}")],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(summary_of(&out)["state"], "FAILED", "{task}: {stderr}");
        let expected = format!("docker.{type_name} needs a Docker daemon, and none answers (");
        assert!(stderr.contains(&expected), "{task}: {stderr}");
    }
}

const PUSH: &str = r#"id: git_push
namespace: kflow.tests
inputs:
  - id: remote
    type: STRING
tasks:
  - id: push
    type: io.kestra.plugin.git.Push
    url: "{{ inputs.remote }}"
    branch: main
    commitMessage: "Add the report from {{ flow.id }}"
    author:
      name: Kflow Bot
      email: bot@example.com
    inputFiles:
      data/report.csv: "a,b\n1,2\n"
  - id: again
    type: io.kestra.plugin.git.Push
    url: "{{ inputs.remote }}"
    branch: main
    commitMessage: nothing new
    inputFiles:
      data/report.csv: "a,b\n1,2\n"
  - id: feature
    type: io.kestra.plugin.git.Push
    url: "{{ inputs.remote }}"
    branch: feature
    commitMessage: Start the feature
    inputFiles:
      notes.md: new branch
"#;

fn git_output(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// git.Push into a real bare repository: the files committed on top of the branch as it was,
/// the author and message, nothing pushed when nothing changed, a new branch made from the
/// default one.
#[test]
fn git_push_commits_the_files_on_top_of_the_branch() {
    let dir = scratch_dir("git-push");
    let work = dir.join("work");
    let remote = dir.join("remote.git");
    std::fs::create_dir_all(&work).unwrap();
    git(
        &dir,
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            "remote.git",
        ],
    );
    git(&work, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(work.join("README.md"), "first").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "first"]);
    git(
        &work,
        &["push", "--quiet", remote.to_str().unwrap(), "main"],
    );

    let bin = build_yamls("git_push", &[("git_push", PUSH)]);
    let input = format!("remote={}", remote.display());
    let out = run(&bin, &dir.join("state"), "git_push", &[&input]);
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "SUCCESS", "{summary:#}\n{stderr}");

    let head = git_output(&remote, &["log", "-1", "--format=%an|%ae|%s", "main"]);
    assert_eq!(
        head,
        "Kflow Bot|bot@example.com|Add the report from git_push"
    );
    assert_eq!(
        git_output(&remote, &["show", "main:data/report.csv"]),
        "a,b\n1,2"
    );
    assert_eq!(git_output(&remote, &["show", "main:README.md"]), "first");
    assert_eq!(git_output(&remote, &["rev-list", "--count", "main"]), "2");
    let pushed = task_run(&summary, "push")["outputs"]["commitId"].clone();
    assert_eq!(pushed, git_output(&remote, &["rev-parse", "main"]).as_str());
    // The same file again: nothing to commit, nothing pushed.
    assert!(task_run(&summary, "again")["outputs"]["commitId"].is_null());
    assert!(stderr.contains("No changes to commit"), "{stderr}");
    // A new branch starts from the default branch.
    assert_eq!(
        git_output(&remote, &["show", "feature:notes.md"]),
        "new branch"
    );
    assert_eq!(git_output(&remote, &["show", "feature:README.md"]), "first");
    assert_eq!(
        git_output(&remote, &["rev-list", "--count", "feature"]),
        "3"
    );
}
