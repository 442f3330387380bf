//! Internal storage: the files of a flow's executions (FILE inputs, files tasks write) under
//! `storage/` in the state directory, addressed as Kestra addresses them:
//! `kestra:///<namespace as folders>/<flow>/executions/<execution>/...`.
//!
//! A URI maps to one path under the root; nothing maps outside it: `..`, `.`, empty or absolute
//! segments, backslashes and NUL are refused, and a path whose real location (symbolic links
//! followed) leaves the root is refused. Files are written to a temporary name and renamed,
//! so a reader never sees half a file; copies stream (memory does not grow with the file).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// The scheme of internal storage URIs.
pub const SCHEME: &str = "kestra://";

/// The storage folder of a state directory.
pub const FOLDER: &str = "storage";

/// The longest URI path taken (a bound on what is parsed and created).
const MAX_URI: usize = 4096;

/// One flow's internal storage.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    /// The storage of the state in `state_dir` (its folder is made when first written).
    pub fn new(state_dir: &Path) -> Storage {
        Storage {
            root: state_dir.join(FOLDER),
        }
    }

    /// The folder of an execution's files.
    pub fn execution_prefix(namespace: &str, flow_id: &str, execution_id: &str) -> String {
        format!(
            "{SCHEME}/{}/{flow_id}/executions/{execution_id}",
            namespace.replace('.', "/")
        )
    }

    /// The URI of a file a task run writes; `name` may have folders (`out/report.csv`), each
    /// segment made plain.
    pub fn task_file(
        namespace: &str,
        flow_id: &str,
        execution_id: &str,
        task_id: &str,
        task_run_id: &str,
        name: &str,
    ) -> String {
        let path: Vec<String> = name
            .split('/')
            .filter(|s| !s.is_empty())
            .map(file_name)
            .collect();
        format!(
            "{}/tasks/{task_id}/{task_run_id}/{}",
            Storage::execution_prefix(namespace, flow_id, execution_id),
            if path.is_empty() {
                "file".to_string()
            } else {
                path.join("/")
            }
        )
    }

    /// The URI of a FILE input's file.
    pub fn input_file(
        namespace: &str,
        flow_id: &str,
        execution_id: &str,
        input_id: &str,
        name: &str,
    ) -> String {
        format!(
            "{}/inputs/{input_id}/{}",
            Storage::execution_prefix(namespace, flow_id, execution_id),
            file_name(name)
        )
    }

    /// The path a URI names, checked to stay under the root.
    pub fn path(&self, uri: &str) -> Result<PathBuf, String> {
        let relative = relative_path(uri)?;
        let path = self.root.join(relative);
        self.inside(&path, uri)?;
        Ok(path)
    }

    /// Refuses a path whose real location (links followed, as far as it exists) is not under
    /// the root.
    fn inside(&self, path: &Path, uri: &str) -> Result<(), String> {
        let Ok(root) = self.root.canonicalize() else {
            // No storage yet: nothing under it can be a link.
            return Ok(());
        };
        let mut existing = path;
        while !existing.exists() {
            match existing.parent() {
                Some(parent) => existing = parent,
                None => return Ok(()),
            }
        }
        let real = existing
            .canonicalize()
            .map_err(|e| format!("`{uri}`: {e}"))?;
        if real.starts_with(&root) {
            Ok(())
        } else {
            Err(format!(
                "`{uri}` leads out of the internal storage (a symbolic link); refused"
            ))
        }
    }

    /// Stores what `from` yields under `uri`; returns the number of bytes.
    pub fn put(&self, uri: &str, from: &mut dyn Read) -> Result<u64, String> {
        let path = self.path(uri)?;
        let folder = path
            .parent()
            .ok_or_else(|| format!("`{uri}` names no file"))?;
        std::fs::create_dir_all(folder).map_err(|e| format!("storing `{uri}`: {e}"))?;
        self.inside(folder, uri)?;
        let temporary = folder.join(format!(".{}.part", crate::execution::new_id()));
        let written = (|| {
            let mut file = File::create(&temporary)?;
            let written = std::io::copy(from, &mut file)?;
            file.flush()?;
            file.sync_data()?;
            std::fs::rename(&temporary, &path)?;
            Ok::<_, std::io::Error>(written)
        })();
        written.map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            format!("storing `{uri}`: {e}")
        })
    }

    /// A file stored from chunks that arrive one by one (a request's or a response's body): a
    /// blocking writer takes them as one stream, so memory does not grow with the file.
    pub fn writer(&self, uri: &str) -> StreamWriter {
        let (chunks, received) = tokio::sync::mpsc::channel::<Bytes>(16);
        let storage = self.clone();
        let target = uri.to_string();
        let writer = tokio::task::spawn_blocking(move || {
            storage.put(
                &target,
                &mut ChunkReader {
                    chunks: received,
                    chunk: Bytes::new(),
                },
            )
        });
        StreamWriter {
            storage: self.clone(),
            uri: uri.to_string(),
            chunks,
            writer,
        }
    }

    /// Opens a stored file for reading.
    pub fn open(&self, uri: &str) -> Result<File, String> {
        let path = self.path(uri)?;
        File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("`{uri}` does not exist in internal storage"),
            _ => format!("reading `{uri}`: {e}"),
        })
    }

    /// A stored file's text, refused past `limit` bytes.
    pub fn read_text(&self, uri: &str, limit: u64) -> Result<String, String> {
        let size = self.size(uri)?;
        if size > limit {
            return Err(format!(
                "`{uri}` is {size} bytes, more than the {limit} a template may read"
            ));
        }
        let mut text = String::new();
        self.open(uri)?
            .take(limit)
            .read_to_string(&mut text)
            .map_err(|e| format!("reading `{uri}`: {e}"))?;
        Ok(text)
    }

    /// A stored file's size in bytes.
    pub fn size(&self, uri: &str) -> Result<u64, String> {
        let path = self.path(uri)?;
        std::fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("`{uri}` does not exist in internal storage")
                }
                _ => format!("reading `{uri}`: {e}"),
            })
    }

    /// Whether a file is stored under `uri`.
    pub fn exists(&self, uri: &str) -> Result<bool, String> {
        Ok(self.path(uri)?.is_file())
    }

    /// Deletes a stored file; whether it existed.
    pub fn delete(&self, uri: &str) -> Result<bool, String> {
        let path = self.path(uri)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(format!("deleting `{uri}`: {e}")),
        }
    }

    /// Deletes every file under a URI prefix (an execution's folder); the URIs deleted.
    pub fn delete_all(&self, prefix: &str) -> Result<Vec<String>, String> {
        let folder = self.path(prefix)?;
        let prefix = prefix.trim_end_matches('/');
        let mut deleted = Vec::new();
        // Links are removed, never followed.
        for (path, name, _) in walk(&folder, usize::MAX)? {
            let uri = format!("{prefix}/{name}");
            std::fs::remove_file(path).map_err(|e| format!("deleting `{uri}`: {e}"))?;
            deleted.push(uri);
        }
        let _ = std::fs::remove_dir_all(&folder);
        deleted.sort();
        Ok(deleted)
    }

    /// The files under a URI prefix, as paths relative to it (`a/b.txt`), sorted; links are
    /// skipped. At most [`MAX_LISTED`] are listed, more is an error.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let folder = self.path(prefix.trim_end_matches('/'))?;
        let mut names: Vec<String> = walk(&folder, MAX_LISTED)
            .map_err(|e| format!("`{prefix}`: {e}"))?
            .into_iter()
            .filter(|(_, _, regular)| *regular)
            .map(|(_, name, _)| name)
            .collect();
        names.sort();
        Ok(names)
    }
}

