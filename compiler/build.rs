//! Embeds the runtime's source, the workspace's dependency table and its lockfile in kflowc, so
//! `kflowc build` can build flows without this repository (see `src/build.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .parent()
        .expect("the compiler lives in the workspace")
        .to_path_buf();
    let runtime = root.join("runtime");
    let mut files = Vec::new();
    collect(&runtime, &runtime, &mut files);
    files.sort();
    let mut out = String::from("/// The runtime crate's files: (path relative to the crate, contents).\npub static RUNTIME_FILES: &[(&str, &str)] = &[\n");
    for (relative, absolute) in &files {
        let _ = writeln!(out, "    ({relative:?}, include_str!({absolute:?})),");
        println!("cargo:rerun-if-changed={absolute}");
    }
    out.push_str("];\n");
    for (name, file) in [
        ("WORKSPACE_MANIFEST", "Cargo.toml"),
        ("LOCKFILE", "Cargo.lock"),
    ] {
        let path = root.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(
            out,
            "pub static {name}: &str = include_str!({:?});",
            path.display().to_string()
        );
    }
    println!("cargo:rerun-if-changed={}", runtime.join("src").display());
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("embedded.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            if name != "target" && name != "tests" && name != "benches" {
                collect(base, &path, out);
            }
        } else if name == "Cargo.toml" || path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .display()
                .to_string();
            out.push((relative, path.display().to_string()));
        }
    }
}
