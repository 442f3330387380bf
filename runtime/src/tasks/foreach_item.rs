//! `flow.ForEachItem`: one subflow execution per batch of the lines of a file in internal
//! storage. As in Kestra, it runs as three tasks under it (the compiler's `lower` makes them):
//!
//! - `<id>_split` cuts `items` into batches (`batch.rows`, 1 by default; or `bytes`, or
//!   `partitions`) and lists their URIs in a file: `outputs.<id>_split.splits`.
//! - `<id>_items` starts one execution of the subflow per batch, its `inputs` rendered with
//!   `taskrun.items` (the batch's URI) and `taskrun.iteration` (from 0). With `wait` (the
//!   default) it waits for them, at most [`AT_ONCE`] running at a time, and writes each one's
//!   flow outputs as a line of Ion; `outputs.<id>_items` holds `numberOfBatches`,
//!   `iterations` (a count per end state) and `uri`. With `transmitFailed` (the default) a
//!   failed or killed batch fails it. Without `wait`, as in Kestra, each batch counts as
//!   SUCCESS once its execution is created (`iterations` is `{RUNNING: 0, SUCCESS: n}`).
//! - `<id>_merge` concatenates the batches' outputs, in batch order, into one Ion file:
//!   `outputs.<id>_merge.subflowOutputs`.
//!
//! The three share a folder of the execution's storage named after the `ForEachItem`'s task run,
//! so a `ForEachItem` inside a loop keeps each iteration's batches apart.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::definition::shapes::{errors, finally, LABELS};
use crate::definition::{out, prop, PluginDef, PropType as P, ValueType};

/// The most batches' subflow executions one `ForEachItem` runs at once.
pub const AT_ONCE: usize = 16;

/// The most batches one `ForEachItem` makes.
pub const MAX_BATCHES: usize = 100_000;

/// `flow.ForEachItem` (its properties; the executor runs the three tasks below).
pub const FOR_EACH_ITEM: PluginDef = PluginDef::flowable_task(
    "io.kestra.plugin.core.flow.ForEachItem",
    &["io.kestra.core.tasks.flows.ForEachItem"],
    &[
        prop("items", P::String).required(),
        // `Property<...>` fields in Kestra 1.0: `rows: "{{ inputs.batch }}"` renders.
        prop(
            "batch",
            P::Object(&[
                prop("bytes", P::String),
                prop("partitions", P::Int),
                prop("rows", P::Int),
                prop("separator", P::String),
            ]),
        ),
        prop("namespace", P::String).required(),
        prop("flowId", P::String).required(),
        prop("revision", P::Int).not_dynamic().not_run_yet(),
        prop("inputs", P::Map(&P::Any)),
        prop("labels", LABELS),
        prop("wait", P::Bool).not_dynamic(),
        prop("transmitFailed", P::Bool).not_dynamic(),
        prop("inheritLabels", P::Bool).not_dynamic(),
        prop("scheduleDate", P::String).not_run_yet(),
        prop(
            "restartBehavior",
            P::Enum(&["NEW_EXECUTION", "RETRY_FAILED"]),
        )
        .not_dynamic()
        .not_run_yet(),
        errors(),
        finally(),
    ],
    &[],
);

/// `<id>_split`: the batches.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForEachItemSplit {
    pub items: Value,
    #[serde(default)]
    pub bytes: Option<Value>,
    #[serde(default)]
    pub partitions: Option<Value>,
    #[serde(default)]
    pub rows: Option<Value>,
    #[serde(default)]
    pub separator: Option<Value>,
}

impl ForEachItemSplit {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.flow.ForEachItem$ForEachItemSplit",
        &[],
        &[
            prop("items", P::String).required(),
            prop("bytes", P::String),
            prop("partitions", P::Int),
            prop("rows", P::Int),
            prop("separator", P::String),
        ],
        &[out("splits", ValueType::Uri)],
    );
}

/// `<id>_items`: a subflow execution per batch. `inputs` and `labels` arrive as written (not
/// rendered): each batch renders them with its `taskrun.items` and `taskrun.iteration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForEachItemExecutable {
    pub namespace: String,
    pub flow_id: String,
    #[serde(default)]
    pub inputs: Option<Map<String, Value>>,
    #[serde(default)]
    pub labels: Option<Value>,
    #[serde(default = "yes")]
    pub wait: bool,
    #[serde(default = "yes")]
    pub transmit_failed: bool,
    #[serde(default)]
    pub inherit_labels: bool,
}

fn yes() -> bool {
    true
}

