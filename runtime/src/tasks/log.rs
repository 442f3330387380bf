//! `io.kestra.plugin.core.log`: Log (and the deprecated `debug.Echo`, a Log of its `format`).

use serde::Deserialize;
use serde_json::Value;

use crate::definition::shapes::STRING_OR_STRINGS;
use crate::definition::{prop, PluginDef, PropType::*, LOG_LEVELS};
use crate::plan::Level;

/// `log.Log`: one message, or a list of them, at a level (INFO by default).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Log {
    pub message: Value,
    #[serde(default)]
    pub level: Option<Level>,
}

impl Log {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.log.Log",
        &["io.kestra.core.tasks.log.Log"],
        &[
            prop("message", STRING_OR_STRINGS).required(),
            prop("level", Enum(LOG_LEVELS)),
        ],
        &[],
    );
}

/// `debug.Echo` (deprecated): logs its `format`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Echo {
    pub format: Value,
    #[serde(default)]
    pub level: Option<Level>,
}

impl Echo {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.debug.Echo",
        &["io.kestra.core.tasks.debugs.Echo"],
        &[
            prop("format", String).required(),
            prop("level", Enum(LOG_LEVELS)),
        ],
        &[],
    )
    .deprecated_for("use `io.kestra.plugin.core.log.Log`");
}

#[cfg(feature = "executor")]
mod run {
    use super::{Echo, Log};
    use crate::expr::value::to_display_string;
    use crate::plan::Level;
    use crate::tasks::{Task, TaskContext, TaskError};
    use serde_json::Value;

    /// Each item of a list is its own line, as Kestra logs them.
    fn log_lines(ctx: &TaskContext<'_>, message: &Value, level: Option<Level>) {
        let level = level.unwrap_or(Level::Info);
        match message {
            Value::Array(items) => {
                for item in items {
                    ctx.log(level, &to_display_string(item));
                }
            }
            other => ctx.log(level, &to_display_string(other)),
        }
    }

    impl Task for Log {
        type Output = ();
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            log_lines(ctx, &self.message, self.level);
            Ok(())
        }
    }

    impl Task for Echo {
        type Output = ();
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            log_lines(ctx, &self.format, self.level);
            Ok(())
        }
    }
}
