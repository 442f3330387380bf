//! The `lower` stage: a checked flow becomes the runtime's plan ([`kflow_runtime::plan`]). This
//! is the only place that interprets property values: retry inheritance, durations, input
//! bounds, which properties are rendered. Templates stay templates (rendered at run time),
//! each with the file positions of its expressions so a run-time error names its YAML line.
//!
//! The flow must have passed `check` and [`crate::check::runnable`]: every task's type is one
//! the runtime runs.

use kflow_runtime::plan::{self as P, DurationProp, Position, Prop, RetryKind};
use kflow_runtime::tasks;
use serde_json::Value;

use crate::expr::offsets;
use crate::model::{Flow, FlowOutput, Input, Task, Trigger};
use crate::plugins::{self, PluginDef, PluginKind, PropType};
use crate::source::SourceFile;
use crate::yaml::{Node, ScalarKind, Value as YamlValue};

/// The plan of a checked flow. `source_hash` identifies the flow's text (`info`).
pub fn lower(flow: &Flow, source: &SourceFile, source_hash: &str) -> P::Flow {
    let lower = Lower { source };
    let retry = flow.retry.as_ref();
    P::Flow {
        id: flow.id.value.clone(),
        namespace: flow.namespace.value.clone(),
        source_hash: source_hash.to_string(),
        source_name: source.path().display().to_string(),
        description: flow.description.as_ref().map(|d| d.value.clone()),
        inputs: flow.inputs.iter().map(input).collect(),
        variables: match flow.variables.as_ref().map(to_json) {
            Some(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        },
        labels: flow
            .labels
            .iter()
            .map(|l| (l.key.value.clone(), l.value.value.clone()))
            .collect(),
        tasks: lower.tasks(&flow.tasks, retry),
        errors: lower.tasks(&flow.errors, retry),
        finally: lower.tasks(&flow.finally, retry),
        after_execution: lower.tasks(&flow.after_execution, retry),
        outputs: flow.outputs.iter().map(|o| lower.output(o)).collect(),
        concurrency: flow.concurrency.as_ref().map(concurrency),
        sla: flow
            .sla
            .as_ref()
            .and_then(Node::as_seq)
            .map(|items| items.iter().filter_map(|n| lower.sla(n)).collect())
            .unwrap_or_default(),
        triggers: flow.triggers.iter().map(|t| lower.trigger(t)).collect(),
    }
}

struct Lower<'a> {
    source: &'a SourceFile,
}

