//! The typed variables each position of a flow can read: `inputs`, `vars`, `outputs` of the
//! tasks guaranteed to have finished before it, `taskrun`/`parent` inside loops, `trigger.*`
//! from the declared triggers, `flow`, `execution`, `labels`.
//!
//! Availability is decided from each task's path in the task tree: a task is readable when it
//! sits in an earlier position of a sequential branch shared with the reader; it runs later,
//! in parallel, or in a sibling branch of an `If`/`Switch` otherwise. Tasks reached only
//! through an `If`/`Switch` branch or a `runIf` may be missing (a warning), and `errors`/
//! `finally` branches may read everything.

use std::collections::HashMap;

use kflow_runtime::context;

use crate::model::{Branch, Flow, InputType, Property, Task, Trigger};
use crate::plugins::{OutputDef, PluginDef, ValueType};
use crate::yaml::{Node, ScalarKind, Value as YamlValue};

use super::types::{available, Field, Status, Ty};

/// Where a template is rendered.
#[derive(Debug, Clone, Copy)]
pub enum Site {
    /// A property of the task with this index in [`FlowScope::tasks`].
    Task(usize),
    /// The `condition` of a `LoopUntil`: rendered after each iteration, so the loop's own
    /// outputs and its children's are readable.
    LoopCondition(usize),
    /// A flow output's `value`: after every task of `tasks`.
    FlowOutput,
    /// A property of a trigger (its `inputs`, a rendered field).
    Trigger(usize),
    /// A condition of a trigger.
    TriggerCondition(usize),
    /// A value in `variables`: rendered wherever `render(vars.x)` is called.
    Variables,
}

/// One task and where it sits: the branches from the flow's root down to it.
pub struct TaskInfo<'f> {
    pub task: &'f Task,
    /// `(parent task index, branch role, index in that branch)` from the root; the root's
    /// sections (`tasks`, `errors`, `finally`, `afterExecution`, `listeners`) have no parent.
    pub path: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub parent: Option<usize>,
    pub role: String,
    pub index: usize,
}

pub struct FlowScope<'f> {
    pub flow: &'f Flow,
    pub tasks: Vec<TaskInfo<'f>>,
    by_id: HashMap<&'f str, usize>,
    inputs: Ty,
    vars: Ty,
    /// `tasks.*`: the same at every position, built once.
    task_states: std::cell::OnceCell<Ty>,
    /// What `outputs.<task>.outputs` holds for each Subflow task whose target is among the
    /// flows checked together: the target's declared outputs.
    subflow_outputs: HashMap<String, Ty>,
}

/// Whether a task of the flow sets or unsets execution variables.
fn changes_variables(flow: &Flow) -> bool {
    flow.all_tasks().iter().any(|t| {
        t.plugin.is_some_and(|p| {
            matches!(
                p.name,
                "io.kestra.plugin.core.execution.SetVariables"
                    | "io.kestra.plugin.core.execution.UnsetVariables"
            )
        })
    })
}

impl<'f> FlowScope<'f> {
    pub fn new(flow: &'f Flow) -> Self {
        let mut tasks = Vec::new();
        let sections: [(&str, &[Task]); 4] = [
            ("tasks", &flow.tasks),
            ("errors", &flow.errors),
            ("finally", &flow.finally),
            ("afterExecution", &flow.after_execution),
        ];
        for (role, list) in sections {
            collect(list, None, role, &[], &mut tasks);
        }
        for listener in &flow.listeners {
            collect(&listener.tasks, None, "listeners", &[], &mut tasks);
        }
        let by_id = tasks
            .iter()
            .enumerate()
            .map(|(i, info)| (info.task.id.value.as_str(), i))
            .collect();
        FlowScope {
            inputs: inputs_type(flow),
            // `SetVariables`/`UnsetVariables` change `vars` while the flow runs: its names are
            // then not known before.
            vars: if changes_variables(flow) {
                Ty::Any
            } else {
                flow.variables.as_ref().map_or_else(
                    || Ty::object("`vars`", "variable", Vec::new()),
                    |v| yaml_type(v, "`vars`", "variable"),
                )
            },
            flow,
            tasks,
            by_id,
            task_states: std::cell::OnceCell::new(),
            subflow_outputs: HashMap::new(),
        }
    }

