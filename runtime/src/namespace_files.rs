//! Namespace files, as Kestra keeps them: a namespace's own files, addressed by a relative path
//! (`scripts/etl.py`) or a URI (`kestra:///<namespace as folders>/_files/scripts/etl.py`).
//!
//! Two layers, read in this order:
//! - files uploaded by `namespace.UploadFiles`, in internal storage under that same URI (any
//!   namespace; they survive the execution, as Kestra's do);
//! - files bundled into the binary from `_files/` beside the flow (the flow's namespace only;
//!   read-only, so a build is reproducible).
//!
//! Nothing here reads the host's files: a path names a namespace file or nothing.

use std::io::Read;

use crate::storage::{Storage, SCHEME};

/// The files `kflowc build` bundled: relative path, contents.
pub type Bundled = &'static [(&'static str, &'static [u8])];

/// The folder of a namespace's files in internal storage (`kestra:///a/b/_files`).
const FOLDER: &str = "_files";

/// What to do when an uploaded file already exists (`UploadFiles.conflict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    Overwrite,
    Error,
    Skip,
}

impl Conflict {
    pub fn parse(text: &str) -> Result<Conflict, String> {
        match text {
            "OVERWRITE" => Ok(Conflict::Overwrite),
            "ERROR" => Ok(Conflict::Error),
            "SKIP" => Ok(Conflict::Skip),
            other => Err(format!(
                "`conflict` is OVERWRITE, ERROR or SKIP, not `{other}`"
            )),
        }
    }
}

/// The namespace files an execution sees.
pub struct NamespaceFiles<'a> {
    /// The flow's namespace: relative paths and the bundled files are its.
    namespace: &'a str,
    bundled: Bundled,
    storage: Option<&'a Storage>,
}

/// Where a namespace file's contents are.
enum Found {
    Bundled(&'static [u8]),
    Stored(String),
}

impl<'a> NamespaceFiles<'a> {
    pub fn new(namespace: &'a str, bundled: Bundled, storage: Option<&'a Storage>) -> Self {
        NamespaceFiles {
            namespace,
            bundled,
            storage,
        }
    }

    /// The URI of a namespace file.
    pub fn uri(namespace: &str, path: &str) -> String {
        format!(
            "{SCHEME}/{}/{FOLDER}/{}",
            namespace.replace('.', "/"),
            path.trim_start_matches('/')
        )
    }

    /// Whether `path` names a namespace file (a relative path, or a `kestra:///.../_files/`
    /// URI) rather than another file of internal storage.
    pub fn names_one(path: &str) -> bool {
        match path.strip_prefix(SCHEME) {
            Some(rest) => rest.contains(&format!("/{FOLDER}/")),
            None => true,
        }
    }

    /// The namespace and relative path `path` names; an error for anything that is not a
    /// namespace file (a host path with a scheme, another storage URI).
    fn locate(&self, path: &str) -> Result<(String, String), String> {
        let (namespace, relative) = if let Some(rest) = path.strip_prefix(SCHEME) {
            let rest = rest.trim_start_matches('/');
            let marker = format!("/{FOLDER}/");
            let at = rest.find(&marker).ok_or_else(|| not_local(path))?;
            (rest[..at].replace('/', "."), &rest[at + marker.len()..])
        } else if path.contains("://") {
            return Err(not_local(path));
        } else {
            (self.namespace.to_string(), path.trim_start_matches('/'))
        };
        let relative = relative.strip_prefix("./").unwrap_or(relative);
        let plain = !relative.is_empty()
            && relative
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != "..");
        if !plain || relative.contains(['\0', '\\']) {
            return Err(format!(
                "`{path}` is not a plain path inside the namespace files; refused"
            ));
        }
        Ok((namespace, relative.to_string()))
    }

    fn find(&self, namespace: &str, relative: &str) -> Result<Option<Found>, String> {
        if let Some(storage) = self.storage {
            let uri = Self::uri(namespace, relative);
            if storage.exists(&uri)? {
                return Ok(Some(Found::Stored(uri)));
            }
        }
        if namespace != self.namespace {
            return Ok(None);
        }
        Ok(self
            .bundled
            .iter()
            .find(|(name, _)| *name == relative)
            .map(|(_, contents)| Found::Bundled(contents)))
    }

    fn found(&self, path: &str) -> Result<Found, String> {
        let (namespace, relative) = self.locate(path)?;
        self.find(&namespace, &relative)?.ok_or_else(|| {
            format!(
                "`{path}`: no such namespace file ({} bundled from `_files/` beside the flow, others uploaded by namespace.UploadFiles); a flow never reads the host's files",
                self.bundled.len()
            )
        })
    }

    /// A namespace file's text, refused past `limit` bytes.
    pub fn read_text(&self, path: &str, limit: u64) -> Result<String, String> {
        match self.found(path)? {
            Found::Stored(uri) => self.storage()?.read_text(&uri, limit),
            Found::Bundled(contents) => {
                if contents.len() as u64 > limit {
                    return Err(format!(
                        "`{path}` is {} bytes, more than the {limit} a template may read",
                        contents.len()
                    ));
                }
                String::from_utf8(contents.to_vec())
                    .map_err(|_| format!("`{path}` is not UTF-8 text"))
            }
        }
    }