impl Lower<'_> {
    /// The enabled tasks of a list (Kestra leaves disabled tasks out of the execution). A task
    /// without `retry` runs with its nearest parent's, else the flow's.
    fn tasks(&self, list: &[Task], inherited: Option<&Node>) -> Vec<P::Task> {
        list.iter()
            .filter(|t| !t.disabled)
            .map(|t| self.task(t, inherited))
            .collect()
    }

    fn branch(&self, task: &Task, role: &str, retry: Option<&Node>) -> Vec<P::Task> {
        task.branches
            .iter()
            .filter(|b| b.role == role)
            .flat_map(|b| self.tasks(&b.tasks, retry))
            .collect()
    }

    fn task(&self, task: &Task, inherited: Option<&Node>) -> P::Task {
        let retry = task.retry.as_ref().or(inherited);
        let definition = task.plugin;
        let type_name = definition.map_or(task.type_name.value.as_str(), |d| d.name);
        P::Task {
            id: task.id.value.clone(),
            type_name: type_name.to_string(),
            kind: self.kind(task, definition, retry),
            run_if: task.run_if.as_ref().map(|n| self.prop(n, true)),
            timeout: task.timeout.as_ref().map(|n| self.duration(n)),
            retry: retry.map(|n| self.retry(n)),
            allow_failure: task.allow_failure
                || definition.is_some_and(|d| d.name == "io.kestra.plugin.core.flow.AllowFailure"),
            allow_warning: task.allow_warning,
            log_level: task.log_level.as_deref().and_then(P::Level::parse),
            errors: self.branch(task, "errors", retry),
            finally: self.branch(task, "finally", retry),
        }
    }

    /// A runnable type's properties as written, rendered or not as its definition says; a
    /// flowable type's slots and the properties the executor reads.
    fn kind(
        &self,
        task: &Task,
        definition: Option<&PluginDef>,
        retry: Option<&Node>,
    ) -> P::TaskKind {
        let node = |name: &str| task.property(name).map(|p| &p.value);
        let required =
            |name: &str| node(name).map_or(Prop::Value(Value::Null), |n| self.prop(n, true));
        let branch = |role: &str| self.branch(task, role, retry);
        let name = definition.map_or("", |d| d.name);
        match name {
            "io.kestra.plugin.core.flow.Sequential" => P::TaskKind::Sequential {
                tasks: branch("tasks"),
            },
            "io.kestra.plugin.core.flow.WorkingDirectory" => P::TaskKind::WorkingDirectory {
                tasks: branch("tasks"),
                input_files: node("inputFiles").map(|n| Box::new(self.prop(n, true))),
                output_files: node("outputFiles").map(|n| Box::new(self.prop(n, true))),
                namespace_files: node("namespaceFiles").map(|n| Box::new(self.prop(n, false))),
                cache: node("cache").map(|n| Box::new(self.prop(n, false))),
            },
            // AllowFailure is a Sequential whose failure ends WARNING (see `task`).
            "io.kestra.plugin.core.flow.AllowFailure" => P::TaskKind::Sequential {
                tasks: branch("tasks"),
            },
            "io.kestra.plugin.core.flow.Dag" => {
                let children: Vec<&Task> = task
                    .branches
                    .iter()
                    .filter(|b| b.role == "tasks")
                    .flat_map(|b| &b.tasks)
                    .collect();
                // A disabled task is not part of the execution: waiting for it is no wait.
                let disabled: Vec<&str> = children
                    .iter()
                    .filter(|t| t.disabled)
                    .map(|t| t.id.value.as_str())
                    .collect();
                P::TaskKind::Dag {
                    tasks: children
                        .iter()
                        .filter(|t| !t.disabled)
                        .map(|t| P::DagNode {
                            task: self.task(t, retry),
                            depends_on: t
                                .depends_on
                                .iter()
                                .map(|d| d.value.clone())
                                .filter(|d| !disabled.contains(&d.as_str()))
                                .collect(),
                        })
                        .collect(),
                    concurrent: count(node("concurrent"), 0),
                }
            }
            "io.kestra.plugin.core.flow.Parallel" => P::TaskKind::Parallel {
                tasks: branch("tasks"),
                concurrent: count(node("concurrent"), 0),
            },
            "io.kestra.plugin.core.flow.If" => P::TaskKind::If {
                condition: required("condition"),
                then: branch("then"),
                otherwise: branch("else"),
            },
            "io.kestra.plugin.core.flow.Switch" => P::TaskKind::Switch {
                value: required("value"),
                cases: task
                    .branches
                    .iter()
                    .filter_map(|b| {
                        let key = b.role.strip_prefix("cases.")?;
                        Some((key.to_string(), self.tasks(&b.tasks, retry)))
                    })
                    .collect(),
                defaults: branch("defaults"),
            },
            "io.kestra.plugin.core.flow.ForEach" => P::TaskKind::ForEach {
                values: required("values"),
                concurrency_limit: count(node("concurrencyLimit"), 1),
                parallel_tasks: false,
                tasks: branch("tasks"),
            },
            "io.kestra.plugin.core.flow.EachSequential" => P::TaskKind::ForEach {
                values: required("value"),
                concurrency_limit: 1,
                parallel_tasks: false,
                tasks: branch("tasks"),
            },
            "io.kestra.plugin.core.flow.EachParallel" => P::TaskKind::ForEach {
                values: required("value"),
                concurrency_limit: count(node("concurrent"), 0),
                parallel_tasks: true,
                tasks: branch("tasks"),
            },
            "io.kestra.plugin.core.flow.LoopUntil" => {
                let frequency = |key: &str| {
                    node("checkFrequency")
                        .and_then(|n| n.get(key))
                        .map(|e| &e.value)
                };
                P::TaskKind::LoopUntil {
                    condition: required("condition"),
                    tasks: branch("tasks"),
                    fail_on_max_reached: node("failOnMaxReached")
                        .map(|n| Box::new(self.prop(n, true))),
                    max_iterations: frequency("maxIterations")
                        .and_then(int)
                        .and_then(|i| u64::try_from(i).ok()),
                    max_duration: frequency("maxDuration").map(|n| Box::new(self.duration(n))),
                    interval: frequency("interval").map(|n| Box::new(self.duration(n))),
                }
            }
            "io.kestra.plugin.core.flow.ForEachItem" => self.for_each_item(task),
            "io.kestra.plugin.core.flow.Pause" => P::TaskKind::Pause {
                delay: node("pauseDuration")
                    .or_else(|| node("delay"))
                    .filter(|n| !n.is_null())
                    .map(|n| self.duration(n)),
                tasks: branch("tasks"),
                on_resume: task.on_resume.iter().map(input).collect(),
                behavior: match node("behavior").and_then(Node::as_text) {
                    Some("WARN") => P::PauseBehavior::Warn,
                    Some("CANCEL") => P::PauseBehavior::Cancel,
                    Some("FAIL") => P::PauseBehavior::Fail,
                    _ => P::PauseBehavior::Resume,
                },
                on_pause: branch("onPause"),
            },
            _ => P::TaskKind::Run {
                properties: task
                    .properties
                    .iter()
                    .filter(|p| !p.value.is_null())
                    .map(|p| {
                        let dynamic = definition
                            .and_then(|d| d.property(&p.name.value))
                            .is_none_or(|d| d.dynamic);
                        (p.name.value.clone(), self.prop(&p.value, dynamic))
                    })
                    .collect(),
            },
        }
    }

    /// `ForEachItem` runs as Kestra runs it: three tasks in sequence, `<id>_split` (the
    /// batches), `<id>_items` (a subflow execution per batch; its `inputs` and `labels` kept
    /// as written, since each batch renders them with its own `taskrun.items`) and
    /// `<id>_merge` (the batches' outputs in one file).
    fn for_each_item(&self, task: &Task) -> P::TaskKind {
        use kflow_runtime::tasks::foreach_item as each;
        let id = &task.id.value;
        let node = |name: &str| task.property(name).map(|p| &p.value);
        let rendered = |name: &str| node(name).map(|n| (name.to_string(), self.prop(n, true)));
        let as_written =
            |name: &str| node(name).map(|n| (name.to_string(), Prop::Value(to_json(n))));
        let batch = node("batch");
        let split = ["rows", "bytes", "partitions", "separator"]
            .iter()
            .filter_map(|key| {
                let value = batch?.get(key)?;
                Some((key.to_string(), self.prop(&value.value, true)))
            });
        let generated = |suffix: &str, def: &PluginDef, properties: Vec<(String, Prop)>| {
            P::Task::new(
                &format!("{id}{suffix}"),
                def.name,
                P::TaskKind::Run { properties },
            )
        };
        P::TaskKind::Sequential {
            tasks: vec![
                generated(
                    "_split",
                    &each::ForEachItemSplit::DEFINITION,
                    rendered("items").into_iter().chain(split).collect(),
                ),
                generated(
                    "_items",
                    &each::ForEachItemExecutable::DEFINITION,
                    [
                        rendered("namespace"),
                        rendered("flowId"),
                        as_written("inputs"),
                        as_written("labels"),
                        as_written("wait"),
                        as_written("transmitFailed"),
                        as_written("inheritLabels"),
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                ),
                generated(
                    "_merge",
                    &each::ForEachItemMergeOutputs::DEFINITION,
                    Vec::new(),
                ),
            ],
        }
    }

    /// A YAML value as a property: strings become templates (when `dynamic`) or literals, and
    /// a subtree without templates is one literal.
    fn prop(&self, node: &Node, dynamic: bool) -> Prop {
        if !dynamic || !has_template(node) {
            return Prop::Value(to_json(node));
        }
        match &node.value {
            YamlValue::Scalar(scalar) => {
                Prop::text_at(&scalar.text, self.anchors(node)).unwrap_or_else(|_| {
                    // `check` parsed every template; text it could not is kept as text.
                    Prop::Value(Value::String(scalar.text.clone()))
                })
            }
            YamlValue::Seq(items) => Prop::List(items.iter().map(|i| self.prop(i, true)).collect()),
            YamlValue::Map(entries) => Prop::Map(
                entries
                    .iter()
                    .map(|e| (e.key.text.clone(), self.prop(&e.value, true)))
                    .collect(),
            ),
        }
    }

    /// Where each `{{`, `{%` and `{#` of a string scalar starts in the file.
    fn anchors(&self, node: &Node) -> Vec<(u32, Position)> {
        let Some(scalar) = node.as_scalar() else {
            return Vec::new();
        };
        let text = &scalar.text;
        let map = offsets::decoded_to_file(
            self.source.text(),
            node.span.start as usize,
            scalar.style,
            text,
        );
        let mut anchors = Vec::new();
        let bytes = text.as_bytes();
        for (i, pair) in bytes.windows(2).enumerate() {
            if pair[0] == b'{' && matches!(pair[1], b'{' | b'%' | b'#') {
                let Some(&file_offset) = map.get(i) else {
                    continue;
                };
                let at = self
                    .source
                    .line_col(u32::try_from(file_offset).unwrap_or(u32::MAX));
                anchors.push((
                    u32::try_from(i).unwrap_or(u32::MAX),
                    Position {
                        line: u32::try_from(at.line).unwrap_or(u32::MAX),
                        column: u32::try_from(at.column).unwrap_or(u32::MAX),
                    },
                ));
            }
        }
        anchors
    }

    /// A duration: fixed when written as ISO-8601 text, a template rendered at run time
    /// otherwise.
    fn duration(&self, node: &Node) -> DurationProp {
        match node
            .as_text()
            .and_then(kflow_runtime::expr::value::parse_iso_duration)
        {
            Some(fixed) => DurationProp::Fixed(fixed),
            None => DurationProp::Rendered(self.prop(node, true)),
        }
    }

    /// `retry` with Kestra's defaults and the older names (`maxAttempts`, `minInterval`).
    fn retry(&self, node: &Node) -> P::Retry {
        let get = |key: &str| node.get(key).map(|e| &e.value).filter(|n| !n.is_null());
        P::Retry {
            kind: match get("type").and_then(Node::as_text).unwrap_or("constant") {
                "exponential" => RetryKind::Exponential,
                "random" => RetryKind::Random,
                _ => RetryKind::Constant,
            },
            interval: get("interval").or_else(|| get("minInterval")).map_or(
                DurationProp::Fixed(std::time::Duration::from_secs(1)),
                |n| self.duration(n),
            ),
            max_interval: get("maxInterval").map(|n| self.duration(n)),
            max_attempt: get("maxAttempt")
                .or_else(|| get("maxAttempts"))
                .and_then(int)
                .and_then(|i| u32::try_from(i).ok()),
            max_duration: get("maxDuration").map(|n| self.duration(n)),
            delay_factor: get("delayFactor").and_then(number),
            warning_on_retry: get("warningOnRetry")
                .and_then(Node::as_scalar)
                .is_some_and(|s| matches!(s.kind, ScalarKind::Bool(true))),
            new_execution: get("behavior")
                .and_then(Node::as_text)
                .is_some_and(|b| b == "CREATE_NEW_EXECUTION"),
        }
    }

    /// One `sla` item (`check` made sure of its shape).
    fn sla(&self, node: &Node) -> Option<P::Sla> {
        let get = |key: &str| node.get(key).map(|e| &e.value);
        let check = match get("type").and_then(Node::as_text)? {
            "MAX_DURATION" => P::SlaCheck::MaxDuration(
                kflow_runtime::expr::value::parse_iso_duration(get("duration")?.as_text()?)?,
            ),
            _ => P::SlaCheck::Assertion(self.prop(get("assert")?, true)),
        };
        Some(P::Sla {
            id: get("id")
                .and_then(Node::as_text)
                .unwrap_or_default()
                .to_string(),
            check,
            behavior: match get("behavior").and_then(Node::as_text) {
                Some("CANCEL") => P::SlaBehavior::Cancel,
                Some("NONE") => P::SlaBehavior::None,
                _ => P::SlaBehavior::Fail,
            },
            labels: get("labels")
                .and_then(Node::as_map)
                .map(|entries| {
                    entries
                        .iter()
                        .map(|e| {
                            let value = match to_json(&e.value) {
                                Value::String(text) => text,
                                other => other.to_string(),
                            };
                            (e.key.text.clone(), value)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// A trigger: what `serve` runs of it, or why it does not ([`P::TriggerKind::NotServed`]).
    fn trigger(&self, trigger: &Trigger) -> P::Trigger {
        let type_name = trigger
            .plugin
            .map_or(trigger.type_name.value.as_str(), |p| p.name)
            .to_string();
        let property = |name: &str| {
            trigger
                .properties
                .iter()
                .find(|p| p.name.value == name)
                .map(|p| &p.value)
        };
        let text = |name: &str| property(name).and_then(Node::as_text).map(str::to_string);
        let flag = |name: &str| {
            property(name)
                .and_then(Node::as_scalar)
                .is_some_and(|s| matches!(s.kind, ScalarKind::Bool(true)))
        };
        let recover_missed = match text("recoverMissedSchedules").as_deref() {
            Some("LAST") => P::RecoverMissed::Last,
            Some("NONE") => P::RecoverMissed::None,
            _ => P::RecoverMissed::All,
        };
        // A Flow trigger's `MultipleCondition` (the older form of `preconditions`) becomes
        // preconditions; the other conditions apply to each upstream execution.
        let is_multiple = |node: &&Node| {
            node.get("type")
                .and_then(|e| e.value.as_text())
                .is_some_and(|t| t.ends_with(".MultipleCondition"))
        };
        let conditions: Vec<P::Condition> = ["conditions", "scheduleConditions"]
            .iter()
            .filter_map(|name| property(name).and_then(Node::as_seq))
            .flatten()
            .filter(|node| !is_multiple(node))
            .map(|node| self.condition(node))
            .collect();
        let multiple = property("conditions")
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
            .find(is_multiple)
            .map(|node| self.multiple_condition(node));
        let mut kind = match type_name.as_str() {
            "io.kestra.plugin.core.trigger.Schedule" => P::TriggerKind::Schedule(P::Schedule {
                cron: text("cron").unwrap_or_default(),
                with_seconds: flag("withSeconds"),
                timezone: text("timezone"),
                inputs: property("inputs").map(|n| self.prop(n, true)),
                late_maximum_delay: text("lateMaximumDelay")
                    .as_deref()
                    .and_then(kflow_runtime::expr::value::parse_iso_duration),
                recover_missed,
            }),
            "io.kestra.plugin.core.trigger.ScheduleOnDates" => P::TriggerKind::ScheduleOnDates {
                dates: property("dates").map_or(P::Prop::Value(Value::Array(Vec::new())), |n| {
                    self.prop(n, true)
                }),
                timezone: text("timezone"),
                inputs: property("inputs").map(|n| self.prop(n, true)),
                recover_missed,
            },
            "io.kestra.plugin.core.trigger.Webhook" => P::TriggerKind::Webhook(P::Webhook {
                key: property("key").map_or(P::Prop::Value(Value::String(String::new())), |n| {
                    self.prop(n, true)
                }),
                wait: flag("wait"),
                return_outputs: flag("returnOutputs"),
                response_content_type: text("responseContentType"),
                inputs: property("inputs").map(|n| self.prop(n, true)),
                store_body: text("fetchType").as_deref() == Some("STORE"),
            }),
            "io.kestra.plugin.core.http.Trigger" => {
                let duration = |text: Option<String>| {
                    text.as_deref()
                        .and_then(kflow_runtime::expr::value::parse_iso_duration)
                };
                let option = |key: &str| {
                    property("options")
                        .and_then(|o| o.get(key))
                        .and_then(|e| e.value.as_text())
                        .map(str::to_string)
                };
                P::TriggerKind::HttpPoll(Box::new(P::HttpPoll {
                    uri: property("uri")
                        .map_or(P::Prop::Value(Value::Null), |n| self.prop(n, true)),
                    method: text("method").unwrap_or_else(|| "GET".into()),
                    body: property("body").map(|n| self.prop(n, true)),
                    content_type: property("contentType").map(|n| self.prop(n, true)),
                    headers: property("headers").map(|n| self.prop(n, true)),
                    interval: duration(text("interval"))
                        .unwrap_or(std::time::Duration::from_secs(60)),
                    response_condition: property("responseCondition").map_or_else(
                        || {
                            P::Prop::text("{{ response.statusCode < 400 }}")
                                .unwrap_or(P::Prop::Value(Value::Bool(true)))
                        },
                        |n| self.prop(n, true),
                    ),
                    timeout: duration(option("readTimeout"))
                        .or_else(|| duration(option("connectTimeout")))
                        .unwrap_or(std::time::Duration::from_secs(10)),
                }))
            }
            "io.kestra.plugin.core.trigger.Flow" => P::TriggerKind::Flow(P::FlowTrigger {
                states: texts(property("states")).unwrap_or_else(|| {
                    ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"]
                        .map(String::from)
                        .to_vec()
                }),
                inputs: property("inputs").map(|n| self.prop(n, true)),
                preconditions: property("preconditions")
                    .map(|n| self.preconditions(n))
                    .or(multiple),
            }),
            _ => P::TriggerKind::NotServed { why: String::new() },
        };
        if let Some(why) = not_served(trigger) {
            kind = P::TriggerKind::NotServed { why };
        }
        P::Trigger {
            id: trigger.id.value.clone(),
            type_name,
            disabled: trigger.disabled,
            stop_after: property("stopAfter")
                .and_then(Node::as_seq)
                .into_iter()
                .flatten()
                .filter_map(Node::as_text)
                .map(str::to_string)
                .collect(),
            conditions,
            labels: trigger
                .labels
                .iter()
                .map(|l| (l.key.value.clone(), l.value.value.clone()))
                .collect(),
            kind,
        }
    }

    /// A Flow trigger's `preconditions` (its time window a day unless set).
    fn preconditions(&self, node: &Node) -> P::Preconditions {
        let text = |n: &Node, key: &str| {
            n.get(key)
                .and_then(|e| e.value.as_text())
                .map(str::to_string)
        };
        let window = node
            .get("timeWindow")
            .and_then(|w| text(&w.value, "window"))
            .as_deref()
            .and_then(kflow_runtime::expr::value::parse_iso_duration)
            .unwrap_or(std::time::Duration::from_secs(24 * 3600));
        let flows = node
            .get("flows")
            .and_then(|e| e.value.as_seq())
            .unwrap_or_default()
            .iter()
            .map(|f| P::UpstreamFlow {
                namespace: text(f, "namespace").unwrap_or_default(),
                flow_id: text(f, "flowId"),
                states: texts(f.get("states").map(|e| &e.value)).unwrap_or_default(),
                labels: f
                    .get("labels")
                    .and_then(|e| e.value.as_map())
                    .unwrap_or_default()
                    .iter()
                    .map(|e| {
                        let value = to_json(&e.value);
                        let value = match value {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (e.key.text.clone(), value)
                    })
                    .collect(),
            })
            .collect();
        let filters = node
            .get("where")
            .and_then(|e| e.value.as_seq())
            .unwrap_or_default()
            .iter()
            .map(|w| P::ExecutionFilter {
                id: text(w, "id").unwrap_or_default(),
                any: text(w, "operand").as_deref() == Some("OR"),
                filters: w
                    .get("filters")
                    .and_then(|e| e.value.as_seq())
                    .unwrap_or_default()
                    .iter()
                    .map(|f| P::Filter {
                        field: text(f, "field").unwrap_or_default(),
                        op: text(f, "type").unwrap_or_default(),
                        value: f.get("value").map(|e| self.prop(&e.value, true)),
                        values: texts(f.get("values").map(|e| &e.value)).unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect();
        P::Preconditions {
            flows,
            filters,
            conditions: Vec::new(),
            window,
            reset_on_success: node
                .get("resetOnSuccess")
                .and_then(|e| e.value.as_scalar())
                .is_none_or(|s| !matches!(s.kind, ScalarKind::Bool(false))),
        }
    }

    /// A `MultipleCondition` as preconditions: each of its named conditions met by an execution
    /// that ended within `window` (a day by default; `windowAdvance` is not read: the window
    /// slides), reset once it fires.
    fn multiple_condition(&self, node: &Node) -> P::Preconditions {
        let window = node
            .get("window")
            .and_then(|e| e.value.as_text())
            .and_then(kflow_runtime::expr::value::parse_iso_duration)
            .unwrap_or(std::time::Duration::from_secs(24 * 3600));
        P::Preconditions {
            flows: Vec::new(),
            filters: Vec::new(),
            conditions: node
                .get("conditions")
                .and_then(|e| e.value.as_map())
                .unwrap_or_default()
                .iter()
                .map(|e| self.condition(&e.value))
                .collect(),
            window,
            reset_on_success: true,
        }
    }

    /// A condition, by its canonical type; `Not`'s and `Or`'s own conditions inside.
    fn condition(&self, node: &Node) -> P::Condition {
        let written = node
            .get("type")
            .and_then(|e| e.value.as_text())
            .unwrap_or_default();
        let type_name = plugins::lookup(PluginKind::Condition, written)
            .map_or(written, |p| p.name)
            .to_string();
        let entries = node.as_map().unwrap_or_default();
        P::Condition {
            type_name,
            properties: entries
                .iter()
                .filter(|e| !matches!(e.key.text.as_str(), "type" | "conditions"))
                .map(|e| (e.key.text.clone(), self.prop(&e.value, true)))
                .collect(),
            conditions: node
                .get("conditions")
                .and_then(|e| e.value.as_seq())
                .into_iter()
                .flatten()
                .map(|n| self.condition(n))
                .collect(),
        }
    }

    fn output(&self, output: &FlowOutput) -> P::FlowOutput {
        P::FlowOutput {
            id: output.id.value.clone(),
            ty: output.ty.value,
            value: self.prop(&output.value, true),
        }
    }
}

/// Why `serve` does not run a trigger: its type, or a condition type (nested ones included),
/// that this version does not run; `None` when it does.
pub fn not_served(trigger: &Trigger) -> Option<String> {
    let type_name = trigger
        .plugin
        .map_or(trigger.type_name.value.as_str(), |p| p.name);
    if !P::SERVED_TRIGGERS.contains(&type_name) {
        return Some(format!(
            "`serve` does not run `{type_name}` triggers in this version"
        ));
    }
    let flow_trigger = type_name == "io.kestra.plugin.core.trigger.Flow";
    let unserved = |nodes: &[Node]| -> Option<String> {
        fn walk(nodes: &[&Node], flow_trigger: bool) -> Option<String> {
            nodes.iter().find_map(|node| {
                let written = node.get("type")?.value.as_text()?;
                let name =
                    plugins::lookup(PluginKind::Condition, written).map_or(written, |p| p.name);
                let inner: Vec<&Node> = match node.get("conditions").map(|e| &e.value) {
                    Some(value) => match (value.as_seq(), value.as_map()) {
                        (Some(items), _) => items.iter().collect(),
                        (_, Some(entries)) => entries.iter().map(|e| &e.value).collect(),
                        _ => Vec::new(),
                    },
                    None => Vec::new(),
                };
                // A Flow trigger runs a MultipleCondition as preconditions.
                let multiple =
                    flow_trigger && name == "io.kestra.plugin.core.condition.MultipleCondition";
                if P::SERVED_CONDITIONS.contains(&name) || multiple {
                    walk(&inner, false)
                } else {
                    Some(name.to_string())
                }
            })
        }
        walk(&nodes.iter().collect::<Vec<_>>(), flow_trigger)
    };
    let daily = trigger
        .properties
        .iter()
        .filter(|p| p.name.value == "preconditions")
        .find_map(|p| {
            let kind = p
                .value
                .get("timeWindow")?
                .value
                .get("type")?
                .value
                .as_text()?;
            kind.starts_with("DAILY_").then(|| kind.to_string())
        });
    if let Some(kind) = daily {
        return Some(format!(
            "`serve` runs preconditions with a DURATION_WINDOW or SLIDING_WINDOW, not a {kind}, in this version"
        ));
    }
    trigger
        .properties
        .iter()
        .filter(|p| matches!(p.name.value.as_str(), "conditions" | "scheduleConditions"))
        .find_map(|p| unserved(p.value.as_seq()?))
        .map(|name| format!("`serve` does not evaluate `{name}` conditions in this version"))
}

/// A list of strings as written (`None` when it is not there).
fn texts(node: Option<&Node>) -> Option<Vec<String>> {
    Some(
        node?
            .as_seq()?
            .iter()
            .filter_map(Node::as_text)
            .map(str::to_string)
            .collect(),
    )
}

/// Whether the runtime of this kflowc runs `definition` (a type the registry knows only as
/// data, or an unknown type, does not run).
pub fn is_runnable(definition: Option<&PluginDef>) -> bool {
    definition.is_some_and(|d| d.runnable && tasks::definition(d.name).is_some())
}

/// Whether a property type holds child tasks (read as branches, not as a value).
pub fn is_task_slot(ty: &PropType) -> bool {
    matches!(ty, PropType::Tasks | PropType::TaskMap)
}

fn input(input: &Input) -> P::Input {
    P::Input {
        id: input.id.value.clone(),
        ty: input.ty.value,
        required: input.required,
        description: input.description.clone(),
        defaults: input
            .defaults
            .as_ref()
            .filter(|n| !n.is_null())
            .map(to_json),
        validator: input.validator.as_ref().map(|v| v.value.clone()),
        values: input
            .values
            .as_ref()
            .and_then(Node::as_seq)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_text().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        item_type: input.item_type.as_ref().map(|t| t.value),
        allow_custom_value: input.allow_custom_value,
        min: input.min,
        max: input.max,
    }
}

fn concurrency(node: &Node) -> P::Concurrency {
    P::Concurrency {
        limit: node
            .get("limit")
            .and_then(|e| int(&e.value))
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(0),
        behavior: match node
            .get("behavior")
            .and_then(|e| e.value.as_text())
            .unwrap_or("QUEUE")
        {
            "CANCEL" => P::ConcurrencyBehavior::Cancel,
            "FAIL" => P::ConcurrencyBehavior::Fail,
            _ => P::ConcurrencyBehavior::Queue,
        },
    }
}

/// A log level's name as the runtime's level.
fn int(node: &Node) -> Option<i64> {
    match node.as_scalar()?.kind {
        ScalarKind::Int(i) => Some(i),
        _ => None,
    }
}

fn number(node: &Node) -> Option<f64> {
    match node.as_scalar()?.kind {
        #[allow(clippy::cast_precision_loss)]
        ScalarKind::Int(i) => Some(i as f64),
        ScalarKind::Float(f) => Some(f),
        _ => None,
    }
}

/// A count such as `concurrent: 2` (a literal; `check` refuses anything else).
fn count(node: Option<&Node>, default: usize) -> usize {
    node.and_then(int)
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(default)
}

fn has_template(node: &Node) -> bool {
    match &node.value {
        YamlValue::Scalar(s) => {
            s.kind == ScalarKind::Str && kflow_runtime::expr::is_template(&s.text)
        }
        YamlValue::Seq(items) => items.iter().any(has_template),
        YamlValue::Map(entries) => entries.iter().any(|e| has_template(&e.value)),
    }
}

/// A YAML value as JSON (YAML 1.2 core schema).
pub fn to_json(node: &Node) -> Value {
    match &node.value {
        YamlValue::Scalar(s) => match s.kind {
            ScalarKind::Null => Value::Null,
            ScalarKind::Bool(b) => Value::Bool(b),
            ScalarKind::Int(i) => Value::from(i),
            ScalarKind::Float(f) => {
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
            ScalarKind::Str => Value::String(s.text.clone()),
        },
        YamlValue::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        YamlValue::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|e| (e.key.text.clone(), to_json(&e.value)))
                .collect(),
        ),
    }
}
