//! `cargo bench -p kflow-compiler --bench check_corpus`: how long `kflowc check` takes on
//! every file of `../shared/corpus`, as a whole process and stage by stage in-process.
//! Prints a table; the target is under 0.2 s for the whole corpus in release.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kflow_compiler::source::SourceFile;
use kflow_compiler::{check_source, files, yaml, Options};

const RUNS: usize = 15;

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let paths =
        files::collect(std::slice::from_ref(&corpus)).expect("the corpus is beside the project");
    let texts: Vec<(PathBuf, String)> = paths
        .iter()
        .map(|p| {
            (
                p.clone(),
                std::fs::read_to_string(p).expect("corpus files are UTF-8"),
            )
        })
        .collect();
    let n = texts.len();
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    println!(
        "corpus: {n} files, {} KiB; {RUNS} runs each, min and median",
        bytes / 1024
    );
    println!(
        "{:<44} {:>10} {:>10} {:>12}",
        "measure", "min", "median", "per file"
    );

    let process = measure(|| {
        let status = Command::new(env!("CARGO_BIN_EXE_kflowc"))
            .args(["check", "--format", "json", "--allow-unknown-types"])
            .arg(&corpus)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("kflowc runs");
        assert!(
            status.code().is_some_and(|c| c <= 1),
            "kflowc could not run"
        );
    });
    row("kflowc check <corpus> (whole process)", &process, n);

    let yaml_only = measure(|| {
        for (path, text) in &texts {
            let source = SourceFile::new(path, text.clone());
            std::hint::black_box(yaml::load(&source));
        }
    });
    row("YAML load only (in process)", &yaml_only, n);

    let full = measure(|| {
        for (path, text) in &texts {
            let source = SourceFile::new(path, text.clone());
            std::hint::black_box(check_source(
                source,
                Options {
                    allow_unknown_types: true,
                    runnable: false,
                },
            ));
        }
    });
    row("full check: YAML, model, rules (in process)", &full, n);

    // Growth with flow size: checking time should grow linearly.
    println!();
    println!(
        "{:<44} {:>10} {:>10} {:>12}",
        "large flows (in process)", "min", "median", "per unit"
    );
    for tasks in [1_000, 5_000, 20_000] {
        let text = templated_tasks(tasks);
        let times = measure_few(|| {
            std::hint::black_box(check_source(
                SourceFile::new("many.yml", text.clone()),
                Options::default(),
            ));
        });
        row_per(
            &format!("{tasks} templated tasks (unit: 1k tasks)"),
            &times,
            tasks / 1_000,
        );
    }
    let text = big_mapping(50 * 1024 * 1024);
    let times = measure_few(|| {
        std::hint::black_box(check_source(
            SourceFile::new("mapping.yml", text.clone()),
            Options::default(),
        ));
    });
    row_per(
        &format!(
            "one mapping of {} MiB (unit: MiB)",
            text.len() / (1024 * 1024)
        ),
        &times,
        50,
    );
}

/// A flow of `n` Log tasks, each with a template.
fn templated_tasks(n: usize) -> String {
    use std::fmt::Write as _;
    let mut text = String::from(
        "id: many\nnamespace: bench\ninputs:\n  - id: who\n    type: STRING\n    defaults: x\ntasks:\n",
    );
    for i in 0..n {
        let _ = write!(
            text,
            "  - id: t{i}\n    type: io.kestra.plugin.core.log.Log\n    message: \"step {i} {{{{ inputs.who }}}}\"\n"
        );
    }
    text
}

/// A flow whose `variables` is one mapping of about `bytes` bytes.
fn big_mapping(bytes: usize) -> String {
    use std::fmt::Write as _;
    let mut text = String::from(
        "id: big\nnamespace: bench\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\nvariables:\n",
    );
    let mut i = 0;
    while text.len() < bytes {
        let _ = writeln!(text, "  key_{i}: value_{i}");
        i += 1;
    }
    text
}

/// Three runs after a warm-up: large inputs take seconds each.
fn measure_few(f: impl FnMut()) -> Vec<Duration> {
    measure_runs(3, f)
}

fn row_per(name: &str, times: &[Duration], thousands: usize) {
    let min = times[0];
    let median = times[times.len() / 2];
    let per = median / u32::try_from(thousands.max(1)).unwrap_or(1);
    println!(
        "{name:<44} {:>8.1}ms {:>8.1}ms {:>10.2}ms",
        ms(min),
        ms(median),
        ms(per)
    );
}

fn measure(f: impl FnMut()) -> Vec<Duration> {
    measure_runs(RUNS, f)
}

/// `runs` timings of `f` after one warm-up, sorted.
fn measure_runs(runs: usize, mut f: impl FnMut()) -> Vec<Duration> {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn row(name: &str, times: &[Duration], files: usize) {
    let min = times[0];
    let median = times[times.len() / 2];
    let per_file = median / u32::try_from(files).unwrap_or(1);
    println!(
        "{name:<44} {:>8.1}ms {:>8.1}ms {:>10.1}µs",
        ms(min),
        ms(median),
        per_file.as_secs_f64() * 1e6
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
