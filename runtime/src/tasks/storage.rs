//! `io.kestra.plugin.core.storage`: files in the flow's internal storage (see
//! [`crate::storage`]): `Write`, `Size`, `Delete`, `Concat`, `Split` and
//! `PurgeCurrentExecutionFiles`. Every copy streams: memory does not grow with file sizes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::shapes::{FILES_MAP, STRING_OR_STRINGS};
use crate::definition::{out, prop, PluginDef, PropType::*, ValueType};

/// `storage.Write`: `content` into a new file; `outputs.<id>.uri`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Write {
    pub content: Value,
    #[serde(default)]
    pub extension: Option<Value>,
}

impl Write {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.storage.Write",
        &[],
        // `Property<String>`: a YAML map or list is written as its JSON text.
        &[prop("content", Any).required(), prop("extension", String)],
        &[out("uri", ValueType::Uri)],
    );
}

#[derive(Debug, Serialize)]
pub struct UriOutput {
    pub uri: std::string::String,
}

/// `storage.Size`: `outputs.<id>.size` in bytes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Size {
    pub uri: Value,
}

impl Size {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.storage.Size",
        &["io.kestra.core.tasks.storages.Size"],
        &[prop("uri", String).required()],
        &[out("size", ValueType::Int)],
    );
}

#[derive(Debug, Serialize)]
pub struct SizeOutput {
    pub size: u64,
}

/// `storage.Delete`: removes a file; `outputs.<id>.deleted`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delete {
    pub uri: Value,
    #[serde(default)]
    pub error_on_missing: Option<Value>,
}

impl Delete {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.storage.Delete",
        &["io.kestra.core.tasks.storages.Delete"],
        &[prop("uri", String).required(), prop("errorOnMissing", Bool)],
        &[out("uri", ValueType::Uri), out("deleted", ValueType::Bool)],
    );
}

#[derive(Debug, Serialize)]
pub struct DeleteOutput {
    pub uri: std::string::String,
    pub deleted: bool,
}

/// `storage.Concat`: the `files` one after another (with `separator` between them) in a new
/// file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Concat {
    pub files: Value,
    #[serde(default)]
    pub separator: Option<Value>,
    #[serde(default)]
    pub extension: Option<Value>,
}

impl Concat {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.storage.Concat",
        &["io.kestra.core.tasks.storages.Concat"],
        &[
            prop("files", STRING_OR_STRINGS).required(),
            prop("separator", String),
            prop("extension", String),
        ],
        &[out("uri", ValueType::Uri)],
    );
}

/// `storage.Split`: a file cut into several, by `rows` per file, at most `bytes` per file
/// (rows are never cut), or into `partitions` files of about equal size.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Split {
    pub from: Value,
    #[serde(default)]
    pub bytes: Option<Value>,
    #[serde(default)]
    pub partitions: Option<Value>,
    #[serde(default)]
    pub rows: Option<Value>,
    #[serde(default)]
    pub separator: Option<Value>,
}

impl Split {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.storage.Split",
        &["io.kestra.core.tasks.storages.Split"],
        &[
            prop("from", String).required(),
            prop("bytes", String),
            prop("partitions", Int),
            prop("rows", Int),
            prop("separator", String),
        ],
        &[out("uris", ValueType::List(&ValueType::Uri))],
    );
}

#[derive(Debug, Serialize)]
pub struct UrisOutput {
    pub uris: Vec<std::string::String>,
}

/// `storage.LocalFiles` (deprecated): inside a `WorkingDirectory`, writes `inputs` into its
/// folder and stores the files matching `outputs`; `outputs.<id>.uris` maps each to its URI.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalFiles {
    #[serde(default)]
    pub inputs: Option<Value>,
    #[serde(default)]
    pub outputs: Option<Value>,
}

impl LocalFiles {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.storage.LocalFiles",
        &["io.kestra.core.tasks.storages.LocalFiles"],
        &[prop("inputs", FILES_MAP), prop("outputs", List(&String))],
        &[out("uris", ValueType::Map(&ValueType::Uri))],
    )
    .deprecated_for(
        "use `inputFiles`/`outputFiles` of `io.kestra.plugin.core.flow.WorkingDirectory` or of a script task",
    );
}

#[derive(Debug, Serialize)]
pub struct UrisMapOutput {
    pub uris: serde_json::Map<std::string::String, Value>,
}

/// `storage.PurgeCurrentExecutionFiles`: deletes every file of this execution.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurgeCurrentExecutionFiles {}

