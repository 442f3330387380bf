//! `kflowc graph`: a checked flow as a graph of its tasks, printed as DOT, Mermaid or JSON.
//!
//! Nodes are the tasks (and the flow's `errors`, `finally` and `afterExecution` sections);
//! edges say how one leads to another: `next` within a list, the branch a flowable task starts
//! (`tasks`, `then`, `else`, `cases.<key>`, `defaults`, `errors`, `finally`), a Parallel or a
//! Dag starting each child, and a Dag's `dependsOn`.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::model::{Flow, Task};

/// One node: a task, or a section of the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphNode {
    pub id: String,
    /// The task's type, its class name only (`Log`), or `section`.
    pub kind: String,
}

/// One edge and what it means (`next`, `then`, `dependsOn`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    pub label: String,
}

#[derive(Debug, Default)]
pub struct Graph {
    pub id: String,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// The graph of a checked flow.
pub fn graph(flow: &Flow) -> Graph {
    let mut graph = Graph {
        id: flow.id.value.clone(),
        ..Graph::default()
    };
    graph.list(&flow.tasks, None, "");
    for (section, tasks) in [
        ("errors", &flow.errors),
        ("finally", &flow.finally),
        ("afterExecution", &flow.after_execution),
    ] {
        if tasks.is_empty() {
            continue;
        }
        graph.nodes.push(GraphNode {
            id: section.to_string(),
            kind: "section".into(),
        });
        graph.list(tasks, Some(section), section);
    }
    graph
}

impl Graph {
    /// A list of tasks run one after another; `parent` starts the first with `label`.
    fn list(&mut self, tasks: &[Task], parent: Option<&str>, label: &str) {
        let mut previous: Option<&str> = None;
        for task in tasks {
            self.task(task);
            match previous {
                Some(before) => self.edge(before, &task.id.value, "next"),
                None => {
                    if let Some(parent) = parent {
                        self.edge(parent, &task.id.value, label);
                    }
                }
            }
            previous = Some(&task.id.value);
        }
    }

    fn task(&mut self, task: &Task) {
        let type_name = task
            .plugin
            .map_or(task.type_name.value.as_str(), |p| p.name);
        let class = type_name.rsplit('.').next().unwrap_or(type_name);
        self.nodes.push(GraphNode {
            id: task.id.value.clone(),
            kind: class.to_string(),
        });
        let id = task.id.value.as_str();
        for branch in &task.branches {
            let together =
                matches!(class, "Parallel" | "EachParallel" | "Dag") && branch.role == "tasks";
            if together {
                for child in &branch.tasks {
                    self.task(child);
                    if child.depends_on.is_empty() {
                        self.edge(id, &child.id.value, &branch.role);
                    }
                    for dependency in &child.depends_on {
                        self.edge(&dependency.value, &child.id.value, "dependsOn");
                    }
                }
            } else {
                self.list(&branch.tasks, Some(id), &branch.role);
            }
        }
    }

    fn edge(&mut self, from: &str, to: &str, label: &str) {
        self.edges.push(GraphEdge {
            from: from.to_string(),
            to: to.to_string(),
            label: label.to_string(),
        });
    }

    pub fn to_json(&self) -> Value {
        json!({
            "flow": self.id,
            "nodes": self.nodes.iter().map(|n| json!({"id": n.id, "type": n.kind})).collect::<Vec<_>>(),
            "edges": self.edges.iter().map(|e| json!({"from": e.from, "to": e.to, "label": e.label})).collect::<Vec<_>>(),
        })
    }

    /// Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = format!("digraph {} {{\n  rankdir=TB;\n", quote(&self.id));
        for node in &self.nodes {
            let shape = if node.kind == "section" {
                "note"
            } else {
                "box"
            };
            let _ = writeln!(
                out,
                "  {} [label={}, shape={shape}];",
                quote(&node.id),
                quote(&format!("{}\\n{}", node.id, node.kind))
            );
        }
        for edge in &self.edges {
            let label = if edge.label == "next" {
                String::new()
            } else {
                format!(" [label={}]", quote(&edge.label))
            };
            let _ = writeln!(
                out,
                "  {} -> {}{label};",
                quote(&edge.from),
                quote(&edge.to)
            );
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart (nodes are numbered; labels carry the ids).
    pub fn to_mermaid(&self) -> String {
        let index = |id: &str| self.nodes.iter().position(|n| n.id == id).unwrap_or(0);
        let text = |s: &str| s.replace('"', "#quot;");
        let mut out = String::from("flowchart TD\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let _ = writeln!(
                out,
                "  n{i}[\"{}<br/><small>{}</small>\"]",
                text(&node.id),
                text(&node.kind)
            );
        }
        for edge in &self.edges {
            let (from, to) = (index(&edge.from), index(&edge.to));
            if edge.label == "next" {
                let _ = writeln!(out, "  n{from} --> n{to}");
            } else {
                let _ = writeln!(out, "  n{from} -->|{}| n{to}", text(&edge.label));
            }
        }
        out
    }
}
