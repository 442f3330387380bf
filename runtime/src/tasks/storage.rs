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

/// `storage.FilterItems`: the items (rows) of an Ion file for which `filterCondition`, rendered
/// with the item's fields, holds (`INCLUDE`, the default) or does not (`EXCLUDE`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterItems {
    pub from: Value,
    pub filter_condition: Value,
    #[serde(default)]
    pub filter_type: Option<Value>,
    #[serde(default)]
    pub error_or_null_behavior: Option<Value>,
}

impl FilterItems {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.storage.FilterItems",
        &["io.kestra.core.tasks.storages.FilterItems"],
        &[
            prop("from", String).required(),
            // A template rendered once per item, with the item's fields.
            prop("filterCondition", String).required().not_dynamic(),
            prop("filterType", Enum(&["INCLUDE", "EXCLUDE"])),
            prop("errorOrNullBehavior", Enum(&["FAIL", "INCLUDE", "EXCLUDE"])),
        ],
        &[
            out("uri", ValueType::Uri),
            out("processedItemsTotal", ValueType::Int),
            out("droppedItemsTotal", ValueType::Int),
        ],
    );
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterItemsOutput {
    pub uri: std::string::String,
    pub processed_items_total: u64,
    pub dropped_items_total: u64,
}

/// `storage.DeduplicateItems`: one item per key (`expr`, rendered with the item's fields): the
/// last one, in the order the last ones come.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeduplicateItems {
    pub from: Value,
    pub expr: Value,
}

impl DeduplicateItems {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.storage.DeduplicateItems",
        &["io.kestra.core.tasks.storages.DeduplicateItems"],
        &[
            prop("from", String).required(),
            prop("expr", String).required().not_dynamic(),
        ],
        &[
            out("uri", ValueType::Uri),
            out("numKeys", ValueType::Int),
            out("processedItemsTotal", ValueType::Int),
            out("droppedItemsTotal", ValueType::Int),
        ],
    );
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeduplicateItemsOutput {
    pub uri: std::string::String,
    pub num_keys: u64,
    pub processed_items_total: u64,
    pub dropped_items_total: u64,
}

/// `storage.Reverse`: the lines of a file in reverse order, in a new file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reverse {
    pub from: Value,
    #[serde(default)]
    pub separator: Option<Value>,
    #[serde(default)]
    pub charset: Option<Value>,
}

impl Reverse {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.storage.Reverse",
        &["io.kestra.core.tasks.storages.Reverse"],
        &[
            prop("from", String).required(),
            prop("separator", String),
            // Bytes are kept as they are, whatever the charset.
            prop("charset", String),
        ],
        &[out("uri", ValueType::Uri)],
    );
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
pub(crate) use run::split;

#[cfg(feature = "executor")]
mod run {
    use std::io::{BufRead, BufReader, Read, Write as _};

    use serde_json::Value;

    use super::{
        Concat, DeduplicateItems, DeduplicateItemsOutput, Delete, DeleteOutput, FilterItems,
        FilterItemsOutput, LocalFiles, PurgeCurrentExecutionFiles, Reverse, Size, SizeOutput,
        Split, UriOutput, UrisMapOutput, UrisOutput, Write,
    };
    use crate::expr::value::to_display_string;
    use crate::tasks::{Task, TaskContext, TaskError};

    use crate::expr::value::to_display_string as text;
    use crate::tasks::props::{flag, list, optional_text};