/// At most this many files are listed under one prefix.
pub const MAX_LISTED: usize = 10_000;

/// Every non-folder entry under `folder` (path, `/`-joined name relative to it, whether it is
/// a regular file), links not followed; more than `limit` is an error. A missing folder holds
/// nothing.
pub(crate) fn walk(folder: &Path, limit: usize) -> Result<Vec<(PathBuf, String, bool)>, String> {
    let mut found = Vec::new();
    let mut pending = vec![(folder.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push((entry.path(), format!("{name}/"))),
                Ok(t) => {
                    if found.len() == limit {
                        return Err(format!("more than {limit} files"));
                    }
                    found.push((entry.path(), name, t.is_file()));
                }
                Err(_) => {}
            }
        }
    }
    Ok(found)
}

/// The path of a `kestra:///...` URI relative to the storage root, every segment checked.
fn relative_path(uri: &str) -> Result<PathBuf, String> {
    if uri.len() > MAX_URI {
        return Err(format!(
            "an internal storage URI is at most {MAX_URI} bytes long"
        ));
    }
    let rest = uri
        .strip_prefix(SCHEME)
        .ok_or_else(|| format!("`{uri}` is not an internal storage URI (kestra:///...)"))?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let decoded = percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .map_err(|_| format!("`{uri}` is not UTF-8 once decoded"))?;
    let refuse = || format!("`{uri}` is not a plain path inside the internal storage; refused");
    if decoded.is_empty() || decoded.contains(['\0', '\\']) {
        return Err(refuse());
    }
    let mut path = PathBuf::new();
    for segment in decoded.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(refuse());
        }
        path.push(segment);
    }
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(refuse());
    }
    Ok(path)
}

