//! Kestra condition types (`io.kestra.plugin.core.condition.*`).
//!
//! The only property every condition has is `type` (`io.kestra.core.models.conditions.Condition`).
//! Conditions appear in a trigger's `conditions`, in Schedule's deprecated `scheduleConditions`,
//! inside `Not` / `Or`, and as the values of `MultipleCondition`'s `conditions` map.

use super::catalog_triggers::{STATE, TIME_WINDOW};
use super::{prop, PluginDef, PluginKind, PropDef, PropType, PropType::*};

/// `java.time.DayOfWeek`.
const DAY_OF_WEEK: PropType = Enum(&[
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
]);

/// One label of the list form: `io.kestra.core.models.Label`.
static LABEL: &[PropDef] = &[
    prop("key", String).required().not_dynamic(),
    prop("value", String).required().not_dynamic(),
];

/// Shorthand for a condition entry.
const fn condition(
    name: &'static str,
    aliases: &'static [&'static str],
    properties: &'static [PropDef],
    deprecated: Option<&'static str>,
) -> PluginDef {
    let mut def = PluginDef::known(PluginKind::Condition, name, aliases, properties, &[]);
    def.deprecated = deprecated;
    def
}

pub(super) static PLUGINS: &[PluginDef] = &[
    // DateTimeBetween
    condition(
        "io.kestra.plugin.core.condition.DateTimeBetween",
        &[
            "io.kestra.core.models.conditions.types.DateTimeBetweenCondition",
            "io.kestra.plugin.core.condition.DateTimeBetweenCondition",
        ],
        &[
            prop("date", String),
            prop("after", String).not_dynamic(),  // ZonedDateTime
            prop("before", String).not_dynamic(), // ZonedDateTime
        ],
        None,
    ),
    // DayWeek
    condition(
        "io.kestra.plugin.core.condition.DayWeek",
        &[
            "io.kestra.core.models.conditions.types.DayWeekCondition",
            "io.kestra.plugin.core.condition.DayWeekCondition",
        ],
        &[
            prop("date", String),
            prop("dayOfWeek", DAY_OF_WEEK).required().not_dynamic(),
        ],
        None,
    ),
    // DayWeekInMonth
    condition(
        "io.kestra.plugin.core.condition.DayWeekInMonth",
        &[
            "io.kestra.core.models.conditions.types.DayWeekInMonthCondition",
            "io.kestra.plugin.core.condition.DayWeekInMonthCondition",
        ],
        &[
            prop("date", String),
            prop("dayOfWeek", DAY_OF_WEEK).required().not_dynamic(),
            prop(
                "dayInMonth",
                Enum(&["FIRST", "LAST", "SECOND", "THIRD", "FOURTH"]),
            )
            .required()
            .not_dynamic(),
        ],
        None,
    ),
    // ExecutionFlow
    condition(
        "io.kestra.plugin.core.condition.ExecutionFlow",
        &[
            "io.kestra.core.models.conditions.types.ExecutionFlowCondition",
            "io.kestra.plugin.core.condition.ExecutionFlowCondition",
        ],
        &[
            prop("namespace", String).required().not_dynamic(),
            prop("flowId", String).required().not_dynamic(),
        ],
        None,
    ),
    // ExecutionLabels (labels: map or list of {key, value}, no `system.` keys)
    condition(
        "io.kestra.plugin.core.condition.ExecutionLabels",
        &[
            "io.kestra.core.models.conditions.types.ExecutionLabelsCondition",
            "io.kestra.plugin.core.condition.ExecutionLabelsCondition",
        ],
        &[prop("labels", OneOf(&[Map(&String), List(&Object(LABEL))]))
            .required()
            .not_dynamic()],
        None,
    ),
    // ExecutionNamespace
    condition(
        "io.kestra.plugin.core.condition.ExecutionNamespace",
        &[
            "io.kestra.core.models.conditions.types.ExecutionNamespaceCondition",
            "io.kestra.plugin.core.condition.ExecutionNamespaceCondition",
        ],
        &[
            prop("namespace", String).required().not_dynamic(),
            prop("comparison", Enum(&["EQUALS", "PREFIX", "SUFFIX"])).not_dynamic(),
            prop("prefix", Bool).not_dynamic(),
        ],
        None,
    ),
    // ExecutionOutputs (`expression` is rendered with `trigger.outputs` by test())
    condition(
        "io.kestra.plugin.core.condition.ExecutionOutputs",
        &[
            "io.kestra.core.models.conditions.types.ExecutionOutputsCondition",
            "io.kestra.plugin.core.condition.ExecutionOutputsCondition",
        ],
        &[prop("expression", String).required()],
        None,
    ),
    // ExecutionStatus
    condition(
        "io.kestra.plugin.core.condition.ExecutionStatus",
        &[
            "io.kestra.core.models.conditions.types.ExecutionStatusCondition",
            "io.kestra.plugin.core.condition.ExecutionStatusCondition",
        ],
        &[
            prop("in", List(&STATE)).not_dynamic(),
            prop("notIn", List(&STATE)).not_dynamic(),
        ],
        None,
    ),
    // Expression (`expression` is rendered by test())
    condition(
        "io.kestra.plugin.core.condition.Expression",
        &[
            "io.kestra.core.models.conditions.types.VariableCondition",
            "io.kestra.plugin.core.condition.ExpressionCondition",
        ],
        &[prop("expression", String).required()],
        None,
    ),
    // FlowCondition
    condition(
        "io.kestra.plugin.core.condition.FlowCondition",
        &["io.kestra.core.models.conditions.types.FlowCondition"],
        &[
            prop("namespace", String).required().not_dynamic(),
            prop("flowId", String).required().not_dynamic(),
        ],
        Some("use io.kestra.plugin.core.condition.ExecutionFlow"),
    ),
    // FlowNamespaceCondition
    condition(
        "io.kestra.plugin.core.condition.FlowNamespaceCondition",
        &["io.kestra.core.models.conditions.types.FlowNamespaceCondition"],
        &[
            prop("namespace", String).required().not_dynamic(),
            prop("prefix", Bool).not_dynamic(),
        ],
        Some("use io.kestra.plugin.core.condition.ExecutionNamespace"),
    ),
    // HasRetryAttempt
    condition(
        "io.kestra.plugin.core.condition.HasRetryAttempt",
        &[
            "io.kestra.core.models.conditions.types.HasRetryAttemptCondition",
            "io.kestra.plugin.core.condition.HasRetryAttemptCondition",
        ],
        &[
            prop("in", List(&STATE)).not_dynamic(),
            prop("notIn", List(&STATE)).not_dynamic(),
        ],
        None,
    ),
    // MultipleCondition (`window` / `windowAdvance` are folded into `timeWindow` by their setters)
    condition(
        "io.kestra.plugin.core.condition.MultipleCondition",
        &["io.kestra.core.models.conditions.types.MultipleCondition"],
        &[
            prop("id", String).required().not_dynamic(), // ^[a-zA-Z0-9][a-zA-Z0-9_-]*
            prop("timeWindow", Object(TIME_WINDOW)).not_dynamic(),
            prop("resetOnSuccess", Bool).not_dynamic(),
            prop("window", Duration)
                .not_dynamic()
                .deprecated("use `timeWindow.window`"),
            prop("windowAdvance", Duration)
                .not_dynamic()
                .deprecated("use `timeWindow.windowAdvance`"),
            prop("conditions", Map(&Plugin(PluginKind::Condition)))
                .required()
                .not_dynamic(),
        ],
        Some("use the `preconditions` of the io.kestra.plugin.core.trigger.Flow trigger"),
    ),
    // Not
    condition(
        "io.kestra.plugin.core.condition.Not",
        &[
            "io.kestra.core.models.conditions.types.NotCondition",
            "io.kestra.plugin.core.condition.NotCondition",
        ],
        &[prop("conditions", List(&Plugin(PluginKind::Condition)))
            .required()
            .not_dynamic()],
        None,
    ),
    // Or
    condition(
        "io.kestra.plugin.core.condition.Or",
        &[
            "io.kestra.core.models.conditions.types.OrCondition",
            "io.kestra.plugin.core.condition.OrCondition",
        ],
        &[prop("conditions", List(&Plugin(PluginKind::Condition)))
            .required()
            .not_dynamic()],
        None,
    ),
    // PublicHoliday
    condition(
        "io.kestra.plugin.core.condition.PublicHoliday",
        &[
            "io.kestra.core.models.conditions.types.PublicHolidayCondition",
            "io.kestra.plugin.core.condition.PublicHolidayCondition",
        ],
        &[
            prop("date", String),
            prop("country", String),
            prop("subDivision", String),
        ],
        None,
    ),
    // TimeBetween
    condition(
        "io.kestra.plugin.core.condition.TimeBetween",
        &[
            "io.kestra.core.models.conditions.types.TimeBetweenCondition",
            "io.kestra.plugin.core.condition.TimeBetweenCondition",
        ],
        &[
            prop("date", String),
            prop("after", String).not_dynamic(),  // OffsetTime
            prop("before", String).not_dynamic(), // OffsetTime
        ],
        None,
    ),
    // Weekend
    condition(
        "io.kestra.plugin.core.condition.Weekend",
        &[
            "io.kestra.core.models.conditions.types.WeekendCondition",
            "io.kestra.plugin.core.condition.WeekendCondition",
        ],
        &[prop("date", String)],
        None,
    ),
];