    /// The extension of a stored file (with its dot), for the files made from it.
    fn suffix(uri: &str) -> String {
        std::path::Path::new(uri)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default()
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
            if !deleted && flag(self.error_on_missing.as_ref(), "errorOnMissing", false)? {
                return Err(format!("`{uri}` does not exist in internal storage").into());
            }
            Ok(DeleteOutput { uri, deleted })
        }
    }

    impl Task for Concat {
        type Output = UriOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<UriOutput, TaskError> {
            let files = list(Some(&self.files), "files")?;
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
            let uris = split(ctx, self, ctx.task_id())?;
            Ok(UrisOutput { uris })
        }
    }

    /// Cuts the file `split.from` into parts as `split` says (rows are never cut); each part
    /// is stored as a file of this task run named `<name>-<n><extension>`. Their URIs, in
    /// order.
    pub(crate) fn split(
        ctx: &TaskContext<'_>,
        split: &Split,
        name: &str,
    ) -> Result<Vec<String>, TaskError> {
        {
            let from = text(&split.from);
            let separator = optional_text(split.separator.as_ref()).unwrap_or_else(|| "\n".into());
            let Some(&last) = separator.as_bytes().last() else {
                return Err("`separator` must not be empty".into());
            };
            if separator.len() != 1 {
                return Err("`separator` must be one character".into());
            }
            let storage = ctx.storage()?;
            let rows = count(split.rows.as_ref(), "rows")?;
            let partitions = count(split.partitions.as_ref(), "partitions")?;
            let bytes = optional_text(split.bytes.as_ref())
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
            let suffix = suffix(&from);
            let mut reader = BufReader::new(storage.open(&from)?);
            let mut uris = Vec::new();
            // The part being written, in a temporary file: a part of `bytes: 1GB` does not
            // live in memory.
            let mut part: Option<TempFile> = None;
            let (mut part_rows, mut part_bytes) = (0u64, 0u64);
            let mut row = Vec::new();
            loop {
                row.clear();
                let read = reader
                    .read_until(last, &mut row)
                    .map_err(|e| TaskError::from(format!("reading `{from}`: {e}")))?;
                let full = match limit {
                    Limit::Rows(n) => part_rows >= n,
                    Limit::Bytes(n) => part_bytes > 0 && part_bytes + row.len() as u64 > n,
                };
                if full || read == 0 {
                    if let Some(done) = part.take() {
                        let name = format!("{name}-{}{suffix}", uris.len());
                        uris.push(done.store(ctx, &name)?);
                        (part_rows, part_bytes) = (0, 0);
                    }
                }
                if read == 0 {
                    break;
                }
                if part.is_none() {
                    part = Some(TempFile::new()?);
                }
                if let Some(part) = part.as_mut() {
                    part.write(&row)?;
                }
                part_rows += 1;
                part_bytes += row.len() as u64;
            }
            Ok(uris)
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
            let folder = ctx
                .working_dir()
                .ok_or("LocalFiles works in the folder of a WorkingDirectory; put it inside one")?
                .to_path_buf();
            if let Some(inputs) = self.inputs.clone() {
                let files = crate::workdir::input_files(inputs)?;
                crate::workdir::write_inputs(&folder, &files, ctx.storage().ok())?;
            }
            let patterns = list(self.outputs.as_ref(), "outputs")?;
            let uris = crate::workdir::store_matching(&folder, &patterns, |name, file| {
                ctx.put_file(name, file).map_err(|e| e.message)
            })?;
            Ok(UrisMapOutput { uris })
        }
    }

    /// The items of an Ion file, one per line, each with its line as written.
    fn items(
        ctx: &TaskContext<'_>,
        from: &str,
    ) -> Result<impl Iterator<Item = Result<(String, Value), TaskError>>, TaskError> {
        let reader = BufReader::new(ctx.storage()?.open(from)?);
        let from = from.to_string();
        Ok(reader
            .lines()
            .filter(|line| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
            .map(move |line| {
                let line = line.map_err(|e| TaskError::from(format!("reading `{from}`: {e}")))?;
                let item = crate::expr::parse_ion(&line)
                    .map_err(|e| TaskError::from(format!("`{from}`: not Ion: {e}")))?;
                Ok((line, item))
            }))
    }

    /// The fields a template sees for an item: an object's fields, or `value` for anything
    /// else.
    fn fields(item: &Value) -> serde_json::Map<String, Value> {
        match item {
            Value::Object(map) => map.clone(),
            other => std::iter::once(("value".to_string(), other.clone())).collect(),
        }
    }

    /// A file written to a temporary place, then stored (memory stays flat).
    struct TempFile {
        path: std::path::PathBuf,
        file: std::io::BufWriter<std::fs::File>,
    }

    impl TempFile {
        fn new() -> Result<TempFile, TaskError> {
            let path = std::env::temp_dir()
                .join(format!("kflow-items-{}.ion", crate::execution::new_id()));
            let file = std::fs::File::create(&path)
                .map_err(|e| TaskError::from(format!("a temporary file: {e}")))?;
            Ok(TempFile {
                path,
                file: std::io::BufWriter::new(file),
            })
        }

        fn write(&mut self, bytes: &[u8]) -> Result<(), TaskError> {
            self.file
                .write_all(bytes)
                .map_err(|e| TaskError::from(format!("a temporary file: {e}")))
        }

        /// A line and the byte that ends it.
        fn line(&mut self, line: &[u8], end: u8) -> Result<(), TaskError> {
            self.write(line)?;
            self.write(&[end])
        }

        fn store(mut self, ctx: &TaskContext<'_>, name: &str) -> Result<String, TaskError> {
            self.file
                .flush()
                .map_err(|e| TaskError::from(e.to_string()))?;
            let mut file =
                std::fs::File::open(&self.path).map_err(|e| TaskError::from(e.to_string()))?;
            ctx.put_file(name, &mut file)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    impl Task for FilterItems {
        type Output = FilterItemsOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<FilterItemsOutput, TaskError> {
            let from = text(&self.from);
            let condition = text(&self.filter_condition);
            let include = optional_text(self.filter_type.as_ref()).as_deref() != Some("EXCLUDE");
            let on_error = optional_text(self.error_or_null_behavior.as_ref())
                .unwrap_or_else(|| "FAIL".into());
            let mut kept = TempFile::new()?;
            let (mut processed, mut dropped) = (0u64, 0u64);
            for item in items(ctx, &from)? {
                let (line, item) = item?;
                processed += 1;
                let holds = match ctx.render_with(&condition, &fields(&item)) {
                    Ok(Value::Null) | Err(_) if on_error != "FAIL" => None,
                    Ok(Value::Null) => {
                        return Err(format!(
                            "filterCondition is null for item {processed} (`errorOrNullBehavior: FAIL`)"
                        )
                        .into())
                    }
                    Err(e) => {
                        return Err(format!("filterCondition, item {processed}: {e}").into())
                    }
                    Ok(value) => Some(crate::executor::is_truthy(&value)),
                };
                let keep = match holds {
                    Some(holds) => holds == include,
                    None => on_error == "INCLUDE",
                };
                if keep {
                    kept.line(line.as_bytes(), b'\n')?;
                } else {
                    dropped += 1;
                }
            }
            let uri = kept.store(ctx, &format!("{}.ion", ctx.task_id()))?;
            Ok(FilterItemsOutput {
                uri,
                processed_items_total: processed,
                dropped_items_total: dropped,
            })
        }
    }

    impl Task for DeduplicateItems {
        type Output = DeduplicateItemsOutput;
        async fn run(
            &self,
            ctx: &mut TaskContext<'_>,
        ) -> Result<DeduplicateItemsOutput, TaskError> {
            let from = text(&self.from);
            let expr = text(&self.expr);
            // First pass: the last item number of each key (memory grows with the keys, not
            // the items).
            let mut last: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
            let mut processed = 0u64;
            for item in items(ctx, &from)? {
                let (_, item) = item?;
                let key = ctx
                    .render_with(&expr, &fields(&item))
                    .map_err(|e| TaskError::from(format!("expr, item {}: {e}", processed + 1)))?;
                last.insert(to_display_string(&key), processed);
                processed += 1;
            }
            // Second pass: the items that are the last of their key, in file order.
            let keep: std::collections::HashSet<u64> = last.values().copied().collect();
            let mut kept = TempFile::new()?;
            for (n, item) in items(ctx, &from)?.enumerate() {
                let (line, _) = item?;
                if keep.contains(&(n as u64)) {
                    kept.line(line.as_bytes(), b'\n')?;
                }
            }
            let uri = kept.store(ctx, &format!("{}.ion", ctx.task_id()))?;
            Ok(DeduplicateItemsOutput {
                uri,
                num_keys: last.len() as u64,
                processed_items_total: processed,
                dropped_items_total: processed - last.len() as u64,
            })
        }
    }

    /// How much of the file `Reverse` reads at a time, from its end.
    const REVERSE_CHUNK: u64 = 64 * 1024;

    /// The longest line `Reverse` holds in memory.
    const MAX_LINE: usize = 16 * 1024 * 1024;

    impl Task for Reverse {
        type Output = UriOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<UriOutput, TaskError> {
            use std::io::{Seek, SeekFrom};
            let from = text(&self.from);
            let _ = &self.charset;
            let separator = optional_text(self.separator.as_ref()).unwrap_or_else(|| "\n".into());
            let [sep] = separator.as_bytes() else {
                return Err("`separator` must be one byte".into());
            };
            let mut file = ctx.storage()?.open(&from)?;
            let io = |e: std::io::Error| TaskError::from(format!("reading `{from}`: {e}"));
            let mut pos = file.seek(SeekFrom::End(0)).map_err(io)?;
            let mut out = TempFile::new()?;
            // The bytes after the last separator seen so far (the start of the file's end).
            let mut tail: Vec<u8> = Vec::new();
            let mut first = true;
            while pos > 0 {
                let start = pos.saturating_sub(REVERSE_CHUNK);
                let mut chunk = vec![0u8; usize::try_from(pos - start).unwrap_or(0)];
                file.seek(SeekFrom::Start(start)).map_err(io)?;
                file.read_exact(&mut chunk).map_err(io)?;
                chunk.extend_from_slice(&tail);
                let mut end = chunk.len();
                for i in (0..chunk.len()).rev() {
                    if chunk[i] == *sep {
                        let line = &chunk[i + 1..end];
                        // A separator ending the file ends its last line; it opens no empty one.
                        if !(first && line.is_empty()) {
                            out.line(line, *sep)?;
                        }
                        first = false;
                        end = i;
                    }
                }
                tail = chunk[..end].to_vec();
                if tail.len() > MAX_LINE {
                    return Err(format!("`{from}` has a line longer than {MAX_LINE} bytes").into());
                }
                pos = start;
            }
            if !tail.is_empty() || !first {
                out.line(&tail, *sep)?;
            }
            let uri = out.store(ctx, &format!("{}{}", ctx.task_id(), suffix(&from)))?;
            Ok(UriOutput { uri })
        }
    }
}