/// A file name safe as one URI segment: the last component of `name`, with characters that
/// would need escaping replaced by `_`.
pub fn file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.trim_start_matches('.') {
        "" => "file".to_string(),
        rest => rest.to_string(),
    }
}

/// Chunks of bytes (a body), as `axum` and `reqwest` hand them over.
pub use axum::body::Bytes;

/// A file being stored from chunks ([`Storage::writer`]).
pub struct StreamWriter {
    storage: Storage,
    uri: String,
    chunks: tokio::sync::mpsc::Sender<Bytes>,
    writer: tokio::task::JoinHandle<Result<u64, String>>,
}

impl StreamWriter {
    /// Hands one chunk to the writer; `false` when it has stopped (its error comes with
    /// [`StreamWriter::finish`]).
    pub async fn send(&mut self, chunk: Bytes) -> bool {
        self.chunks.send(chunk).await.is_ok()
    }

    /// The file is complete: stored (fsynced, then renamed into place); its size.
    pub async fn finish(self) -> Result<u64, String> {
        drop(self.chunks);
        match self.writer.await {
            Ok(written) => written,
            Err(e) => Err(format!("storing `{}`: {e}", self.uri)),
        }
    }

    /// The file is not wanted (its body failed or was too large): nothing is left of it.
    pub async fn abandon(self) {
        let storage = self.storage.clone();
        let uri = self.uri.clone();
        let _ = self.finish().await;
        let _ = storage.delete(&uri);
    }
}

/// The chunks a body arrives in, read as one stream by a blocking writer.
struct ChunkReader {
    chunks: tokio::sync::mpsc::Receiver<Bytes>,
    chunk: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.chunk = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(name: &str) -> (Storage, PathBuf) {
        let dir = std::env::temp_dir().join(format!("kflow-storage-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (Storage::new(&dir), dir)
    }

    #[test]
    fn files_round_trip_under_their_uri() {
        let (storage, dir) = storage("round");
        let uri = Storage::task_file("company.team", "f", "E1", "write", "R1", "out put.txt");
        assert_eq!(
            uri,
            "kestra:///company/team/f/executions/E1/tasks/write/R1/out_put.txt"
        );
        assert_eq!(storage.put(&uri, &mut &b"hello"[..]).unwrap(), 5);
        assert_eq!(storage.read_text(&uri, 100).unwrap(), "hello");
        assert_eq!(storage.size(&uri).unwrap(), 5);
        assert!(storage.exists(&uri).unwrap());
        assert!(storage
            .read_text(&uri, 3)
            .unwrap_err()
            .contains("more than"));
        let prefix = Storage::execution_prefix("company.team", "f", "E1");
        assert_eq!(storage.delete_all(&prefix).unwrap(), vec![uri.clone()]);
        assert!(!storage.exists(&uri).unwrap());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn paths_that_escape_are_refused() {
        let (storage, dir) = storage("escape");
        for bad in [
            "kestra:///../etc/passwd",
            "kestra:///a/../../etc/passwd",
            "kestra:///a/%2e%2e/%2e%2e/etc/passwd",
            "kestra:///a//b",
            "kestra:///a/./b",
            "kestra:///a\\..\\b",
            "kestra:///",
            "file:///etc/passwd",
            "/etc/passwd",
        ] {
            assert!(storage.path(bad).is_err(), "{bad}");
        }
        // A link inside the storage to a folder outside it is not followed.
        std::fs::create_dir_all(dir.join(FOLDER).join("ns")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc", dir.join(FOLDER).join("ns/out")).unwrap();
        #[cfg(unix)]
        assert!(storage
            .read_text("kestra:///ns/out/passwd", 1 << 20)
            .unwrap_err()
            .contains("leads out"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn file_names_are_one_plain_segment() {
        assert_eq!(file_name("../../x.csv"), "x.csv");
        assert_eq!(file_name("a b?.txt"), "a_b_.txt");
        assert_eq!(file_name(".."), "file");
        assert_eq!(file_name(".hidden"), "hidden");
    }
}
