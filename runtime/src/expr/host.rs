//! A host for running templates outside a flow (`kflowc eval`): secrets from the environment
//! the way Kestra's open-source edition reads them, files from the local disk, no KV store.

use serde_json::Value;

use super::eval::Host;
use super::functions::base64_decode;

/// Secrets come from `SECRET_<KEY>` environment variables holding base64 text, as in
/// Kestra's open-source edition; `read()`, `fileSize()` and `fileExists()` see local files;
/// `kv()` and `errorLogs()` are unavailable.
pub struct EnvHost;

impl Host for EnvHost {
    fn secret(&self, key: &str) -> Result<String, String> {
        let name = format!("SECRET_{key}");
        let encoded = std::env::var(&name)
            .map_err(|_| format!("secret `{key}` not found (set the environment variable {name} to its base64 value)"))?;
        let bytes = base64_decode(encoded.trim())
            .map_err(|e| format!("{name} is not valid base64: {e}"))?;
        String::from_utf8(bytes).map_err(|_| format!("{name} does not decode to UTF-8 text"))
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