    /// Types each Subflow's `outputs` from its target among `neighbours`.
    #[must_use]
    pub fn with_neighbours(mut self, neighbours: &crate::check::bundle::Neighbours) -> Self {
        for info in &self.tasks {
            let task = info.task;
            if task
                .checked_as
                .is_none_or(|p| p.name != "io.kestra.plugin.core.flow.Subflow")
            {
                continue;
            }
            let text = |name: &str| {
                task.property(name)
                    .and_then(|p| p.value.as_text())
                    .filter(|t| !kflow_runtime::expr::is_template(t))
            };
            let (Some(namespace), Some(id)) = (text("namespace"), text("flowId")) else {
                continue;
            };
            let Some(target) = neighbours.find(namespace, id) else {
                continue;
            };
            let fields = target
                .outputs
                .iter()
                .map(|(name, ty)| available(name, input_ty(*ty, None)))
                .collect();
            let ty = Ty::object(
                format!("the outputs of flow `{namespace}.{id}`"),
                "output",
                fields,
            );
            self.subflow_outputs.insert(task.id.value.clone(), ty);
        }
        self
    }

    pub fn task_index(&self, task: &Task) -> Option<usize> {
        self.by_id.get(task.id.value.as_str()).copied()
    }

    /// The root variables at `site`, typed.
    pub fn root(&self, site: Site) -> Ty {
        self.root_reading(site, true)
    }

    /// [`FlowScope::root`] for templates that may not read `outputs`: when `reads_outputs` is
    /// false, `outputs` is left untyped instead of being worked out for every task of the flow
    /// (which made checking a flow of n templated tasks take n² steps).
    pub fn root_reading(&self, site: Site, reads_outputs: bool) -> Ty {
        let mut fields = vec![
            available("inputs", self.inputs.clone()),
            available("vars", self.vars.clone()),
        ];
        // The fixed variables, as the runtime publishes them.
        fields.extend(
            context::VARIABLES
                .iter()
                .filter(|v| v.scope == context::Scope::Always)
                .map(|v| available(v.name, value_type(&v.ty, v.name))),
        );
        let in_flow = matches!(
            site,
            Site::Task(_) | Site::LoopCondition(_) | Site::FlowOutput | Site::Variables
        );
        if in_flow {
            let outputs = if reads_outputs {
                self.outputs(site)
            } else {
                Ty::Any
            };
            fields.push(available("outputs", outputs));
            fields.push(available(
                "tasks",
                self.task_states.get_or_init(|| self.task_states()).clone(),
            ));
        } else if matches!(site, Site::TriggerCondition(_))
            || matches!(site, Site::Trigger(i) if trigger_class(&self.flow.triggers[i]) == Some("Flow"))
        {
            // A Flow trigger reads the upstream execution, whose outputs are untyped here.
            fields.push(available("outputs", Ty::Any));
        } else {
            let never = Status::Never {
                reason: "no task has run when a trigger evaluates".into(),
                help: None,
            };
            fields.push(Field {
                name: "outputs".into(),
                ty: Ty::Any,
                status: never.clone(),
            });
        }
        fields.push(self.trigger(site));
        let loops = match site {
            Site::Task(i) | Site::LoopCondition(i) => self.value_ancestors(i),
            Site::Variables => 1, // rendered wherever: do not judge
            _ => 0,
        };
        fields.push(self.taskrun(site, loops));
        for variable in context::VARIABLES
            .iter()
            .filter(|v| v.scope == context::Scope::Loop)
        {
            let (name, ty) = (variable.name, value_type(&variable.ty, variable.name));
            fields.push(if loops > 0 {
                available(name, ty)
            } else {
                Field {
                    name: name.into(),
                    ty,
                    status: Status::Never {
                        reason: format!("`{name}` exists only inside a loop (ForEach, EachSequential, EachParallel) or a Switch"),
                        help: None,
                    },
                }
            });
        }
        if let Site::Trigger(i) = site {
            // The HTTP trigger's `responseCondition` reads the response it just received.
            if self.flow.triggers[i]
                .checked_as
                .is_some_and(|p| p.name.ends_with(".http.Trigger"))
            {
                fields.push(available("response", Ty::Any));
            }
        }
        if let Site::Task(i) | Site::LoopCondition(i) = site {
            let in_working_directory = self.tasks[i]
                .path
                .iter()
                .filter_map(|s| s.parent)
                .any(|p| is_class(self.tasks[p].task.checked_as, "WorkingDirectory"));
            if in_working_directory {
                fields.extend(
                    context::VARIABLES
                        .iter()
                        .filter(|v| v.scope == context::Scope::WorkingDirectory)
                        .map(|v| available(v.name, value_type(&v.ty, v.name))),
                );
            }
            // Tasks that run in a working directory of their own (scripts, CLI tools) render
            // their files' paths; inside a `WorkingDirectory`, `workingDir` is published above.
            if self.tasks[i]
                .task
                .checked_as
                .is_some_and(has_working_directory)
            {
                if !in_working_directory {
                    fields.push(available("workingDir", Ty::String));
                }
                fields.push(available("outputDir", Ty::String));
                fields.push(available("outputFiles", Ty::Map(Box::new(Ty::String))));
            }
        }
        if let Site::Task(_) | Site::LoopCondition(_) = site {
            fields.push(available(
                "task",
                value_type(&ValueType::Object(context::TASK), "task"),
            ));
        }
        Ty::object("this position", "variable", fields)
    }

