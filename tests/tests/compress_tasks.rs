//! The compress tasks in a run: archives and compressed files made by kflow read back by kflow,
//! archives made by other tools (Python's `zipfile`, GNU tar) extracted by kflow, and an
//! archive whose entry leaves its folder refused.

use std::path::Path;
use std::process::Command;

use kflow_tests::{lowered, run_in_process, scratch_dir, task_run};

const ROUND_TRIPS: &str = r#"id: round_trips
namespace: kflow.tests
tasks:
  - id: a
    type: io.kestra.plugin.core.storage.Write
    extension: .txt
    content: "first file\n"
  - id: b
    type: io.kestra.plugin.core.storage.Write
    extension: .csv
    content: "x,y\n1,2\n"
  - id: zip
    type: io.kestra.plugin.compress.ArchiveCompress
    algorithm: ZIP
    from:
      a.txt: "{{ outputs.a.uri }}"
      data/b.csv: "{{ outputs.b.uri }}"
  - id: unzip
    type: io.kestra.plugin.compress.ArchiveDecompress
    algorithm: ZIP
    from: "{{ outputs.zip.uri }}"
  - id: zipped
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.unzip.files['a.txt']) }}|{{ read(outputs.unzip.files['data/b.csv']) }}"
  - id: tar
    type: io.kestra.plugin.compress.ArchiveCompress
    algorithm: TAR
    compression: GZIP
    from: '{"a.txt": "{{ outputs.a.uri }}", "b.csv": "{{ outputs.b.uri }}"}'
  - id: untar
    type: io.kestra.plugin.compress.ArchiveDecompress
    algorithm: TAR
    compression: GZIP
    from: "{{ outputs.tar.uri }}"
  - id: tarred
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.untar.files['b.csv']) }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [GZIP, DEFLATE, BZIP2, ZSTD]
    tasks:
      - id: pack
        type: io.kestra.plugin.compress.FileCompress
        compression: "{{ taskrun.value }}"
        from: "{{ outputs.b.uri }}"
      - id: unpack
        type: io.kestra.plugin.compress.FileDecompress
        compression: "{{ taskrun.value }}"
        from: "{{ outputs.pack[taskrun.value].uri }}"
      - id: again
        type: io.kestra.plugin.core.debug.Return
        format: "{{ read(outputs.unpack[taskrun.value].uri) }}"
"#;

#[test]
fn archives_and_compressed_files_read_back_as_written() {
    let (code, summary, err) = run_in_process(&lowered(ROUND_TRIPS), &[]);
    assert_eq!(code, 0, "{summary:#} {err}");
    let value = |id: &str| task_run(&summary, id)["outputs"]["value"].clone();
    assert_eq!(value("zipped"), "first file\n|x,y\n1,2\n");
    assert_eq!(value("tarred"), "x,y\n1,2\n");
    let files = task_run(&summary, "unzip")["outputs"]["files"].clone();
    let mut names: Vec<&str> = files
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["a.txt", "data/b.csv"]);
    let agains: Vec<&serde_json::Value> = summary["task_runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["task_id"] == "again")
        .collect();
    assert_eq!(agains.len(), 4);
    for run in agains {
        assert_eq!(run["outputs"]["value"], "x,y\n1,2\n", "{run}");
    }
    for (id, suffix) in [("zip", ".zip"), ("tar", ".tar.gz")] {
        let uri = task_run(&summary, id)["outputs"]["uri"].as_str().unwrap();
        assert!(Path::new(uri).to_string_lossy().ends_with(suffix), "{uri}");
    }
}

const EXTRACT: &str = r#"id: extract
namespace: kflow.tests
inputs:
  - id: archive
    type: FILE
  - id: algorithm
    type: STRING
  - id: compression
    type: STRING
    required: false
tasks:
  - id: extract
    type: io.kestra.plugin.compress.ArchiveDecompress
    algorithm: "{{ inputs.algorithm }}"
    compression: "{{ inputs.compression ?? '' }}"
    from: "{{ inputs.archive }}"
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.extract.files['docs/readme.txt']) }}"
errors:
  - id: why
    type: io.kestra.plugin.core.debug.Return
    format: "{{ errorLogs()[0].message }}"
"#;

fn python(dir: &Path, script: &str) {
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "{script}");
}

#[test]
fn archives_from_other_tools_extract_and_escaping_entries_are_refused() {
    let dir = scratch_dir("compress");
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/readme.txt"), "made elsewhere\n").unwrap();
    python(
        &dir,
        "import zipfile\n\
         with zipfile.ZipFile('good.zip', 'w', zipfile.ZIP_DEFLATED) as z:\n\
         \x20   z.write('docs/readme.txt')\n\
         with zipfile.ZipFile('evil.zip', 'w') as z:\n\
         \x20   z.writestr('docs/readme.txt', 'fine')\n\
         \x20   z.writestr('../evil.txt', 'outside')\n",
    );
    let tar = Command::new("tar")
        .args(["czf", "good.tar.gz", "docs"])
        .current_dir(&dir)
        .status()
        .expect("tar runs");
    assert!(tar.success());

    let flow = lowered(EXTRACT);
    let run = |file: &str, algorithm: &str, compression: Option<&str>| {
        let archive = format!("archive={}", dir.join(file).display());
        let algorithm = format!("algorithm={algorithm}");
        let mut args = vec!["--input", &archive, "--input", &algorithm];
        let compression = compression.map(|c| format!("compression={c}"));
        if let Some(compression) = &compression {
            args.extend(["--input", compression]);
        }
        run_in_process(&flow, &args)
    };

    for (file, algorithm, compression) in [
        ("good.zip", "ZIP", None),
        ("good.tar.gz", "TAR", Some("GZIP")),
    ] {
        let (code, summary, err) = run(file, algorithm, compression);
        assert_eq!(code, 0, "{file}: {summary:#} {err}");
        assert_eq!(
            task_run(&summary, "read")["outputs"]["value"],
            "made elsewhere\n",
            "{file}"
        );
    }

    let (code, summary, err) = run("evil.zip", "ZIP", None);
    assert_ne!(code, 0, "{summary:#}");
    assert_eq!(task_run(&summary, "extract")["state"], "FAILED");
    let why = task_run(&summary, "why")["outputs"]["value"].clone();
    assert!(
        why.as_str()
            .unwrap_or_default()
            .contains("the entry `../evil.txt` leaves the archive's folder"),
        "{err} {summary:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