impl PurgeCurrentExecutionFiles {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
        &[
            "io.kestra.core.tasks.storages.PurgeExecution",
            "io.kestra.plugin.core.storage.PurgeExecution",
        ],
        &[],
        &[out("uris", ValueType::List(&ValueType::Uri))],
    );
}

#[cfg(feature = "executor")]
mod run {
    use std::io::{BufRead, BufReader, Read, Write as _};

    use serde_json::Value;

    use super::{
        Concat, Delete, DeleteOutput, LocalFiles, PurgeCurrentExecutionFiles, Size, SizeOutput,
        Split, UriOutput, UrisMapOutput, UrisOutput, Write,
    };
    use crate::expr::value::to_display_string;
    use crate::tasks::{Task, TaskContext, TaskError};

    fn text(value: &Value) -> String {
        to_display_string(value)
    }

    fn optional_text(value: Option<&Value>) -> Option<String> {
        value.filter(|v| !v.is_null()).map(text)
    }

    /// An extension as Kestra takes it, with or without its dot.
    fn extension(value: Option<&Value>, default: &str) -> String {
        let ext = optional_text(value).unwrap_or_else(|| default.to_string());
        match ext.as_str() {
            "" => String::new(),
            e if e.starts_with('.') => e.to_string(),
            e => format!(".{e}"),
        }
    }

