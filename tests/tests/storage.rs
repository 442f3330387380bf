//! Internal storage in a built binary: a FILE input is copied in and read through its
//! `kestra:///` URI; a file one task writes is read by the next (`read()`, `fileSize()`,
//! `fileExists()`, `storage.Size`); `Concat`, `Split`, `Delete` and `PurgeCurrentExecutionFiles` work on
//! the files; a URI that climbs out (`..`) and a host path are refused; a secret is not written.

use std::process::Command;

use kflow_tests::{build_flow, build_yaml, files_under, scratch_dir, summary_of, task_run};
use serde_json::{json, Value};

const FILES: &str = "id: files
namespace: kflow.tests
inputs:
  - id: data
    type: FILE
tasks:
  - id: input_text
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(inputs.data) | trim }}\"
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: |
      one
      two
      three
    extension: .txt
  - id: read_back
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(outputs.write.uri) | trim }} / {{ fileSize(outputs.write.uri) }} / {{ fileExists(outputs.write.uri) }}\"
  - id: size
    type: io.kestra.plugin.core.storage.Size
    uri: \"{{ outputs.write.uri }}\"
  - id: concat
    type: io.kestra.plugin.core.storage.Concat
    files:
      - \"{{ inputs.data }}\"
      - \"{{ outputs.write.uri }}\"
    separator: \"--\\n\"
  - id: joined
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(outputs.concat.uri) }}\"
  - id: split
    type: io.kestra.plugin.core.storage.Split
    from: \"{{ outputs.write.uri }}\"
    rows: 2
  - id: parts
    type: io.kestra.plugin.core.debug.Return
    format: \"{% for uri in outputs.split.uris %}[{{ read(uri) | trim }}]{% endfor %}\"
  - id: delete
    type: io.kestra.plugin.core.storage.Delete
    uri: \"{{ outputs.concat.uri }}\"
  - id: gone
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ fileExists(outputs.concat.uri) }}\"
  - id: climb
    type: io.kestra.plugin.core.storage.Size
    uri: kestra:///kflow/tests/files/../../../../../etc/passwd
    allowFailure: true
  - id: host
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read('/etc/passwd') }}\"
    allowFailure: true
  - id: secret
    type: io.kestra.plugin.core.storage.Write
    content: \"token={{ secret('STORAGE_TOKEN') }}\"
    allowFailure: true
  - id: purge
    type: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles
";

#[test]
fn files_pass_between_tasks_through_internal_storage() {
    let bin = build_yaml("files", FILES);
    let dir = scratch_dir("storage");
    std::fs::create_dir_all(&dir).unwrap();
    let local = dir.join("input.csv");
    std::fs::write(&local, "a,b\n").unwrap();
    let state = dir.join("state");
    let out = Command::new(&bin)
        .args(["run", "--state", state.to_str().unwrap(), "--input"])
        .arg(format!("data={}", local.display()))
        .env("SECRET_STORAGE_TOKEN", "c3RvcmFnZS1zZWNyZXQtOTk=")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    assert_eq!(summary["state"], "WARNING", "{summary}\n{stderr}");

    // The FILE input was copied in: the local file can go, the copy stays readable.
    std::fs::remove_file(&local).unwrap();
    assert_eq!(task_run(&summary, "input_text")["outputs"]["value"], "a,b");
    let uri = task_run(&summary, "write")["outputs"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        uri.starts_with("kestra:///kflow/tests/files/executions/") && uri.ends_with("/write.txt"),
        "{uri}"
    );
    assert_eq!(
        task_run(&summary, "read_back")["outputs"]["value"],
        "one\ntwo\nthree / 14 / true"
    );
    assert_eq!(task_run(&summary, "size")["outputs"]["size"], json!(14));
    assert_eq!(
        task_run(&summary, "joined")["outputs"]["value"],
        "a,b\n--\none\ntwo\nthree\n"
    );
    assert_eq!(
        task_run(&summary, "parts")["outputs"]["value"],
        "[one\ntwo][three]"
    );
    assert_eq!(task_run(&summary, "delete")["outputs"]["deleted"], true);
    assert_eq!(task_run(&summary, "gone")["outputs"]["value"], "false");

    // Out of bounds: a URI that climbs, a host file, a secret.
    assert_eq!(task_run(&summary, "climb")["state"], "WARNING");
    assert!(stderr.contains("refused"), "{stderr}");
    assert_eq!(task_run(&summary, "host")["state"], "WARNING");
    assert_eq!(task_run(&summary, "secret")["state"], "WARNING");
    assert!(stderr.contains("holds a secret"), "{stderr}");

    // Purged: the execution's files are listed and gone from the state directory.
    let purged = task_run(&summary, "purge")["outputs"]["uris"]
        .as_array()
        .unwrap()
        .len();
    assert!(purged >= 4, "{summary}");
    let left = files_under(&state.join("storage"));
    assert!(left.is_empty(), "{left:?}");
    assert!(!stdout.contains("storage-secret-99") && !stderr.contains("storage-secret-99"));
}

const NAMESPACE: &str = "id: bundled
namespace: kflow.tests
tasks:
  - id: by_path
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read('scripts/hello.txt') | trim }}\"
  - id: by_uri
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read(fileURI('scripts/hello.txt')) | trim }} {{ fileSize('/scripts/hello.txt') }}\"
  - id: missing
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ fileExists('nope.txt') }}\"
  - id: host
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read('/etc/hostname') }}\"
    allowFailure: true
