//! The `build` stage: cargo on the generated crate.
//!
//! Every flow is built in one workspace under the cache directory
//! (`$KFLOW_CACHE_DIR`, else `$XDG_CACHE_HOME/kflow`, else `~/.cache/kflow`), next to the
//! runtime's source, which is embedded in kflowc (so an installed kflowc needs nothing else)
//! and written out once per kflowc version. The workspace's `Cargo.lock` starts as kflow's
//! own, so every build uses the same dependency versions. One target directory serves every
//! flow: the first build compiles the runtime, later ones only the flow's `main.rs`.
//!
//! Binaries are static by default: musl when that target is installed, else glibc with
//! `+crt-static` (the runtime uses no NSS or OpenSSL, so nothing is loaded at run time).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::model::Flow;
use crate::{emit, lower};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

const FLOW_TEMPLATE: &str = include_str!("../../templates/flow.Cargo.toml.j2");
const WORKSPACE_TEMPLATE: &str = include_str!("../../templates/workspace.Cargo.toml.j2");
pub const KFLOWC_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Release,
    Debug,
    /// Fat LTO and `opt-level = "s"`.
    Small,
}

pub struct BuildOptions {
    pub profile: Profile,
    /// A target triple; `None` picks the static default.
    pub target: Option<String>,
    /// Print cargo's progress.
    pub verbose: bool,
    /// The cache folder; `None` for [`cache_dir`].
    pub cache: Option<PathBuf>,
}

#[derive(Debug)]
pub struct BuildError(pub String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// The generated crate of one flow: its `Cargo.toml`, `src/main.rs` and the namespace files
/// `main.rs` bundles (`files/<n>`).
pub struct Crate {
    pub name: String,
    pub bin_name: String,
    pub cargo_toml: String,
    pub main_rs: String,
    pub files: Vec<NamespaceFile>,
}

/// A namespace file: its path under `_files/` (with `/`), and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceFile {
    pub path: String,
    pub contents: Vec<u8>,
}

/// The folder of namespace files beside a flow file.
pub const NAMESPACE_FILES: &str = "_files";

/// At most this many namespace files, and this many bytes in all, are bundled into a binary.
const MAX_NAMESPACE_FILES: usize = 10_000;
const MAX_NAMESPACE_BYTES: u64 = 256 << 20;

/// The namespace files of the flow at `flow_path`, read: see [`namespace_file_paths`].
pub fn namespace_files(flow_path: &Path) -> Result<Vec<NamespaceFile>, BuildError> {
    namespace_file_paths(flow_path)?
        .into_iter()
        .map(|(path, file)| {
            let contents = std::fs::read(&file)
                .map_err(|e| BuildError(format!("cannot read {}: {e}", file.display())))?;
            Ok(NamespaceFile { path, contents })
        })
        .collect()
}