    fn taskrun(&self, site: Site, loops: usize) -> Field {
        let mut fields: Vec<Field> = context::TASKRUN
            .iter()
            .map(|f| available(f.name, value_type(&f.ty, f.name)))
            .collect();
        if let Site::Task(i) = site {
            if is_class(self.tasks[i].task.checked_as, "ForEachItem") {
                // The batch's file and its number (from 0), for the subflow's inputs.
                fields.push(available("items", Ty::String));
                fields.push(available("iteration", Ty::Int));
            }
        }
        if loops > 0 {
            fields.extend(
                context::TASKRUN_LOOP
                    .iter()
                    .map(|f| available(f.name, value_type(&f.ty, f.name))),
            );
        } else {
            for field in context::TASKRUN_LOOP {
                let name = field.name;
                fields.push(Field {
                    name: name.into(),
                    ty: value_type(&field.ty, name),
                    status: Status::Never {
                        reason: format!("`taskrun.{name}` exists only inside a loop (ForEach, EachSequential, EachParallel)"),
                        help: None,
                    },
                });
            }
        }
        let status = match site {
            Site::Task(_) | Site::LoopCondition(_) | Site::Variables => Status::Available,
            _ => Status::Never {
                reason: "a trigger has no task run".into(),
                help: None,
            },
        };
        Field {
            name: "taskrun".into(),
            ty: Ty::object("`taskrun`", "field", fields),
            status,
        }
    }