    fn count(value: Option<&Value>, name: &str) -> Result<Option<u64>, TaskError> {
        match value.filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => {
                let n = match v {
                    Value::Number(n) => n.as_u64(),
                    other => text(other).trim().parse().ok(),
                };
                match n {
                    Some(n) if n > 0 => Ok(Some(n)),
                    _ => Err(format!("`{name}` must be a positive whole number, got {v}").into()),
                }
            }
        }
    }

    impl Task for Write {
        type Output = UriOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<UriOutput, TaskError> {
            let content = text(&self.content);
            ctx.refuse_secrets(&content, "the content")?;
            let name = format!(
                "{}{}",
                ctx.task_id(),
                extension(self.extension.as_ref(), ".ion")
            );
            let uri = ctx.put_file(&name, &mut content.as_bytes())?;
            Ok(UriOutput { uri })
        }
    }

    impl Task for Size {
        type Output = SizeOutput;
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<SizeOutput, TaskError> {
            Ok(SizeOutput {
                size: ctx.storage()?.size(&text(&self.uri))?,
            })
        }
    }

    impl Task for Delete {
        type Output = DeleteOutput;
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<DeleteOutput, TaskError> {
            let uri = text(&self.uri);
            let deleted = ctx.storage()?.delete(&uri)?;
            let strict = match self.error_on_missing.as_ref() {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s.trim() == "true",
                _ => false,
            };
            if !deleted && strict {
                return Err(format!("`{uri}` does not exist in internal storage").into());
            }
            Ok(DeleteOutput { uri, deleted })
        }
    }

    /// `files` as a list: a list, or JSON text of one (as Kestra accepts both).
    fn uris(files: &Value) -> Result<Vec<String>, TaskError> {
        let list = match files {
            Value::Array(items) => items.clone(),
            Value::String(s) if s.trim_start().starts_with('[') => {
                serde_json::from_str::<Vec<Value>>(s)
                    .map_err(|e| TaskError::from(format!("`files` is not a JSON list: {e}")))?
            }
            Value::String(s) => vec![Value::String(s.clone())],
            other => return Err(format!("`files` must be a list of URIs, got {other}").into()),
        };
        Ok(list.iter().map(text).collect())
    }

    impl Task for Concat {
        type Output = UriOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<UriOutput, TaskError> {
            let files = uris(&self.files)?;
            let separator = optional_text(self.separator.as_ref()).unwrap_or_default();
            let storage = ctx.storage()?;
            // Open everything first: a missing file fails the task before anything is written.
            let mut readers = Vec::with_capacity(files.len());
            for uri in &files {
                readers.push(storage.open(uri)?);
            }
            let count = readers.len();
            let mut joined: Box<dyn Read> = Box::new(std::io::empty());
            for (i, file) in readers.into_iter().enumerate() {
                joined = Box::new(joined.chain(file));
                if i + 1 < count && !separator.is_empty() {
                    joined = Box::new(joined.chain(std::io::Cursor::new(separator.clone())));
                }
            }
            let name = format!(
                "{}{}",
                ctx.task_id(),
                extension(self.extension.as_ref(), ".tmp")
            );
            let uri = ctx.put_file(&name, &mut joined)?;
            Ok(UriOutput { uri })
        }
    }

    impl Task for Split {
        type Output = UrisOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<UrisOutput, TaskError> {
            let from = text(&self.from);
            let separator = optional_text(self.separator.as_ref()).unwrap_or_else(|| "\n".into());
            let Some(&last) = separator.as_bytes().last() else {
                return Err("`separator` must not be empty".into());
            };
            if separator.len() != 1 {
                return Err("`separator` must be one character".into());
            }
            let storage = ctx.storage()?;
            let rows = count(self.rows.as_ref(), "rows")?;
            let partitions = count(self.partitions.as_ref(), "partitions")?;
            let bytes = optional_text(self.bytes.as_ref())
                .map(|b| data_size(&b))
                .transpose()?;
            let limit = match (rows, bytes, partitions) {
                (Some(rows), None, None) => Limit::Rows(rows),
                (None, Some(bytes), None) => Limit::Bytes(bytes),
                (None, None, Some(parts)) => {
                    Limit::Bytes(storage.size(&from)?.div_ceil(parts).max(1))
                }
                _ => return Err("give exactly one of `rows`, `bytes` or `partitions`".into()),
            };
            let suffix = std::path::Path::new(&from)
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default();
            let mut reader = BufReader::new(storage.open(&from)?);
            let mut uris = Vec::new();
            let mut part = Vec::new();
            let mut part_rows = 0u64;
            let mut row = Vec::new();
            loop {
                row.clear();
                let read = reader
                    .read_until(last, &mut row)
                    .map_err(|e| TaskError::from(format!("reading `{from}`: {e}")))?;
                let full = match limit {
                    Limit::Rows(n) => part_rows >= n,
                    Limit::Bytes(n) => !part.is_empty() && (part.len() + row.len()) as u64 > n,
                };
                if (full || read == 0) && !part.is_empty() {
                    let name = format!("{}-{}{suffix}", ctx.task_id(), uris.len());
                    uris.push(ctx.put_file(&name, &mut part.as_slice())?);
                    part.clear();
                    part_rows = 0;
                }
                if read == 0 {
                    break;
                }
                part.write_all(&row)
                    .map_err(|e| TaskError::from(e.to_string()))?;
                part_rows += 1;
            }
            Ok(UrisOutput { uris })
        }
    }

    /// How a `Split` cuts.
    #[derive(Clone, Copy)]
    enum Limit {
        Rows(u64),
        Bytes(u64),
    }

    /// `1048576`, `10KB`, `1MB`, `2GB` (Micronaut's readable sizes, powers of 1024).
    fn data_size(text: &str) -> Result<u64, TaskError> {
        let t = text.trim().to_ascii_uppercase();
        let (number, unit) = t
            .find(|c: char| !c.is_ascii_digit())
            .map_or((t.as_str(), ""), |i| t.split_at(i));
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" => 1 << 10,
            "MB" => 1 << 20,
            "GB" => 1 << 30,
            _ => return Err(format!("`bytes`: `{text}` is not a size such as 10KB or 1MB").into()),
        };
        number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("`bytes`: `{text}` is not a size such as 10KB or 1MB").into())
    }

    impl Task for PurgeCurrentExecutionFiles {
        type Output = UrisOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<UrisOutput, TaskError> {
            let prefix = ctx.execution_files();
            Ok(UrisOutput {
                uris: ctx.storage()?.delete_all(&prefix)?,
            })
        }
    }

    impl Task for LocalFiles {
        type Output = UrisMapOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<UrisMapOutput, TaskError> {
            // The folder of the WorkingDirectory around this task.
            let folder =
                match ctx.render("{{ workingDir ?? '' }}")? {
                    Value::String(dir) if !dir.is_empty() => std::path::PathBuf::from(dir),
                    _ => return Err(
                        "LocalFiles works in the folder of a WorkingDirectory; put it inside one"
                            .into(),
                    ),
                };
            if let Some(inputs) = self.inputs.clone() {
                let files = crate::workdir::input_files(inputs)?;
                crate::workdir::write_inputs(&folder, &files, ctx.storage().ok())?;
            }
            let patterns: Vec<String> = match &self.outputs {
                Some(Value::Array(items)) => items.iter().map(text).collect(),
                Some(Value::Null) | None => Vec::new(),
                Some(other) => vec![text(other)],
            };
            let mut uris = serde_json::Map::new();
            if !patterns.is_empty() {
                for name in crate::workdir::matching(&folder, &patterns)? {
                    let mut file = std::fs::File::open(folder.join(&name))
                        .map_err(|e| TaskError::from(format!("`{name}`: {e}")))?;
                    let uri = ctx.put_file(&name, &mut file)?;
                    uris.insert(name, Value::String(uri));
                }
            }
            Ok(UrisMapOutput { uris })
        }
    }
}
