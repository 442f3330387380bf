//! The flows one binary hosts. `kflowc build a.yml b.yml -o bundle` puts several in one
//! binary (they share one state, one `serve`, and start one another as subflows and through
//! Flow triggers); a binary built from one flow is a bundle of one.

use std::sync::Arc;

use crate::expr::{FlowHost, GivenSecrets, Host};
use crate::plan::Flow;

/// One flow as generated code holds it (a built binary's `main.rs`, an `include_flow!`
/// module).
#[derive(Debug, Clone, Copy)]
pub struct BundledFlow {
    /// The plan, as JSON (`kflow_runtime::plan::Flow`).
    pub plan: &'static str,
    /// Its namespace files (`_files/` beside the flow): path under `_files/`, contents.
    pub namespace_files: &'static [(&'static str, &'static [u8])],
}

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
    /// The flows generated code holds, their plans read; `secrets` are read before the
    /// environment's. An error only when a plan does not fit this runtime.
    pub fn of(name: &str, flows: &[BundledFlow], secrets: &GivenSecrets) -> Result<Bundle, String> {
        let mut bundle = Bundle {
            name: name.to_string(),
            flows: Vec::with_capacity(flows.len()),
        };
        for bundled in flows {
            let flow = Flow::from_json(bundled.plan)?;
            let host = FlowHost::new(&flow.namespace, bundled.namespace_files)
                .with_secrets(secrets.clone());
            bundle.flows.push(Hosted {
                flow: Arc::new(flow),
                host: Arc::new(host),
            });
        }
        Ok(bundle)
    }

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