";

/// Namespace files: `_files/` beside the flow is bundled into the binary when it is built and
/// read from there, by path or by `fileURI()`, even once the folder is gone.
#[test]
fn namespace_files_are_bundled_into_the_binary() {
    let dir = std::env::temp_dir().join(format!("kflow-nsfiles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("_files/scripts")).unwrap();
    std::fs::write(dir.join("_files/scripts/hello.txt"), "hello from _files\n").unwrap();
    let flow = dir.join("bundled.yml");
    std::fs::write(&flow, NAMESPACE).unwrap();
    let bin = build_flow(&flow).unwrap();
    std::fs::remove_dir_all(dir.join("_files")).unwrap();
    let out = Command::new(&bin)
        .args(["run", "--state", dir.join("state").to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["state"], "WARNING", "{summary}");
    assert_eq!(
        task_run(&summary, "by_path")["outputs"]["value"],
        "hello from _files"
    );
    assert_eq!(
        task_run(&summary, "by_uri")["outputs"]["value"],
        "hello from _files 18"
    );
    assert_eq!(task_run(&summary, "missing")["outputs"]["value"], "false");
    assert_eq!(task_run(&summary, "host")["state"], "WARNING");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such namespace file"));
}

const UPLOADS: &str = "id: uploads
namespace: kflow.tests
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    namespaceFiles:
      enabled: true
      exclude:
        - /private/**
    inputFiles:
      made/here.txt: made in the working directory
    tasks:
      - id: listed
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs:
          - \"**.txt\"
      - id: upload
        type: io.kestra.plugin.core.namespace.UploadFiles
        namespace: kflow.tests
        files:
          - \"made/*.txt\"
        destination: /uploaded
  - id: upload_map
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: other.team
    filesMap:
      notes/a.txt: \"{{ outputs.listed.uris['made/here.txt'] }}\"
  - id: read_uploaded
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ read('uploaded/made/here.txt') }} | {{ read('kestra:///other/team/_files/notes/a.txt') }}\"
  - id: download
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: kflow.tests
    files:
      - /scripts/**
      - uploaded/**
  - id: downloaded
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ outputs.download.files | keys | sort | join(',') }}: {{ read(outputs.download.files['/scripts/hello.txt']) | trim }}\"
  - id: refused
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: kflow.tests
    conflict: ERROR
    filesMap:
      scripts/hello.txt: \"{{ outputs.listed.uris['made/here.txt'] }}\"
    allowFailure: true
  - id: escape
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: kflow.tests
    filesMap:
      ../../../escaped.txt: \"{{ outputs.listed.uris['made/here.txt'] }}\"
    allowFailure: true
";

/// Namespace files beyond the bundled ones: a `WorkingDirectory`'s `namespaceFiles` copies them
/// into its folder (`exclude` honoured), `UploadFiles` stores files of the folder and of
/// storage as namespace files (any namespace) that `read()` and `DownloadFiles` then see before
/// the bundled ones, and the next execution still sees; `conflict: ERROR` and a path that
/// climbs out are refused.
#[test]
fn namespace_files_are_uploaded_downloaded_and_copied_into_working_directories() {
    let dir = scratch_dir("uploads");
    std::fs::create_dir_all(dir.join("_files/scripts")).unwrap();
    std::fs::create_dir_all(dir.join("_files/private")).unwrap();
    std::fs::write(dir.join("_files/scripts/hello.txt"), "hello from _files\n").unwrap();
    std::fs::write(dir.join("_files/private/key.txt"), "not copied\n").unwrap();
    let flow = dir.join("uploads.yml");
    std::fs::write(&flow, UPLOADS).unwrap();
    let bin = build_flow(&flow).unwrap();
    let state = dir.join("state");
    let run = || {
        Command::new(&bin)
            .args(["run", "--state", state.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = run();
    let summary = summary_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(summary["state"], "WARNING", "{summary}\n{stderr}");
    let listed = &task_run(&summary, "listed")["outputs"]["uris"];
    let mut names: Vec<&String> = listed.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["made/here.txt", "scripts/hello.txt"], "{listed}");
    assert_eq!(
        task_run(&summary, "upload")["outputs"]["files"],
        json!({"/uploaded/made/here.txt": "kestra:///kflow/tests/_files/uploaded/made/here.txt"})
    );
    assert_eq!(
        task_run(&summary, "read_uploaded")["outputs"]["value"],
        "made in the working directory | made in the working directory"
    );
    assert_eq!(
        task_run(&summary, "downloaded")["outputs"]["value"],
        "/scripts/hello.txt,/uploaded/made/here.txt: hello from _files"
    );
    assert_eq!(task_run(&summary, "refused")["state"], "WARNING");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(task_run(&summary, "escape")["state"], "WARNING");
    assert!(stderr.contains("not a plain path"), "{stderr}");
    assert!(files_under(&dir)
        .iter()
        .all(|f| !f.ends_with("escaped.txt")));
    // The uploads outlive the execution: the next one reads them too.
    let again = summary_of(&run());
    assert_eq!(
        task_run(&again, "read_uploaded")["outputs"]["value"],
        "made in the working directory | made in the working directory"
    );
}