impl ForEachItemExecutable {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.flow.ForEachItem$ForEachItemExecutable",
        &[],
        &[
            prop("namespace", P::String).required(),
            prop("flowId", P::String).required(),
            prop("inputs", P::Map(&P::Any)).not_dynamic(),
            prop("labels", P::Any).not_dynamic(),
            prop("wait", P::Bool).not_dynamic(),
            prop("transmitFailed", P::Bool).not_dynamic(),
            prop("inheritLabels", P::Bool).not_dynamic(),
        ],
        &[
            out("numberOfBatches", ValueType::Int),
            out("iterations", ValueType::Map(&ValueType::Int)),
            out("uri", ValueType::Uri),
        ],
    );
}

/// `<id>_merge`: the batches' outputs in one file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForEachItemMergeOutputs {}

impl ForEachItemMergeOutputs {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.flow.ForEachItem$ForEachItemMergeOutputs",
        &[],
        &[],
        &[out("subflowOutputs", ValueType::Uri)],
    );
}

#[derive(Debug, Serialize)]
pub struct SplitOutput {
    pub splits: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemsOutput {
    pub number_of_batches: usize,
    pub iterations: Map<String, Value>,
    pub uri: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subflow_outputs: Option<String>,
}

#[cfg(feature = "executor")]
mod run {
    use std::collections::BTreeMap;

    use futures_util::StreamExt;
    use serde_json::{Map, Value};

    use super::{
        ForEachItemExecutable, ForEachItemMergeOutputs, ForEachItemSplit, ItemsOutput, MergeOutput,
        SplitOutput, AT_ONCE, MAX_BATCHES,
    };
    use crate::execution::State;
    use crate::expr::value::to_display_string as text;
    use crate::tasks::subflow::{hosted_flow, start_child, Child};
    use crate::tasks::{Task, TaskContext, TaskError};

    /// The folder the three tasks of one `ForEachItem` task run share.
    fn folder(ctx: &TaskContext<'_>) -> String {
        format!(
            "{}/foreach-item/{}",
            ctx.execution_files(),
            ctx.parent_task_run_id().unwrap_or("top")
        )
    }

