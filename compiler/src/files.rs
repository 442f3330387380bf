//! Finding and reading flow files: a path is a file or a folder searched for `*.yml`/`*.yaml`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic, FileReport};
use crate::source::{SourceFile, Span, MAX_SOURCE_BYTES};

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
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PathError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| PathError {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), PathError> {
    let read = std::fs::read_dir(dir).map_err(|e| PathError {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut entries: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if entry.is_dir() {
            walk(&entry, files)?;
        } else if Path::new(name)
            .extension()
            .is_some_and(|e| e == "yml" || e == "yaml")
        {
            files.push(entry);
        }
    }
    Ok(())
}

/// Reads one flow file. A file that is not UTF-8 or too large becomes a diagnostic of its own;
/// a file that cannot be opened is a `PathError`.
pub fn read(path: &Path) -> Result<Result<SourceFile, FileReport>, PathError> {
    let bytes = std::fs::read(path).map_err(|e| PathError {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let problem = if bytes.len() > MAX_SOURCE_BYTES {
        Some(format!(
            "the file is larger than {} MiB",
            MAX_SOURCE_BYTES / (1024 * 1024)
        ))
    } else {
        match String::from_utf8(bytes) {
            Ok(text) => return Ok(Ok(SourceFile::new(path, text))),
            Err(e) => Some(format!(
                "the file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            )),
        }
    };
    let source = SourceFile::new(path, String::new());
    let diagnostic = Diagnostic::error(Code::Io, Span::default(), problem.unwrap_or_default())
        .with_help("flow files are UTF-8 encoded YAML");
    Ok(Err(FileReport {
        source,
        diagnostics: vec![diagnostic],
    }))
}
