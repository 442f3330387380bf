//! `include_flow!` as a user meets it, through trybuild: programs that compile and run flows
//! (their typed inputs and outputs, subflows between included flows), and programs that must
//! not compile, with the compiler's output they must show.
//!
//! trybuild builds the programs in its own crate, `target/tests/trybuild/kflow`: the flows'
//! paths in them are relative to that crate's root, as a user's are to theirs.

#[test]
fn programs() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/programs/pass/*.rs");
    cases.compile_fail("tests/programs/fail/*.rs");
}

use std::path::{Path, PathBuf};
use std::process::Command;

/// Cargo rebuilds a program when its flow changes: build and run, change the YAML, build and
/// run again and see the change; a mistake then fails the build at the YAML's line.
#[test]
fn a_changed_flow_is_seen_after_the_next_build() {
    let target = target_dir();
    let program = target.join("tests/trybuild/kflow-rebuild");
    let _ = std::fs::remove_dir_all(&program);
    std::fs::create_dir_all(program.join("src")).unwrap();
    std::fs::create_dir_all(program.join("flows")).unwrap();
    let kflow = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = kflow.parent().unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), program.join("Cargo.lock")).unwrap();
    std::fs::write(
        program.join("Cargo.toml"),
        format!(
            r#"[package]
name = "kflow-rebuild"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
kflow = {{ path = "{}", default-features = false }}
tokio = {{ version = "1", default-features = false, features = ["macros", "rt-multi-thread", "rt", "time", "sync", "signal", "net", "process", "io-util"] }}

[workspace]
"#,
            kflow.display()
        ),
    )
    .unwrap();
    // The flow's path is relative to the program's root (its Cargo.toml), as documented.
    std::fs::write(
        program.join("src/main.rs"),
        r#"kflow::include_flow!("flows/says.yml");

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let runner = kflow::Runner::new().ephemeral().echo_logs(false);
    let execution = says::run_on(&runner, says::Inputs::default()).await.unwrap();
    println!("{}", execution.outputs.unwrap().said);
}
"#,
    )
    .unwrap();
    let flow = |word: &str| {
        format!(
            "id: says\nnamespace: kflow.embedded\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.debug.Return\n    format: {word}\noutputs:\n  - id: said\n    type: STRING\n    value: \"{{{{ outputs.say.value }}}}\"\n"
        )
    };
    std::fs::write(program.join("flows/says.yml"), flow("first")).unwrap();
    assert_eq!(build_and_run(&program, &target), Ok("first".to_string()));

    std::fs::write(program.join("flows/says.yml"), flow("second")).unwrap();
    assert_eq!(build_and_run(&program, &target), Ok("second".to_string()));

    let broken = flow("third").replace("outputs.say.value", "outputs.sya.value");
    std::fs::write(program.join("flows/says.yml"), broken).unwrap();
    let error = build_and_run(&program, &target).unwrap_err();
    assert!(
        error.contains("says.yml:10:") && error.contains("sya"),
        "the build names the YAML line:\n{error}"
    );
    let _ = std::fs::remove_dir_all(&program);
}

/// Where cargo builds this workspace.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

/// `cargo build` of the program, then its output; or the build's errors. It builds where and
/// as trybuild builds the programs above (its target folder, its flags), so that the runtime
/// compiled for them is used again.
fn build_and_run(program: &Path, target: &Path) -> Result<String, String> {
    let flags = r#"["--cfg", "trybuild", "--verbose", "-A", "dead_code"]"#;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .current_dir(program)
        .env("CARGO_TARGET_DIR", target.join("tests/trybuild"))
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTFLAGS")
        .args(["build", "--quiet", "--offline"])
        .arg(format!("--config=build.rustflags={flags}"))
        .output()
        .unwrap();
    if !built.status.success() {
        return Err(String::from_utf8_lossy(&built.stderr).to_string());
    }
    let ran = Command::new(target.join("tests/trybuild/debug/kflow-rebuild"))
        .output()
        .unwrap();
    assert!(ran.status.success(), "{ran:?}");
    Ok(String::from_utf8_lossy(&ran.stdout).trim().to_string())
}