    /// The batches' URIs, as `<id>_split` listed them.
    fn batches(ctx: &TaskContext<'_>) -> Result<Vec<String>, TaskError> {
        let listed = ctx
            .storage()?
            .read_text(&format!("{}/splits.txt", folder(ctx)), 64 << 20)?;
        Ok(listed
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Where batch `iteration`'s subflow outputs are written.
    fn outputs_of(ctx: &TaskContext<'_>, iteration: usize) -> String {
        format!("{}/outputs/{iteration}/outputs.ion", folder(ctx))
    }

    impl Task for ForEachItemSplit {
        type Output = SplitOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<SplitOutput, TaskError> {
            let items = text(&self.items);
            if !items.starts_with("kestra://") {
                return Err(format!(
                    "`items` must be a file of the internal storage (kestra:///...), not `{items}`"
                )
                .into());
            }
            let none = self.rows.is_none() && self.bytes.is_none() && self.partitions.is_none();
            let split = crate::tasks::storage::Split {
                from: Value::String(items),
                bytes: self.bytes.clone(),
                partitions: self.partitions.clone(),
                // One item a batch unless told otherwise, as Kestra.
                rows: if none {
                    Some(Value::from(1))
                } else {
                    self.rows.clone()
                },
                separator: self.separator.clone(),
            };
            let uris = crate::tasks::storage::split(ctx, &split, "batch")?;
            if uris.len() > MAX_BATCHES {
                return Err(format!(
                    "{} batches, more than {MAX_BATCHES}: make them larger (`batch.rows`)",
                    uris.len()
                )
                .into());
            }
            let listed = uris.join("\n");
            let uri = format!("{}/splits.txt", folder(ctx));
            ctx.storage()?.put(&uri, &mut listed.as_bytes())?;
            Ok(SplitOutput { splits: uri })
        }
    }

    /// `value` with every template string in it rendered with `extra` on top.
    fn render(
        ctx: &TaskContext<'_>,
        value: &Value,
        extra: &Map<String, Value>,
    ) -> Result<Value, TaskError> {
        Ok(match value {
            Value::String(s) if crate::expr::is_template(s) => ctx.render_with(s, extra)?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| render(ctx, i, extra))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), render(ctx, v, extra)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    impl Task for ForEachItemExecutable {
        /// None when there are no items: no subflow ran (Kestra's task run then has no outputs).
        type Output = Option<ItemsOutput>;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<Option<ItemsOutput>, TaskError> {
            let flow = hosted_flow(ctx, &self.namespace, &self.flow_id)?;
            let batches = batches(ctx)?;
            if batches.is_empty() {
                return Ok(None);
            }
            let shared: &TaskContext<'_> = ctx;
            // Each batch: its inputs rendered, its execution started (and waited for).
            let one = |(iteration, uri): (usize, String)| {
                let flow = std::sync::Arc::clone(&flow);
                async move {
                    let mut extra = Map::new();
                    extra.insert(
                        "taskrun".into(),
                        serde_json::json!({"items": uri, "iteration": iteration}),
                    );
                    let inputs = match &self.inputs {
                        Some(inputs) => {
                            match render(shared, &Value::Object(inputs.clone()), &extra)? {
                                Value::Object(map) => Some(map),
                                _ => None,
                            }
                        }
                        None => None,
                    };
                    let labels = match &self.labels {
                        Some(labels) => Some(render(shared, labels, &extra)?),
                        None => None,
                    };
                    let (_, summary) = start_child(
                        shared,
                        Child {
                            flow,
                            inputs,
                            labels: labels.as_ref(),
                            inherit_labels: self.inherit_labels,
                            wait: self.wait,
                        },
                    )
                    .await?;
                    if let Some(outputs) = summary.as_ref().and_then(|s| s.outputs.as_ref()) {
                        let line = format!("{}\n", crate::expr::to_ion(outputs));
                        shared
                            .storage()?
                            .put(&outputs_of(shared, iteration), &mut line.as_bytes())?;
                    }
                    // Not waited for: its part is done once the execution is created.
                    Ok::<State, TaskError>(summary.map_or(State::Success, |s| s.state))
                }
            };
            let mut ended = futures_util::stream::iter(batches.iter().cloned().enumerate())
                .map(one)
                .buffer_unordered(AT_ONCE);
            // As Kestra reports them: CREATED (when waiting) and RUNNING are there, at 0 once
            // all have ended.
            let mut iterations: BTreeMap<&'static str, u64> =
                BTreeMap::from([(State::Running.as_str(), 0)]);
            if self.wait {
                iterations.insert(State::Created.as_str(), 0);
            }
            while let Some(state) = ended.next().await {
                *iterations.entry(state?.as_str()).or_default() += 1;
            }
            drop(ended);
            let count = |state: State| iterations.get(state.as_str()).copied().unwrap_or(0);
            let failed = count(State::Failed) + count(State::Killed) + count(State::Cancelled);
            if self.wait && self.transmit_failed {
                if failed > 0 {
                    return Err(format!(
                        "{failed} of {} subflow executions did not succeed (transmitFailed)",
                        batches.len()
                    )
                    .into());
                }
                if count(State::Warning) > 0 {
                    ctx.warn();
                }
            }
            Ok(Some(ItemsOutput {
                number_of_batches: batches.len(),
                iterations: iterations
                    .into_iter()
                    .map(|(state, n)| (state.to_string(), Value::from(n)))
                    .collect(),
                uri: format!("{}/outputs", folder(ctx)),
            }))
        }
    }

    /// Stored files read one after another, each opened when its turn comes (a merge of
    /// 10,000 batches holds one file open, not 10,000).
    struct Parts<'s> {
        storage: &'s crate::storage::Storage,
        uris: std::collections::VecDeque<String>,
        current: Option<std::fs::File>,
    }

    impl std::io::Read for Parts<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            loop {
                if let Some(file) = self.current.as_mut() {
                    let n = file.read(buf)?;
                    if n > 0 || buf.is_empty() {
                        return Ok(n);
                    }
                    self.current = None;
                }
                let Some(uri) = self.uris.pop_front() else {
                    return Ok(0);
                };
                self.current = Some(self.storage.open(&uri).map_err(std::io::Error::other)?);
            }
        }
    }

    impl Task for ForEachItemMergeOutputs {
        type Output = MergeOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<MergeOutput, TaskError> {
            let storage = ctx.storage()?;
            let mut parts = std::collections::VecDeque::new();
            for iteration in 0..batches(ctx)?.len() {
                let uri = outputs_of(ctx, iteration);
                if storage.exists(&uri)? {
                    parts.push_back(uri);
                }
            }
            if parts.is_empty() {
                return Ok(MergeOutput {
                    subflow_outputs: None,
                });
            }
            let mut joined = Parts {
                storage,
                uris: parts,
                current: None,
            };
            let uri = ctx.put_file("outputs.ion", &mut joined)?;
            Ok(MergeOutput {
                subflow_outputs: Some(uri),
            })
        }
    }
}
