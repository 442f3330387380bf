//! `io.kestra.plugin.core.namespace`: `UploadFiles` and `DownloadFiles` on namespace files
//! (see [`crate::namespace_files`]). Uploads land in internal storage and are read before the
//! files bundled into the binary; any namespace may be named, as in Kestra's open-source
//! edition.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::definition::shapes::{FILES_MAP, STRING_OR_STRINGS};
use crate::definition::{out, prop, PluginDef, PropType::*, ValueType};

/// `namespace.UploadFiles`: files of the `WorkingDirectory` around it that match `files`
/// (globs), and the stored files of `filesMap` (name → `kestra:///` URI), into the
/// namespace's files under `destination`. `outputs.<id>.files` maps each namespace path to
/// its URI.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadFiles {
    pub namespace: Value,
    #[serde(default)]
    pub files: Option<Value>,
    #[serde(default)]
    pub files_map: Option<Value>,
    #[serde(default)]
    pub destination: Option<Value>,
    #[serde(default)]
    pub conflict: Option<Value>,
}

impl UploadFiles {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.namespace.UploadFiles",
        &[],
        &[
            prop("namespace", String).required(),
            prop("files", List(&String)),
            prop("filesMap", FILES_MAP),
            prop("destination", String),
            prop("conflict", Enum(&["OVERWRITE", "ERROR", "SKIP"])),
        ],
        &[out("files", ValueType::Map(&ValueType::Uri))],
    );
}

/// `namespace.DownloadFiles`: the namespace's files matching `files` (globs) copied into this
/// execution's storage (named `destination` + path); `outputs.<id>.files` maps each
/// `/path` to the copy's URI.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DownloadFiles {
    pub namespace: Value,
    pub files: Value,
    #[serde(default)]
    pub destination: Option<Value>,
}

impl DownloadFiles {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.namespace.DownloadFiles",
        &[],
        &[
            prop("namespace", String).required(),
            prop("files", STRING_OR_STRINGS).required(),
            prop("destination", String),
        ],
        &[out("files", ValueType::Map(&ValueType::Uri))],
    );
}

#[derive(Debug, Serialize)]
pub struct FilesOutput {
    pub files: Map<std::string::String, Value>,
}

#[cfg(feature = "executor")]
mod run {
    use super::{DownloadFiles, FilesOutput, Map, UploadFiles, Value};
    use crate::expr::value::to_display_string;
    use crate::namespace_files::Conflict;
    use crate::plan::Level;
    use crate::tasks::props::{list, optional_text};
    use crate::tasks::{Task, TaskContext, TaskError};
    use crate::workdir::{glob_matches, matching};

    /// `destination` + `name` as one namespace path (`/a/` + `b.txt` → `a/b.txt`).
    fn joined(destination: &str, name: &str) -> std::string::String {
        let folder = destination.trim_matches('/');
        let name = name.trim_start_matches('/');
        if folder.is_empty() {
            name.to_string()
        } else {
            format!("{folder}/{name}")
        }
    }

    /// `filesMap` as rendered: a map, or JSON text of one.
    fn files_map(value: &Value) -> Result<Map<std::string::String, Value>, TaskError> {
        match value {
            Value::Object(map) => Ok(map.clone()),
            Value::String(text) => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err("`filesMap` must be a map of names to kestra:/// URIs".into()),
            },
            _ => Err("`filesMap` must be a map of names to kestra:/// URIs".into()),
        }
    }

    impl Task for UploadFiles {
        type Output = FilesOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<FilesOutput, TaskError> {
            let namespace = to_display_string(&self.namespace);
            let destination = optional_text(self.destination.as_ref()).unwrap_or_default();
            let conflict = optional_text(self.conflict.as_ref())
                .map_or(Ok(Conflict::Overwrite), |c| Conflict::parse(&c))?;
            if self.files.is_none() && self.files_map.is_none() {
                return Err("`files` or `filesMap` is required".into());
            }
            let mut uploaded = Map::new();
            let patterns = list(self.files.as_ref(), "files")?;
            if !patterns.is_empty() {
                let folder = ctx.working_dir().ok_or(
                    "`files` matches files of the WorkingDirectory around the task; put the task inside one, or name stored files with `filesMap`",
                )?;
                for name in matching(folder, &patterns)? {
                    let mut file = std::fs::File::open(folder.join(&name))
                        .map_err(|e| format!("`{name}`: {e}"))?;
                    let path = joined(&destination, &name);
                    let put = ctx
                        .namespace_files()
                        .put(&namespace, &path, &mut file, conflict)?;
                    record(ctx, &mut uploaded, &path, put);
                }
            }
            if let Some(map) = self.files_map.as_ref().filter(|v| !v.is_null()) {
                for (name, source) in files_map(map)? {
                    let Value::String(source) = source else {
                        return Err(format!("`filesMap.{name}` must be a kestra:/// URI").into());
                    };
                    let storage = ctx.storage()?;
                    if !storage.exists(&source)? {
                        // Kestra skips a source that does not exist; kflow says so.
                        ctx.log(
                            Level::Warn,
                            &format!("`{source}` does not exist; `{name}` not uploaded"),
                        );
                        continue;
                    }
                    let mut from = storage.open(&source)?;
                    let path = joined(&destination, &name);
                    let put = ctx
                        .namespace_files()
                        .put(&namespace, &path, &mut from, conflict)?;
                    record(ctx, &mut uploaded, &path, put);
                }
            }
            Ok(FilesOutput { files: uploaded })
        }
    }

    /// One upload's result in the output, and a log line.
    fn record(
        ctx: &TaskContext<'_>,
        uploaded: &mut Map<std::string::String, Value>,
        path: &str,
        put: Option<std::string::String>,
    ) {
        match put {
            Some(uri) => {
                ctx.log(Level::Debug, &format!("uploaded `/{path}`"));
                uploaded.insert(format!("/{path}"), Value::String(uri));
            }
            None => ctx.log(
                Level::Info,
                &format!("`/{path}` exists; skipped (conflict: SKIP)"),
            ),
        }
    }

    impl Task for DownloadFiles {
        type Output = FilesOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<FilesOutput, TaskError> {
            let namespace = to_display_string(&self.namespace);
            let destination = optional_text(self.destination.as_ref()).unwrap_or_default();
            let patterns = list(Some(&self.files), "files")?;
            let patterns: Vec<&str> = patterns.iter().map(|p| p.trim_start_matches('/')).collect();
            let mut downloaded = Map::new();
            let files = ctx.namespace_files();
            for path in files.list(&namespace)? {
                if !patterns.iter().any(|p| glob_matches(p, &path)) {
                    continue;
                }
                let mut from = files.open(&namespace, &path)?;
                let uri = ctx.put_file(&format!("{destination}{path}"), &mut from)?;
                downloaded.insert(format!("/{path}"), Value::String(uri));
            }
            ctx.log(
                Level::Debug,
                &format!("downloaded {} file(s) from `{namespace}`", downloaded.len()),
            );
            Ok(FilesOutput { files: downloaded })
        }
    }
}
