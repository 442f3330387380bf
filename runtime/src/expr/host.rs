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
/// when it was built; see [`crate::namespace_files`]), and never the host's files
/// (`/etc/passwd`, `/proc/self/environ` and its secrets). An execution reads its internal
/// storage and uploaded namespace files before the bundled ones.
#[cfg(feature = "executor")]
#[derive(Debug, Clone, Default)]
pub struct FlowHost {
    /// The flow's namespace: the bundled files are its.
    namespace: String,
    files: crate::namespace_files::Bundled,
    /// Secrets the host program gives (`include_flow!`'s runner), read before the environment.
    given: GivenSecrets,
}

/// Secret values given in code; `Debug` shows only their keys.
#[cfg(feature = "executor")]
#[derive(Clone, Default)]
pub struct GivenSecrets(pub std::sync::Arc<std::collections::BTreeMap<String, String>>);

#[cfg(feature = "executor")]
impl std::fmt::Debug for GivenSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(feature = "executor")]
impl FlowHost {
    pub fn new(namespace: &str, files: crate::namespace_files::Bundled) -> FlowHost {
        FlowHost {
            namespace: namespace.to_string(),
            files,
            given: GivenSecrets::default(),
        }
    }

    /// This host, reading `given` before the environment.
    #[must_use]
    pub fn with_secrets(mut self, given: GivenSecrets) -> FlowHost {
        self.given = given;
        self
    }

    fn files(&self) -> crate::namespace_files::NamespaceFiles<'_> {
        crate::namespace_files::NamespaceFiles::new(&self.namespace, self.files, None)
    }
}

#[cfg(feature = "executor")]
impl Host for FlowHost {
    fn secret(&self, key: &str) -> Result<String, String> {
        match self.given.0.get(key) {
            Some(value) => Ok(value.clone()),
            None => secret(key),
        }
    }

    fn kv(&self, _namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        Err(format!(
            "kv('{key}'): the KV store is in a flow's state, read during an execution"
        ))
    }

    fn read(&self, path: &str) -> Result<String, String> {
        self.files()
            .read_text(path, super::eval::MAX_RENDER_BYTES as u64)
    }

    fn file_size(&self, path: &str) -> Result<u64, String> {
        self.files().size(path)
    }

    fn file_exists(&self, path: &str) -> Result<bool, String> {
        self.files().exists(path)
    }

    fn bundled_files(&self) -> &'static [(&'static str, &'static [u8])] {
        self.files
    }
}
