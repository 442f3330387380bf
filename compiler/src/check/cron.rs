//! `Schedule.cron` as Kestra reads it: five fields (minute, hour, day of month, month, day of
//! week), six with `withSeconds: true`, or a nickname (`@daily`, ...). Numbers, names
//! (`JAN`, `MON`), ranges, steps and lists; not Quartz's `L`, `W`, `#` or `?`, which some cron
//! libraries take and Kestra refuses. A value outside its field (hour 25) is an error at the value.

use crate::diag::{Code, Diagnostic};
use crate::model::Flow;

pub fn check(flow: &Flow, diagnostics: &mut Vec<Diagnostic>) {
    for trigger in &flow.triggers {
        let is_schedule = trigger
            .checked_as
            .is_some_and(|p| p.name == "io.kestra.plugin.core.trigger.Schedule");
        if !is_schedule {
            continue;
        }
        let property = |name: &str| trigger.properties.iter().find(|p| p.name.value == name);
        let Some(cron) = property("cron") else {
            continue;
        };
        let Some(text) = cron.value.as_text() else {
            continue;
        };
        let with_seconds = property("withSeconds")
            .and_then(|p| p.value.as_scalar())
            .is_some_and(|s| matches!(s.kind, crate::yaml::ScalarKind::Bool(true)));
        if let Err(problem) = validate(text, with_seconds) {
            diagnostics.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    cron.value.span,
                    format!("`{text}` is not a cron expression Kestra accepts: {problem}"),
                )
                .with_help("five fields: minute hour day-of-month month day-of-week (six, seconds first, with `withSeconds: true`), or @hourly, @daily, @weekly, @monthly, @yearly"),
            );
        }
    }
}

/// Whether `cron` is valid; why not, in words (the runtime's own parser, which `serve` runs).
pub fn validate(cron: &str, with_seconds: bool) -> Result<(), String> {
    kflow_runtime::cron::Cron::parse(cron, with_seconds).map(drop)
}