/// The namespace files of the flow at `flow_path`: every regular file under `_files/` beside
/// it, as its path there (with `/`) and on disk, sorted. Links are not followed (a link could
/// bundle any file of the build machine); devices, FIFOs and sockets are skipped.
/// `include_flow!` takes the paths alone (the program reads the files with `include_bytes!`).
pub fn namespace_file_paths(flow_path: &Path) -> Result<Vec<(String, PathBuf)>, BuildError> {
    let root = flow_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(NAMESPACE_FILES);
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    let mut total = 0u64;
    let mut pending = vec![(root.clone(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| BuildError(format!("cannot read {}: {e}", dir.display())))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| BuildError(format!("cannot read {}: {e}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().to_string();
            let path = format!("{prefix}{name}");
            let kind = entry
                .file_type()
                .map_err(|e| BuildError(format!("cannot read {}: {e}", entry.path().display())))?;
            if kind.is_dir() {
                pending.push((entry.path(), format!("{path}/")));
            } else if kind.is_file() {
                let size = entry.metadata().map_err(|e| {
                    BuildError(format!("cannot read {}: {e}", entry.path().display()))
                })?;
                total += size.len();
                if files.len() >= MAX_NAMESPACE_FILES || total > MAX_NAMESPACE_BYTES {
                    return Err(BuildError(format!(
                        "{}: more than {MAX_NAMESPACE_FILES} files or {} MiB of namespace files; a binary bundles them all",
                        root.display(),
                        MAX_NAMESPACE_BYTES >> 20
                    )));
                }
                files.push((path, entry.path()));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Lower a checked flow and render its crate. `runtime_path` is where its `Cargo.toml` finds
/// the runtime. The flow must have passed `check` with [`crate::Options::runnable`].
pub fn generate(
    flow: &Flow,
    source_text: &str,
    source_name: &str,
    runtime_path: &str,
    files: Vec<NamespaceFile>,
) -> Crate {
    generate_bundle(
        &flow.id.value,
        vec![FlowSource {
            flow,
            text: source_text,
            name: source_name,
            files,
        }],
        runtime_path,
    )
}

/// One checked flow of a binary, with what `generate_bundle` needs of its file.
pub struct FlowSource<'a> {
    pub flow: &'a Flow,
    pub text: &'a str,
    /// The file's name, for positions in run-time errors.
    pub name: &'a str,
    /// Its namespace files.
    pub files: Vec<NamespaceFile>,
}

/// The name a bundle's binary gets in the build (letters, digits, `-` and `_`).
pub fn bin_name_of(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "bundle".into()
    } else {
        cleaned
    }
}

/// Lower checked flows and render the crate of one binary, `bin_name`, hosting them all (the
/// flows start one another as subflows and through Flow triggers). The flows must have passed
/// `check` with [`crate::Options::runnable`], and together [`crate::check::bundle`].
pub fn generate_bundle(bin_name: &str, sources: Vec<FlowSource<'_>>, runtime_path: &str) -> Crate {
    let plans: Vec<kflow_runtime::plan::Flow> = sources
        .iter()
        .map(|s| plan(s.flow, s.text, s.name))
        .collect();
    let paths: Vec<Vec<&str>> = sources
        .iter()
        .map(|s| s.files.iter().map(|f| f.path.as_str()).collect())
        .collect();
    let mut first_file = 0;
    let emitted: Vec<emit::EmittedFlow<'_>> = plans
        .iter()
        .zip(&paths)
        .map(|(plan, files)| {
            let flow = emit::EmittedFlow {
                plan,
                files,
                first_file,
            };
            first_file += files.len();
            flow
        })
        .collect();
    let main_rs = emit::main_rs(bin_name, KFLOWC_VERSION, &emitted);
    let source_name = sources
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ");
    let source_name = source_name.as_str();
    let files: Vec<NamespaceFile> = sources.into_iter().flat_map(|s| s.files).collect();
    // The runtime's optional parts the flows need (the HTTP client is 5 MB of binary).
    let features: Vec<&str> = plans
        .iter()
        .flat_map(kflow_runtime::tasks::features_of)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let bin_name = bin_name.to_string();
    let name = format!(
        "kflow-flow-{}",
        bin_name.to_ascii_lowercase().replace('_', "-")
    );
    let env = minijinja::Environment::new();
    let cargo_toml = env
        .render_str(
            FLOW_TEMPLATE,
            minijinja::context! {
                kflowc_version => KFLOWC_VERSION,
                source_name => source_name,
                crate_name => name,
                bin_name => bin_name,
                runtime_path => runtime_path,
                features => features,
            },
        )
        .expect("the flow template renders");
    Crate {
        name,
        bin_name,
        cargo_toml,
        main_rs,
        files,
    }
}

/// The plan of a checked flow, as the binary built from it holds it (`./<flow> plan`).
pub fn plan(flow: &Flow, source_text: &str, source_name: &str) -> kflow_runtime::plan::Flow {
    let source = crate::source::SourceFile::new(source_name, source_text.to_string());
    lower::lower(flow, &source, &source_hash(source_text))
}

/// Where `kflowc build` puts the binary: `output` as given, `<output>/<id>` when it names a
/// folder (it ends with `/` or is one), `./<id>` without it. Refused, naming the path as given:
/// the flow file itself, and a folder that does not exist.
pub fn output_path(output: Option<&Path>, flow: &Path, id: &str) -> Result<PathBuf, String> {
    let Some(output) = output else {
        return Ok(PathBuf::from(id));
    };
    let shown = output.display();
    let is_folder = output.as_os_str().to_string_lossy().ends_with('/') || output.is_dir();
    let dest = if is_folder {
        output.join(id)
    } else {
        output.to_path_buf()
    };
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(format!(
            "-o {shown}: the folder {} does not exist",
            parent.display()
        ));
    }
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(&dest, flow) {
        return Err(format!(
            "-o {shown}: that is the flow file; the binary would overwrite it"
        ));
    }
    if dest.is_dir() {
        return Err(format!("-o {shown}: {} is a folder", dest.display()));
    }
    Ok(dest)
}

/// Where a flow's crate sits in a workspace, and the path its `Cargo.toml` uses for the runtime.
pub const RUNTIME_FROM_FLOW: &str = "../../runtime";

/// Write a self-contained workspace at `dir` (the runtime's source, the manifest, the
/// lockfile) with this flow's crate in `flows/<id>/`: `cargo build --release` there builds it.
pub fn emit(krate: &Crate, dir: &Path) -> Result<PathBuf, BuildError> {
    write_workspace(dir)?;
    write_flow(krate, dir)
}

fn write_flow(krate: &Crate, workspace: &Path) -> Result<PathBuf, BuildError> {
    let dir = workspace.join("flows").join(&krate.bin_name);
    write_if_changed(&dir.join("Cargo.toml"), &krate.cargo_toml)?;
    write_if_changed(&dir.join("src/main.rs"), &krate.main_rs)?;
    // `files/<n>`, as `main.rs` includes them; files of an earlier build beyond them go.
    let folder = dir.join("files");
    for (n, file) in krate.files.iter().enumerate() {
        write_bytes_if_changed(&folder.join(n.to_string()), &file.contents)?;
    }
    for n in krate.files.len().. {
        let stale = folder.join(n.to_string());
        if std::fs::remove_file(&stale).is_err() {
            break;
        }
    }
    Ok(dir)
}

fn write_bytes_if_changed(path: &Path, contents: &[u8]) -> Result<(), BuildError> {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    std::fs::write(path, contents).map_err(io_error(path))
}

/// Build one flow; returns the path of the binary in the shared target directory.
pub fn build(krate: &Crate, options: &BuildOptions) -> Result<PathBuf, BuildError> {
    let workspace = cache_workspace(&options.cache.clone().unwrap_or_else(cache_dir));
    write_workspace(&workspace)?;
    write_flow(krate, &workspace)?;
    let target = options.target.clone().unwrap_or_else(default_target);
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(&workspace)
        .arg("build")
        .args(["-p", &krate.name, "--target", &target])
        .env("CARGO_TARGET_DIR", workspace.join("target"))
        // With `--target`, RUSTFLAGS reach the binary, not build scripts or proc macros.
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    match options.profile {
        Profile::Release => {
            cargo.arg("--release");
        }
        Profile::Small => {
            cargo.args(["--profile", "small"]);
        }
        Profile::Debug => {}
    }
    if !options.verbose {
        cargo.arg("--quiet");
    }
    let status = cargo
        .status()
        .map_err(|e| BuildError(format!("cannot run cargo: {e}")))?;
    if !status.success() {
        return Err(BuildError(format!(
            "cargo failed building {} ({status})",
            krate.bin_name
        )));
    }
    let profile_dir = match options.profile {
        Profile::Release => "release",
        Profile::Small => "small",
        Profile::Debug => "debug",
    };
    Ok(workspace
        .join("target")
        .join(&target)
        .join(profile_dir)
        .join(&krate.bin_name))
}

/// musl when its target is installed, else the host's gnu target (linked with `+crt-static`).
fn default_target() -> String {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "x86_64-unknown-linux-musl")
    {
        "x86_64-unknown-linux-musl".into()
    } else {
        "x86_64-unknown-linux-gnu".into()
    }
}

/// The cache folder kflowc builds in.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KFLOW_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("kflow");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("kflow")
}

/// The build workspace of this kflowc in the cache (one per runtime source, so an upgrade
/// never builds against stale files).
fn cache_workspace(cache: &Path) -> PathBuf {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for (path, contents) in embedded::RUNTIME_FILES {
        hasher.update(path.as_bytes());
        hasher.update(contents.as_bytes());
    }
    let key = hex::encode(hasher.finalize());
    cache.join(format!("build-{KFLOWC_VERSION}-{}", &key[..12]))
}

/// The runtime's source written out (unchanged files are not touched, so cargo's
/// fingerprints hold), the workspace manifest, the seed lockfile.
fn write_workspace(workspace: &Path) -> Result<(), BuildError> {
    for (relative, contents) in embedded::RUNTIME_FILES {
        write_if_changed(&workspace.join("runtime").join(relative), contents)?;
    }
    let env = minijinja::Environment::new();
    let manifest = env
        .render_str(
            WORKSPACE_TEMPLATE,
            minijinja::context! {
                kflowc_version => KFLOWC_VERSION,
                workspace_tables => workspace_tables(embedded::WORKSPACE_MANIFEST),
            },
        )
        .expect("the workspace template renders");
    write_if_changed(&workspace.join("Cargo.toml"), &manifest)?;
    let lock = workspace.join("Cargo.lock");
    if !lock.exists() {
        write_if_changed(&lock, embedded::LOCKFILE)?;
    }
    let flows = workspace.join("flows");
    std::fs::create_dir_all(&flows).map_err(io_error(&flows))?;
    Ok(())
}

/// The `[workspace.*]` tables of kflow's manifest, minus kflow's own crates.
fn workspace_tables(manifest: &str) -> String {
    let mut out = String::new();
    let mut keep = false;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            keep = trimmed.starts_with("[workspace.");
        }
        if keep && !trimmed.starts_with("kflow-") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn write_if_changed(path: &Path, contents: &str) -> Result<(), BuildError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    std::fs::write(path, contents).map_err(io_error(path))
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> BuildError + '_ {
    move |e| BuildError(format!("cannot write {}: {e}", path.display()))
}

/// SHA-256 of a flow's source, hex.
pub fn source_hash(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod output_tests {
    use super::output_path;
    use std::path::{Path, PathBuf};

    #[test]
    fn output_paths() {
        let dir = std::env::temp_dir().join(format!("kflow-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let flow = dir.join("flow.yml");
        std::fs::write(&flow, "id: f").unwrap();
        assert_eq!(output_path(None, &flow, "f").unwrap(), PathBuf::from("f"));
        // A folder, by its trailing slash or because it exists, receives `<id>`.
        let with_slash = PathBuf::from(format!("{}/", dir.display()));
        assert_eq!(
            output_path(Some(&with_slash), &flow, "f").unwrap(),
            dir.join("f")
        );
        assert_eq!(output_path(Some(&dir), &flow, "f").unwrap(), dir.join("f"));
        // The flow itself, and folders that do not exist, are refused naming the path given.
        let error = output_path(Some(&flow), &flow, "f").unwrap_err();
        assert!(
            error.contains("flow.yml") && error.contains("flow file"),
            "{error}"
        );
        let error = output_path(Some(Path::new("/no/such/dir/x")), &flow, "f").unwrap_err();
        assert!(error.starts_with("-o /no/such/dir/x"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