    /// `trigger.*`: the outputs of the declared triggers (several: any of their fields).
    fn trigger(&self, site: Site) -> Field {
        let declared: Vec<&Trigger> = match site {
            Site::Trigger(i) => self.flow.triggers.get(i).into_iter().collect(),
            Site::TriggerCondition(i) => {
                let trigger = &self.flow.triggers[i];
                if trigger_class(trigger) == Some("Flow") {
                    return Field {
                        name: "trigger".into(),
                        ty: Ty::Any,
                        status: Status::Never {
                            reason: "a Flow trigger's conditions see the upstream execution (`execution`, `flow`, `outputs`), not trigger outputs".into(),
                            help: Some("to filter by upstream flow, use `preconditions` with `flows: [{namespace, flowId}]`".into()),
                        },
                    };
                }
                vec![trigger]
            }
            _ => self.flow.triggers.iter().collect(),
        };
        if declared.is_empty() {
            return Field {
                name: "trigger".into(),
                ty: Ty::Any,
                status: Status::Never {
                    reason: "this flow declares no trigger, so a run has no `trigger` variable"
                        .into(),
                    help: Some(
                        "add a trigger, or give a fallback: `trigger.date ?? execution.startDate`"
                            .into(),
                    ),
                },
            };
        }
        let mut fields: Vec<Field> = Vec::new();
        let mut names = Vec::new();
        for trigger in &declared {
            let Some(plugin) = trigger.checked_as else {
                return available("trigger", Ty::Any);
            };
            names.push(short_type(plugin.name));
            for output in plugin.outputs {
                if fields.iter().all(|f| f.name != output.name) {
                    fields.push(Field {
                        name: output.name.into(),
                        ty: value_type(&output.ty, output.name),
                        status: output_condition(
                            output,
                            plugin,
                            &trigger.properties,
                            &trigger.id.value,
                        ),
                    });
                }
            }
        }
        available(
            "trigger",
            Ty::object(
                format!("the trigger ({})", names.join(", ")),
                "output",
                fields,
            ),
        )
    }

    /// `tasks.<id>.state`: every task's state so far.
    fn task_states(&self) -> Ty {
        let fields = self
            .tasks
            .iter()
            .map(|info| {
                available(
                    &info.task.id.value,
                    Ty::object(
                        format!("`tasks.{}`", info.task.id.value),
                        "field",
                        vec![available("state", Ty::String)],
                    ),
                )
            })
            .collect();
        Ty::object("this flow", "task", fields)
    }

    /// `outputs.<task>`: every task of the flow, each with its availability at `site`.
    fn outputs(&self, site: Site) -> Ty {
        let mut fields = Vec::new();
        for (index, info) in self.tasks.iter().enumerate() {
            let status = match site {
                Site::Task(reader) => self.status(index, Some(reader)),
                Site::LoopCondition(looping)
                    if index == looping
                        || self.tasks[index]
                            .path
                            .iter()
                            .any(|s| s.parent == Some(looping)) =>
                {
                    Status::Available
                }
                Site::LoopCondition(reader) => self.status(index, Some(reader)),
                Site::FlowOutput => self.status(index, None),
                _ => Status::Available,
            };
            let ty = self.output_type(index);
            let id = info.task.id.value.as_str();
            if is_class(info.task.checked_as, "ForEachItem") {
                // ForEachItem runs as generated tasks whose outputs flows read directly.
                use kflow_runtime::tasks::foreach_item as each;
                for (suffix, def) in [
                    ("_split", &each::ForEachItemSplit::DEFINITION),
                    ("_items", &each::ForEachItemExecutable::DEFINITION),
                    ("_merge", &each::ForEachItemMergeOutputs::DEFINITION),
                ] {
                    let name = format!("{id}{suffix}");
                    fields.push(Field {
                        ty: outputs_object(&name, def, &[], &[]),
                        name,
                        status: status.clone(),
                    });
                }
            }
            fields.push(Field {
                name: id.to_string(),
                ty,
                status,
            });
        }
        Ty::object("this flow", "task", fields)
    }

