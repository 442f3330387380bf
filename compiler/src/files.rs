//! Finding and reading flow files: a path is a file or a folder searched for `*.yml`/`*.yaml`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic, FileReport};
use crate::source::{max_flow_bytes, SourceFile, Span};

/// A path that could not be used at all: `kflowc check` exits 2.
#[derive(Debug)]
pub struct PathError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// The flow files under `paths`, each folder's files sorted, in the order the paths were given.
///
/// A path given here must exist and be a file or a folder (else a [`PathError`]: exit 2).
/// Inside folders, symbolic links to folders are followed once: a folder reached a second
/// time (a link loop, or two links to one folder) is not walked again. Devices, FIFOs and
/// sockets are skipped; a folder or file that cannot be read is listed anyway, so that
/// [`read`] reports it as that file's error while the others are checked.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PathError> {
    let mut files = Vec::new();
    let mut walked = std::collections::HashSet::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| PathError {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| PathError {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            walk(path, &meta, Some(entries), &mut files, &mut walked);
        } else if meta.is_file() {
            files.push(path.clone());
        } else {
            return Err(PathError {
                path: path.clone(),
                reason:
                    "not a regular file (a device, FIFO or socket); give a flow file or a folder"
                        .into(),
            });
        }
    }
    Ok(files)
}

/// A folder's identity, so that a folder reached again through a link is not walked twice.
#[cfg(unix)]
fn identity(_: &Path, meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(dir: &Path, _: &std::fs::Metadata) -> PathBuf {
    dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())
}

#[cfg(unix)]
type Identity = (u64, u64);
#[cfg(not(unix))]
type Identity = PathBuf;

fn walk(
    dir: &Path,
    meta: &std::fs::Metadata,
    entries: Option<std::fs::ReadDir>,
    files: &mut Vec<PathBuf>,
    walked: &mut std::collections::HashSet<Identity>,
) {
    if !walked.insert(identity(dir, meta)) {
        return;
    }
    let Ok(read) = entries.map_or_else(|| std::fs::read_dir(dir), Ok) else {
        // Listed as it is: `read` reports why it cannot be read.
        files.push(dir.to_path_buf());
        return;
    };
    let mut entries: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        // `metadata` follows links: a link to a folder is walked (once), a dangling link skipped.
        let Ok(meta) = std::fs::metadata(&entry) else {
            continue;
        };
        if meta.is_dir() {
            walk(&entry, &meta, None, files, walked);
        } else if meta.is_file()
            && Path::new(name)
                .extension()
                .is_some_and(|e| e == "yml" || e == "yaml")
        {
            files.push(entry);
        }
    }
}

/// Reads one flow file. A file that cannot be read, is not UTF-8 or is too large becomes a
/// diagnostic of its own (the other files are still checked). At most
/// the size limit + 1 bytes are read, whatever the file claims to be (64 MiB unless
/// `KFLOW_MAX_FLOW_MIB` says otherwise).
pub fn read(path: &Path) -> Result<Result<SourceFile, FileReport>, PathError> {
    let problem = match read_bounded(path) {
        Err(reason) => reason,
        Ok(bytes) if bytes.len() > max_flow_bytes() => format!(
            "the file is larger than {} MiB (KFLOW_MAX_FLOW_MIB sets the limit)",
            max_flow_bytes() / (1024 * 1024)
        ),
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => return Ok(Ok(SourceFile::new(path, text))),
            Err(e) => format!(
                "the file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        },
    };
    let source = SourceFile::new(path, String::new());
    let diagnostic = Diagnostic::error(Code::Io, Span::default(), problem)
        .with_help("flow files are UTF-8 encoded YAML, readable by this user");
    Ok(Err(FileReport {
        source,
        diagnostics: vec![diagnostic],
    }))
}

/// The file's bytes, at most one more than the size limit; why not, in words.
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if meta.is_dir() {
        let why = std::fs::read_dir(path)
            .err()
            .map_or_else(|| "it is a folder".to_string(), |e| e.to_string());
        return Err(format!("cannot read this folder: {why}"));
    }
    if !meta.is_file() {
        return Err("not a regular file (a device, FIFO or socket)".into());
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(max_flow_bytes()).unwrap_or(u64::MAX) + 1;
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    Ok(bytes)
}
