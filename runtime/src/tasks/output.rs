//! `io.kestra.plugin.core.debug.Return` and `io.kestra.plugin.core.output.OutputValues`: tasks
//! whose whole work is their outputs.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::definition::{out, prop, PluginDef, PropType::*, ValueType};

/// `debug.Return`: `outputs.<id>.value` is the rendered `format`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Return {
    #[serde(default)]
    pub format: Option<Value>,
}

impl Return {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.debug.Return",
        &["io.kestra.core.tasks.debugs.Return"],
        &[prop("format", String)],
        &[crate::definition::out("value", ValueType::String)],
    );
}

/// `Return`'s outputs: the rendered text (null without a `format`).
#[derive(Debug, Serialize)]
pub struct ReturnOutput {
    pub value: Option<std::string::String>,
}

/// `output.OutputValues`: `outputs.<id>.values.*` are the rendered `values`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputValues {
    #[serde(default)]
    pub values: Map<std::string::String, Value>,
}

impl OutputValues {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.output.OutputValues",
        &[],
        &[prop("values", Map(&Any))],
        &[out("values", ValueType::Map(&ValueType::Any))],
    );
}

#[derive(Debug, Serialize)]
pub struct OutputValuesOutput {
    pub values: Map<std::string::String, Value>,
}

#[cfg(feature = "executor")]
mod run {
    use super::{OutputValues, OutputValuesOutput, Return, ReturnOutput};
    use crate::expr::value::to_display_string;
    use crate::tasks::{Task, TaskContext, TaskError};

    impl Task for Return {
        type Output = ReturnOutput;
        const INSTANT: bool = true;
        async fn run(&self, _ctx: &mut TaskContext<'_>) -> Result<ReturnOutput, TaskError> {
            Ok(ReturnOutput {
                value: self.format.as_ref().map(to_display_string),
            })
        }
    }

    impl Task for OutputValues {
        type Output = OutputValuesOutput;
        const INSTANT: bool = true;
        async fn run(&self, _ctx: &mut TaskContext<'_>) -> Result<OutputValuesOutput, TaskError> {
            Ok(OutputValuesOutput {
                values: self.values.clone(),
            })
        }
    }
}