    fn output_type(&self, index: usize) -> Ty {
        let task = self.tasks[index].task;
        let mut ty = match task.checked_as {
            None => Ty::Any,
            Some(plugin)
                if is_class(Some(plugin), "Template")
                    || is_class(Some(plugin), "TemplatedTask") =>
            {
                Ty::Any
            }
            Some(plugin) => {
                let mut ty =
                    outputs_object(&task.id.value, plugin, &task.properties, &task.branches);
                if let (Some(outputs), Ty::Object(object)) =
                    (self.subflow_outputs.get(&task.id.value), &mut ty)
                {
                    if let Some(object) = std::rc::Rc::get_mut(object) {
                        for field in &mut object.fields {
                            if field.name == "outputs" {
                                field.ty = outputs.clone();
                            }
                        }
                    }
                }
                ty
            }
        };
        // Outputs of a task inside a loop are keyed by the loop value: `outputs.t[taskrun.value]`.
        for step in self.tasks[index].path.iter().rev() {
            let Some(parent) = step.parent else { continue };
            let parent_plugin = self.tasks[parent].task.checked_as;
            if is_loop(parent_plugin) {
                ty = Ty::Map(Box::new(ty));
            } else if is_class(parent_plugin, "LoopUntil") || is_class(parent_plugin, "Switch") {
                // Keyed by iteration or case value in ways flows rarely spell out: untyped.
                ty = Ty::Any;
            }
        }
        ty
    }

    /// How many parents give this task a `taskrun.value` (loops, and Switch: its case value).
    fn value_ancestors(&self, index: usize) -> usize {
        self.tasks[index]
            .path
            .iter()
            .filter_map(|s| s.parent)
            .filter(|p| {
                let plugin = self.tasks[*p].task.checked_as;
                is_loop(plugin)
                    || ["LoopUntil", "Switch"].iter().any(|c| is_class(plugin, c))
                    || plugin.is_none()
            })
            .count()
    }

    /// Whether task `target` has finished when `reader` (a task, or `None` for the flow's
    /// outputs) renders its properties.
    fn status(&self, target: usize, reader: Option<usize>) -> Status {
        let full = |i: usize| self.tasks[i].path.clone();
        let target_path = full(target);
        let reader_path = match reader {
            Some(r) => full(r),
            None => vec![Step {
                parent: None,
                role: "tasks".into(),
                index: self.flow.tasks.len(),
            }],
        };
        // `errors`, `finally`, `afterExecution` and listeners may read everything.
        if reader_path.iter().any(|s| {
            matches!(
                s.role.as_str(),
                "errors" | "finally" | "afterExecution" | "listeners"
            )
        }) {
            return Status::Available;
        }
        let id = |i: usize| self.tasks[i].task.id.value.as_str();
        if reader == Some(target) {
            return never("a task cannot read its own outputs", None);
        }
        let common = target_path
            .iter()
            .zip(&reader_path)
            .take_while(|(a, b)| a == b)
            .count();
        if common == reader_path.len() {
            return never(
                format!(
                    "`{}` runs inside this task, after its properties are rendered",
                    id(target)
                ),
                None,
            );
        }
        if common == target_path.len() {
            if is_class(self.tasks[target].task.checked_as, "LoopUntil") {
                // A LoopUntil's outputs (`iterationCount`) grow while its children run.
                return Status::Available;
            }
            return never(
                format!(
                    "`{}` contains this task and finishes only after it",
                    id(target)
                ),
                Some("read it in a task after it".into()),
            );
        }
        let (t, r) = (&target_path[common], &reader_path[common]);
        let target_branch_task = self.ancestor_at(target, common);
        let reader_branch_task = reader.map(|rd| self.ancestor_at(rd, common));
        if t.parent != r.parent || t.role != r.role {
            let parent_name = t.parent.map(|p| format!("`{}`", id(p)));
            return match (t.role.as_str(), r.role.as_str(), parent_name) {
                ("errors", _, _) => never(
                    format!("`{}` runs only in the `errors` branch, after a failure", id(target)),
                    None,
                ),
                ("finally" | "afterExecution" | "listeners", _, _) => never(
                    format!("`{}` runs in `{}`, after the tasks", id(target), t.role),
                    None,
                ),
                (tr, rr, Some(parent)) => never(
                    format!("`{}` is in the `{tr}` branch of {parent} and this task is in `{rr}`; only one of them runs", id(target)),
                    Some("read it after the branching task, with a fallback: `outputs.x.value ?? …`".into()),
                ),
                _ => never(format!("`{}` runs in another part of the flow", id(target)), None),
            };
        }
        if t.index > r.index {
            return never(
                format!("`{}` runs after this task", id(target)),
                Some(format!(
                    "move `{}` before this task, or read its outputs in a later task",
                    id(target)
                )),
            );
        }
        // An earlier sibling: finished, unless the branch runs its tasks concurrently.
        if let Some(parent) = t.parent {
            let parent_task = self.tasks[parent].task;
            if is_class(parent_task.checked_as, "Parallel")
                || is_class(parent_task.checked_as, "EachParallel")
            {
                return never(
                    format!(
                        "`{}` runs in parallel with this task (both are in `{}`)",
                        id(target),
                        parent_task.id.value
                    ),
                    Some(format!("read it after `{}` finishes", parent_task.id.value)),
                );
            }
            if is_class(parent_task.checked_as, "Dag") {
                if let Some(reader_top) = reader_branch_task {
                    if !self.depends_on(reader_top, target_branch_task) {
                        return never(
                            format!(
                                "`{}` is not among the tasks `{}` depends on in Dag `{}`",
                                id(target_branch_task),
                                id(reader_top),
                                parent_task.id.value
                            ),
                            Some(format!(
                                "add `{}` to the `dependsOn` of `{}`",
                                id(target_branch_task),
                                id(reader_top)
                            )),
                        );
                    }
                }
            }
        }
        // It finished; did it certainly run? Branches and `runIf` on the way down say no.
        for (depth, step) in target_path.iter().enumerate().skip(common) {
            let task_here = self.ancestor_at(target, depth);
            if self.tasks[task_here].task.run_if.is_some() {
                return Status::Maybe(format!(
                    "`{}` has a `runIf` and may be skipped",
                    id(task_here)
                ));
            }
            if self.tasks[task_here].task.disabled {
                return never(format!("`{}` is disabled", id(task_here)), None);
            }
            if depth > common {
                if let Some(parent) = step.parent {
                    let conditional = step.role.starts_with("cases.")
                        || matches!(
                            step.role.as_str(),
                            "then" | "else" | "defaults" | "errors" | "finally"
                        );
                    if conditional {
                        return Status::Maybe(format!(
                            "`{}` runs only in the `{}` branch of `{}`",
                            id(target),
                            step.role,
                            id(parent)
                        ));
                    }
                }
            }
        }
        Status::Available
    }

