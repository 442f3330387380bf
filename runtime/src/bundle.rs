//! The flows one binary hosts. `kflowc build a.yml b.yml -o bundle` puts several in one
//! binary (they share one state, one `serve`, and start one another as subflows and through
//! Flow triggers); a binary built from one flow is a bundle of one.

use std::sync::Arc;

use crate::expr::{FlowHost, Host};
use crate::plan::Flow;

/// A flow of the binary with the host its expressions use (its namespace files, secrets).
#[derive(Clone)]
pub struct Hosted {
    pub flow: Arc<Flow>,
    pub host: Arc<dyn Host + Send + Sync>,
}

/// The flows of one binary, in the order they were given to `kflowc build`.
#[derive(Clone)]
pub struct Bundle {
    /// The binary's name (`-o`): the state directory's default name when it hosts several.
    pub name: String,
    pub flows: Vec<Hosted>,
}

impl Bundle {
    /// One flow, its namespace files bundled.
    pub fn single(flow: Flow, files: crate::namespace_files::Bundled) -> Bundle {
        let host = Arc::new(FlowHost::new(&flow.namespace, files));
        Bundle {
            name: flow.id.clone(),
            flows: vec![Hosted {
                flow: Arc::new(flow),
                host,
            }],
        }
    }

    /// The flow `namespace.id`.
    pub fn find(&self, namespace: &str, id: &str) -> Option<&Hosted> {
        self.flows
            .iter()
            .find(|h| h.flow.namespace == namespace && h.flow.id == id)
    }

    /// The flow a command names (`ID` or `NAMESPACE.ID`); with one flow, that one when none is
    /// named. An error lists the flows when the name matches none, or several.
    pub fn select(&self, name: Option<&str>) -> Result<&Hosted, String> {
        let ids = || {
            self.flows
                .iter()
                .map(|h| format!("{}.{}", h.flow.namespace, h.flow.id))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(name) = name else {
            return match self.flows.as_slice() {
                [one] => Ok(one),
                _ => Err(format!(
                    "this binary hosts {} flows ({}): name one, as in `{} run FLOW_ID`",
                    self.flows.len(),
                    ids(),
                    self.name
                )),
            };
        };
        let matching: Vec<&Hosted> = self
            .flows
            .iter()
            .filter(|h| h.flow.id == name || format!("{}.{}", h.flow.namespace, h.flow.id) == name)
            .collect();
        match matching.as_slice() {
            [one] => Ok(one),
            [] => Err(format!(
                "no flow `{name}` in this binary (its flows: {})",
                ids()
            )),
            _ => Err(format!(
                "`{name}` names several flows ({}): give NAMESPACE.ID",
                ids()
            )),
        }
    }

    /// The leaf of the default state directory: `<namespace>.<id>` for one flow (as before
    /// bundles), the binary's name for several.
    pub fn state_leaf(&self) -> String {
        match self.flows.as_slice() {
            [one] => format!("{}.{}", one.flow.namespace, one.flow.id),
            _ => self.name.clone(),
        }
    }
}
