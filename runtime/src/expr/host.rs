//! Hosts for templates: [`EnvHost`] for `kflowc eval` (secrets from the environment, local
//! files), [`FlowHost`] for a flow's binary (secrets from the environment or systemd
//! credentials, no local files).

use serde_json::Value;

use super::eval::Host;
use super::functions::base64_decode;

/// Secrets come from `SECRET_<KEY>` environment variables holding base64 text, as in
/// Kestra's open-source edition; `read()`, `fileSize()` and `fileExists()` see local files;
/// `kv()` and `errorLogs()` are unavailable.
pub struct EnvHost;

impl Host for EnvHost {
    fn secret(&self, key: &str) -> Result<String, String> {
        secret(key)
    }

    fn kv(&self, _namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        Err(format!(
            "kv('{key}'): the KV store lives in a flow's state; it is not available to `kflowc eval`"
        ))
    }

    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(local_path(path)?).map_err(|e| format!("cannot read `{path}`: {e}"))
    }

    fn file_size(&self, path: &str) -> Result<u64, String> {
        std::fs::metadata(local_path(path)?)
            .map(|m| m.len())
            .map_err(|e| format!("cannot read `{path}`: {e}"))
    }

    fn file_exists(&self, path: &str) -> Result<bool, String> {
        Ok(std::path::Path::new(local_path(path)?).exists())
    }
}

/// A local path for `file:///x` or `x`; `kestra:///` URIs name a flow's storage.
fn local_path(path: &str) -> Result<&str, String> {
    if path.starts_with("kestra://") {
        return Err(format!(
            "`{path}` is in a flow's internal storage; `kflowc eval` reads local files only"
        ));
    }
    Ok(path.strip_prefix("file://").unwrap_or(path))
}

/// A secret: `SECRET_<KEY>` (base64, as Kestra's open-source edition reads it), else the file
/// `$CREDENTIALS_DIRECTORY/<KEY>` (plain text, as systemd's `LoadCredential=` provides it; a
/// final newline is dropped).
fn secret(key: &str) -> Result<String, String> {
    let name = format!("SECRET_{key}");
    if let Ok(encoded) = std::env::var(&name) {
        let bytes = base64_decode(encoded.trim())
            .map_err(|e| format!("{name} is not valid base64: {e}"))?;
        return String::from_utf8(bytes)
            .map_err(|_| format!("{name} does not decode to UTF-8 text"));
    }
    let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(std::path::PathBuf::from);
    // A key is one file name: no path may escape the credentials folder.
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !key.starts_with('.');
    if let Some(file) = credentials.filter(|_| plain).map(|dir| dir.join(key)) {
        if let Ok(text) = std::fs::read_to_string(&file) {
            return Ok(text.strip_suffix('\n').unwrap_or(&text).to_string());
        }
    }
    Err(format!(
        "secret `{key}` not found (set the environment variable {name} to its base64 value, or give it as a systemd credential `{key}`)"
    ))
}

/// The host of a flow's binary: secrets as [`EnvHost`] reads them; `read()`, `fileSize()` and
/// `fileExists()` read the namespace files bundled into the binary (`_files/` beside the flow
/// when it was built), by path (`scripts/etl.py`) or URI (`kestra:///<namespace>/_files/...`,
/// as `fileURI()` gives it), and never the host's files (`/etc/passwd`, `/proc/self/environ`
/// and its secrets). An execution reads its internal storage (other `kestra:///` URIs, see
/// `crate::storage`) before asking this host.
#[derive(Debug, Clone, Default)]
pub struct FlowHost {
    /// The flow's namespace (`kestra:///<namespace as folders>/_files/`).
    namespace: String,
    files: &'static [(&'static str, &'static [u8])],
}

impl FlowHost {
    pub fn new(namespace: &str, files: &'static [(&'static str, &'static [u8])]) -> FlowHost {
        FlowHost {
            namespace: namespace.to_string(),
            files,
        }
    }

    /// A namespace file's contents by path or URI.
    fn file(&self, path: &str) -> Result<Option<&'static [u8]>, String> {
        let relative = if let Some(rest) = path.strip_prefix("kestra:///") {
            let prefix = format!("{}/_files/", self.namespace.replace('.', "/"));
            match rest.strip_prefix(&prefix) {
                Some(relative) => relative,
                None => return Err(not_local(path)),
            }
        } else if path.contains("://") {
            return Err(not_local(path));
        } else {
            path.trim_start_matches('/')
        };
        let relative = relative.strip_prefix("./").unwrap_or(relative);
        Ok(self
            .files
            .iter()
            .find(|(name, _)| *name == relative)
            .map(|(_, contents)| *contents))
    }

    fn missing(&self, path: &str) -> String {
        format!(
            "`{path}`: no such namespace file ({} bundled from `_files/` beside the flow); a flow never reads the host's files",
            self.files.len()
        )
    }
}

impl Host for FlowHost {
    fn secret(&self, key: &str) -> Result<String, String> {
        secret(key)
    }

    fn kv(&self, _namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        Err(format!(
            "kv('{key}'): the KV store is in a flow's state, read during an execution"
        ))
    }

    fn read(&self, path: &str) -> Result<String, String> {
        let contents = self.file(path)?.ok_or_else(|| self.missing(path))?;
        String::from_utf8(contents.to_vec()).map_err(|_| format!("`{path}` is not UTF-8 text"))
    }

    fn file_size(&self, path: &str) -> Result<u64, String> {
        let contents = self.file(path)?.ok_or_else(|| self.missing(path))?;
        Ok(contents.len() as u64)
    }

    fn file_exists(&self, path: &str) -> Result<bool, String> {
        Ok(self.file(path)?.is_some())
    }
}

fn not_local(path: &str) -> String {
    format!(
        "`{path}`: a flow reads its internal storage and its namespace files only, never the host's files"
    )
}