    /// The ancestor of `index` (or itself) at `depth` in its path.
    fn ancestor_at(&self, index: usize, depth: usize) -> usize {
        let path = &self.tasks[index].path;
        if depth + 1 >= path.len() {
            return index;
        }
        // The parent recorded one step deeper is the ancestor at this depth.
        path[depth + 1].parent.unwrap_or(index)
    }

    /// Whether Dag task `from` depends on `on`, directly or through others.
    fn depends_on(&self, from: usize, on: usize) -> bool {
        let mut stack = vec![from];
        let mut seen = vec![false; self.tasks.len()];
        while let Some(i) = stack.pop() {
            for dep in &self.tasks[i].task.depends_on {
                if let Some(&d) = self.by_id.get(dep.value.as_str()) {
                    if d == on {
                        return true;
                    }
                    if !seen[d] {
                        seen[d] = true;
                        stack.push(d);
                    }
                }
            }
        }
        false
    }
}

fn collect<'f>(
    tasks: &'f [Task],
    parent: Option<usize>,
    role: &str,
    prefix: &[Step],
    out: &mut Vec<TaskInfo<'f>>,
) {
    for (index, task) in tasks.iter().enumerate() {
        let mut path = prefix.to_vec();
        path.push(Step {
            parent,
            role: role.to_string(),
            index,
        });
        let me = out.len();
        out.push(TaskInfo {
            task,
            path: path.clone(),
        });
        for branch in &task.branches {
            collect(&branch.tasks, Some(me), &branch.role, &path, out);
        }
    }
}