    pub fn size(&self, path: &str) -> Result<u64, String> {
        match self.found(path)? {
            Found::Stored(uri) => self.storage()?.size(&uri),
            Found::Bundled(contents) => Ok(contents.len() as u64),
        }
    }

    pub fn exists(&self, path: &str) -> Result<bool, String> {
        let (namespace, relative) = self.locate(path)?;
        Ok(self.find(&namespace, &relative)?.is_some())
    }

    /// A namespace file of `namespace` opened for reading (streams: nothing is loaded whole).
    pub fn open(&self, namespace: &str, relative: &str) -> Result<Box<dyn Read + 'a>, String> {
        match self.find(namespace, relative)? {
            Some(Found::Stored(uri)) => Ok(Box::new(self.storage()?.open(&uri)?)),
            Some(Found::Bundled(contents)) => Ok(Box::new(contents)),
            None => Err(format!(
                "`{relative}`: no such namespace file in `{namespace}`"
            )),
        }
    }

    /// The relative paths of `namespace`'s files, uploaded and bundled, sorted, each once.
    pub fn list(&self, namespace: &str) -> Result<Vec<String>, String> {
        let mut paths: Vec<String> = match self.storage {
            Some(storage) => storage.list(&Self::uri(namespace, ""))?,
            None => Vec::new(),
        };
        if namespace == self.namespace {
            paths.extend(self.bundled.iter().map(|(name, _)| name.to_string()));
        }
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    /// Stores `from` as `namespace`'s file `relative`; its URI, or `None` when it existed and
    /// `conflict` is SKIP.
    pub fn put(
        &self,
        namespace: &str,
        relative: &str,
        from: &mut dyn Read,
        conflict: Conflict,
    ) -> Result<Option<String>, String> {
        let (namespace, relative) = self.locate(&Self::uri(namespace, relative))?;
        let uri = Self::uri(&namespace, &relative);
        if conflict != Conflict::Overwrite && self.find(&namespace, &relative)?.is_some() {
            return match conflict {
                Conflict::Skip => Ok(None),
                _ => Err(format!(
                    "namespace file `{relative}` already exists in `{namespace}` (conflict: ERROR)"
                )),
            };
        }
        self.storage()?.put(&uri, from)?;
        Ok(Some(uri))
    }

    fn storage(&self) -> Result<&'a Storage, String> {
        self.storage.ok_or_else(|| {
            "namespace files are written to internal storage, and this execution has none".into()
        })
    }
}

fn not_local(path: &str) -> String {
    format!(
        "`{path}`: a flow reads its internal storage and its namespace files only, never the host's files"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    static BUNDLED: &[(&str, &[u8])] = &[("scripts/a.py", b"print(1)"), ("b.txt", b"bee")];

    fn storage(name: &str) -> (Storage, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("kflow-nsfiles-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (Storage::new(&dir), dir)
    }

    #[test]
    fn uploaded_files_come_before_bundled_ones() {
        let (storage, dir) = storage("layers");
        let files = NamespaceFiles::new("company.team", BUNDLED, Some(&storage));
        assert_eq!(files.read_text("b.txt", 100).unwrap(), "bee");
        assert_eq!(
            files
                .read_text("kestra:///company/team/_files/b.txt", 100)
                .unwrap(),
            "bee"
        );
        let uri = files
            .put(
                "company.team",
                "/b.txt",
                &mut &b"wasp"[..],
                Conflict::Overwrite,
            )
            .unwrap();
        assert_eq!(uri.as_deref(), Some("kestra:///company/team/_files/b.txt"));
        assert_eq!(files.read_text("b.txt", 100).unwrap(), "wasp");
        assert_eq!(files.size("b.txt").unwrap(), 4);
        assert!(files
            .put("company.team", "b.txt", &mut &b"x"[..], Conflict::Error)
            .unwrap_err()
            .contains("already exists"));
        assert_eq!(
            files
                .put("company.team", "b.txt", &mut &b"x"[..], Conflict::Skip)
                .unwrap(),
            None
        );
        files
            .put("other", "c/d.txt", &mut &b"dee"[..], Conflict::Overwrite)
            .unwrap();
        assert_eq!(
            files.list("company.team").unwrap(),
            ["b.txt", "scripts/a.py"]
        );
        // Another namespace has its uploads only.
        assert_eq!(files.list("other").unwrap(), ["c/d.txt"]);
        assert!(!files.exists("kestra:///other/_files/b.txt").unwrap());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn host_paths_and_escapes_are_refused() {
        let files = NamespaceFiles::new("ns", BUNDLED, None);
        for bad in [
            "file:///etc/passwd",
            "../x",
            "a/../../x",
            "kestra:///ns/f/x",
        ] {
            assert!(files.read_text(bad, 100).is_err(), "{bad}");
        }
        assert!(files
            .read_text("/etc/passwd", 100)
            .unwrap_err()
            .contains("no such"));
        assert!(files
            .put("ns", "../x", &mut &b""[..], Conflict::Overwrite)
            .is_err());
    }
}