fn never(reason: impl Into<String>, help: Option<String>) -> Status {
    Status::Never {
        reason: reason.into(),
        help,
    }
}

fn class_name(plugin: &PluginDef) -> &'static str {
    plugin.name.rsplit('.').next().unwrap_or(plugin.name)
}

fn is_class(plugin: Option<&PluginDef>, class: &str) -> bool {
    plugin.is_some_and(|p| p.name.starts_with("io.kestra.plugin.core.") && class_name(p) == class)
}

fn is_loop(plugin: Option<&PluginDef>) -> bool {
    ["ForEach", "EachSequential", "EachParallel"]
        .iter()
        .any(|c| is_class(plugin, c))
}

/// Script tasks and the CLI-style plugins built on them run in a working directory whose path
/// (`workingDir`) and declared output files (`outputFiles`) their templates can print.
fn has_working_directory(plugin: &PluginDef) -> bool {
    [
        ".scripts.",
        ".jdbc.duckdb.",
        ".jdbc.sqlite.",
        ".dbt.",
        ".ansible.",
        ".terraform.",
        ".git.",
        ".docker.",
    ]
    .iter()
    .any(|family| plugin.name.contains(family))
}

fn trigger_class(trigger: &Trigger) -> Option<&'static str> {
    trigger.checked_as.map(class_name)
}

fn short_type(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

fn outputs_object(
    id: &str,
    plugin: &'static PluginDef,
    properties: &[Property],
    branches: &[Branch],
) -> Ty {
    let mut ty = Ty::object(
        format!("task `{id}` ({})", short_type(plugin.name)),
        "output",
        plugin
            .outputs
            .iter()
            .map(|o: &OutputDef| Field {
                name: o.name.into(),
                ty: value_type(&o.ty, o.name),
                status: output_condition(o, plugin, properties, id),
            })
            .collect(),
    );
    if plugin.outputs.is_empty() {
        // A flowable task has no outputs of its own; its tasks do.
        if let Some(child) = branches.iter().flat_map(|b| &b.tasks).next() {
            if let Ty::Object(object) = &mut ty {
                if let Some(object) = std::rc::Rc::get_mut(object) {
                    object.missing_help = Some(format!(
                        "`{id}` runs other tasks and has no outputs of its own; read theirs, e.g. `outputs.{}`",
                        child.id.value
                    ));
                }
            }
        }
    }
    ty
}

/// Whether a conditional output (`uri` only with `fetchType: STORE`) exists with the task's
/// properties as written. A value computed by an expression is given the benefit of the doubt.
fn output_condition(
    output: &OutputDef,
    plugin: &PluginDef,
    properties: &[Property],
    owner: &str,
) -> Status {
    let Some((property, wanted)) = output.only_with else {
        return Status::Available;
    };
    if plugin.property(property).is_none() {
        return Status::Available;
    }
    // `fetchType` replaced the booleans `store`, `fetch` and `fetchOne`.
    let legacy = |name: &str| {
        properties
            .iter()
            .find(|p| p.name.value == name)
            .and_then(|p| p.value.as_scalar())
            .is_some_and(|s| s.text == "true")
    };
    let actual = match properties.iter().find(|p| p.name.value == property) {
        Some(p) => match p.value.as_text() {
            Some(text) if text.contains("{{") => return Status::Available,
            Some(text) => text.to_string(),
            None => return Status::Available,
        },
        None if legacy("store") => "STORE".into(),
        None if legacy("fetchOne") => "FETCH_ONE".into(),
        None if legacy("fetch") => "FETCH".into(),
        None if property == "fetchType" => "NONE".into(),
        None => "unset".into(),
    };
    if actual == wanted {
        return Status::Available;
    }
    never(
        format!(
            "`{}` exists only with `{property}: {wanted}` (`{owner}` has {property} {actual})",
            output.name
        ),
        Some(format!("add `{property}: {wanted}` to `{owner}`")),
    )
}

fn value_type(ty: &ValueType, name: &str) -> Ty {
    match ty {
        ValueType::String | ValueType::Uri | ValueType::DateTime | ValueType::Duration => {
            Ty::String
        }
        ValueType::Int => Ty::Int,
        ValueType::Number => Ty::Float,
        ValueType::Bool => Ty::Bool,
        ValueType::List(item) => Ty::List(Box::new(value_type(item, name))),
        ValueType::Map(item) => Ty::Map(Box::new(value_type(item, name))),
        ValueType::Object(fields) => Ty::object(
            format!("`{name}`"),
            "field",
            fields
                .iter()
                .map(|f| available(f.name, value_type(&f.ty, f.name)))
                .collect(),
        ),
        ValueType::Any => Ty::Any,
    }
}

/// `inputs.*` from the declarations; a dotted id (`user.name`) nests.
fn inputs_type(flow: &Flow) -> Ty {
    #[derive(Default)]
    struct Tree {
        leaf: Option<Ty>,
        children: Vec<(String, Tree)>,
    }
    fn insert(tree: &mut Tree, parts: &[&str], ty: Ty) {
        let Some((first, rest)) = parts.split_first() else {
            tree.leaf = Some(ty);
            return;
        };
        let pos = if let Some(p) = tree.children.iter().position(|(n, _)| n == first) {
            p
        } else {
            tree.children.push(((*first).to_string(), Tree::default()));
            tree.children.len() - 1
        };
        insert(&mut tree.children[pos].1, rest, ty);
    }
    fn build(tree: Tree, name: &str) -> Ty {
        if tree.children.is_empty() {
            return tree.leaf.unwrap_or(Ty::Any);
        }
        let fields = tree
            .children
            .into_iter()
            .map(|(n, t)| {
                let path = format!("{name}.{n}");
                available(&n, build(t, &path))
            })
            .collect();
        Ty::object(format!("`{name}`"), "input", fields)
    }
    let mut tree = Tree::default();
    for input in &flow.inputs {
        let ty = input_ty(input.ty.value, input.item_type.as_ref().map(|t| t.value));
        let parts: Vec<&str> = input.id.value.split('.').collect();
        insert(&mut tree, &parts, ty);
    }
    if tree.children.is_empty() {
        return Ty::object("this flow (it declares no inputs)", "input", Vec::new());
    }
    match build(tree, "inputs") {
        Ty::Object(object) => Ty::object("this flow", "input", object.fields.clone()),
        other => other,
    }
}

/// What a value of an input (or flow output) type is in expressions; `item` is an ARRAY's
/// item type.
fn input_ty(ty: InputType, item: Option<InputType>) -> Ty {
    let scalar = |ty: InputType| match ty {
        InputType::Int => Ty::Int,
        InputType::Float => Ty::Float,
        InputType::Bool => Ty::Bool,
        InputType::Json | InputType::Yaml => Ty::Any,
        _ => Ty::String,
    };
    match ty {
        InputType::Array => Ty::List(Box::new(item.map_or(Ty::Any, scalar))),
        InputType::Multiselect => Ty::List(Box::new(Ty::String)),
        other => scalar(other),
    }
}

/// The type of a literal YAML value (`variables`).
fn yaml_type(node: &Node, name: &str, noun: &'static str) -> Ty {
    match &node.value {
        YamlValue::Map(entries) => Ty::object(
            name.to_string(),
            noun,
            entries
                .iter()
                .map(|e| {
                    available(
                        &e.key.text,
                        yaml_type(&e.value, &format!("`{}`", e.key.text), "key"),
                    )
                })
                .collect(),
        ),
        YamlValue::Seq(_) => Ty::List(Box::new(Ty::Any)),
        YamlValue::Scalar(s) => match s.kind {
            ScalarKind::Null => Ty::Any,
            ScalarKind::Bool(_) => Ty::Bool,
            ScalarKind::Int(_) => Ty::Int,
            ScalarKind::Float(_) => Ty::Float,
            ScalarKind::Str => Ty::String,
        },
    }
}
