//! When a served trigger fires, and what its executions see: the ticks of a `Schedule`
//! (cron in a time zone, see [`crate::cron`]) or of a `ScheduleOnDates`, the ticks missed
//! while `serve` was down chosen by `recoverMissedSchedules`, the `trigger` variable of a tick,
//! and the trigger's conditions evaluated on it.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde_json::{json, Map, Value};

use crate::cron::Cron;
use crate::expr::{Host, NoHost};
use crate::plan::{Condition, Prop, RecoverMissed, Trigger, TriggerKind};

/// At most this many missed ticks are looked at when `serve` starts (an every-second schedule
/// down for a day has 86,400); older ones are counted as skipped.
pub const MAX_MISSED: usize = 100_000;

/// The ticks of one served trigger.
#[derive(Debug, Clone)]
pub struct Ticks {
    source: Source,
    zone: TimeZone,
    pub recover: RecoverMissed,
}

#[derive(Debug, Clone)]
enum Source {
    Cron(Cron),
    /// Sorted, each once.
    Dates(Vec<Timestamp>),
}

impl Ticks {
    /// The ticks of `trigger`; `Ok(None)` for a trigger `serve` does not run, an error for a
    /// cron, zone or date that cannot be read.
    pub fn of(trigger: &Trigger) -> Result<Option<Ticks>, String> {
        match &trigger.kind {
            TriggerKind::Schedule(schedule) => {
                let cron = Cron::parse(&schedule.cron, schedule.with_seconds)
                    .map_err(|e| format!("cron `{}`: {e}", schedule.cron))?;
                Ok(Some(Ticks {
                    source: Source::Cron(cron),
                    zone: zone(schedule.timezone.as_deref())?,
                    recover: schedule.recover_missed,
                }))
            }
            TriggerKind::ScheduleOnDates {
                dates,
                timezone,
                recover_missed,
                ..
            } => {
                let zone = zone(timezone.as_deref())?;
                let rendered = dates
                    .render(&Map::new(), &NoHost)
                    .map_err(|e| format!("dates: {e}"))?;
                let mut instants = Vec::new();
                for date in rendered.as_array().into_iter().flatten() {
                    let text = crate::expr::value::to_display_string(date);
                    instants.push(
                        instant(&text, &zone)
                            .ok_or_else(|| format!("dates: `{text}` is not a date and time"))?,
                    );
                }
                instants.sort();
                instants.dedup();
                Ok(Some(Ticks {
                    source: Source::Dates(instants),
                    zone,
                    recover: *recover_missed,
                }))
            }
            TriggerKind::Webhook(_)
            | TriggerKind::Flow(_)
            | TriggerKind::HttpPoll(_)
            | TriggerKind::NotServed { .. } => Ok(None),
        }
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The first tick after `after`.
    pub fn next_after(&self, after: Timestamp) -> Option<Zoned> {
        match &self.source {
            Source::Cron(cron) => cron.next_after(after, &self.zone),
            Source::Dates(dates) => dates
                .iter()
                .find(|d| **d > after)
                .map(|d| d.to_zoned(self.zone.clone())),
        }
    }

    /// The ticks in `(after, until]`, oldest first, at most `limit` (the newest kept).
    pub fn between(&self, after: Timestamp, until: Timestamp, limit: usize) -> Vec<Zoned> {
        let mut ticks = std::collections::VecDeque::new();
        let mut cursor = after;
        while let Some(tick) = self.next_after(cursor).filter(|t| t.timestamp() <= until) {
            cursor = tick.timestamp();
            if ticks.len() == limit {
                ticks.pop_front();
            }
            ticks.push_back(tick);
        }
        ticks.into()
    }

    /// Of the ticks missed while `serve` was down, the ones `recoverMissedSchedules` runs.
    pub fn recovered(&self, missed: Vec<Zoned>) -> Vec<Zoned> {
        match self.recover {
            RecoverMissed::All => missed,
            RecoverMissed::Last => missed.into_iter().last().into_iter().collect(),
            RecoverMissed::None => Vec::new(),
        }
    }

    /// The `trigger` variable of a tick, as Kestra's Schedule gives it: `date`, `next`,
    /// `previous` (ISO-8601 with the zone's offset).
    pub fn variables(&self, tick: &Zoned, previous: Option<&Zoned>) -> Value {
        json!({
            "date": iso(tick),
            "next": self.next_after(tick.timestamp()).as_ref().map(iso),
            "previous": previous.map(iso),
        })
    }
}

/// A zoned time as ISO-8601 with its offset (`2024-03-10T03:30:00-04:00`).
pub fn iso(time: &Zoned) -> String {
    if time.offset() == jiff::tz::Offset::UTC {
        return time.timestamp().to_string();
    }
    time.timestamp()
        .display_with_offset(time.offset())
        .to_string()
}

/// The trigger's zone: named (IANA), else the host's (`TZ`, `/etc/localtime`), UTC where the
/// host has none (an empty chroot).
pub fn zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        Some(name) => TimeZone::get(name).map_err(|_| format!("`{name}` is not a known time zone")),
        None => Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC)),
    }
}

/// A date and time as the command line or a trigger gives it: an instant with an offset
/// (`2024-01-01T10:00:00Z`, `...+02:00`) or a wall-clock time in `zone`
/// (`2024-01-01T10:00:00`, `2024-01-01`).
pub fn instant(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(zoned) = text.parse::<Zoned>() {
        return Some(zoned.timestamp());
    }
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    let civil = text.parse::<DateTime>().ok().or_else(|| {
        text.parse::<jiff::civil::Date>()
            .ok()
            .map(|d| d.at(0, 0, 0, 0))
    })?;
    zone.to_ambiguous_zoned(civil)
        .compatible()
        .ok()
        .map(|z| z.timestamp())
}

/// The wall-clock time of a rendered date (its own offset kept: `...T03:30:00-04:00` is
/// 03:30).
fn wall_clock(text: &str) -> Option<DateTime> {
    let text = text.trim();
    if let Ok(zoned) = text.parse::<Zoned>() {
        return Some(zoned.datetime());
    }
    if let Ok(civil) = text.parse::<DateTime>() {
        return Some(civil);
    }
    // `Z` (UTC): jiff refuses it for wall-clock types on purpose.
    text.parse::<Timestamp>()
        .ok()
        .map(|t| t.to_zoned(TimeZone::UTC).datetime())
}

/// Whether every condition holds for a tick whose `trigger` variable is `trigger`.
pub fn conditions_hold(
    conditions: &[Condition],
    flow: &crate::plan::Flow,
    trigger: &Value,
    host: &dyn Host,
) -> Result<bool, String> {
    let mut vars = Map::new();
    vars.insert("trigger".into(), trigger.clone());
    vars.insert(
        "flow".into(),
        json!({"id": flow.id, "namespace": flow.namespace}),
    );
    conditions_hold_in(conditions, &vars, host)
}

/// [`conditions_hold`] with the variables the conditions see given (a Flow trigger's: the
/// upstream execution's `flow`, `execution`, `outputs`, `labels`, and `trigger.outputs`).
pub fn conditions_hold_in(
    conditions: &[Condition],
    vars: &Map<String, Value>,
    host: &dyn Host,
) -> Result<bool, String> {
    for condition in conditions {
        if !holds(condition, vars, host)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn holds(
    condition: &Condition,
    vars: &Map<String, Value>,
    host: &dyn Host,
) -> Result<bool, String> {
    let kind = condition.type_name.rsplit('.').next().unwrap_or_default();
    let value = |name: &str| -> Result<Option<Value>, String> {
        condition
            .properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, prop): &(String, Prop)| {
                prop.render(vars, host)
                    .map_err(|e| format!("{kind}.{name}: {e}"))
            })
            .transpose()
    };
    let text = |name: &str| -> Result<Option<String>, String> {
        Ok(value(name)?.map(|v| crate::expr::value::to_display_string(&v)))
    };
    let upstream = |root: &str, name: &str| -> String {
        vars.get(root)
            .and_then(|t| t.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let date = || -> Result<DateTime, String> {
        let text = text("date")?.unwrap_or_else(|| {
            vars.get("trigger")
                .and_then(|t| t.get("date"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        });
        wall_clock(&text).ok_or_else(|| format!("{kind}.date: `{text}` is not a date and time"))
    };
    let weekday = |name: &str| -> Result<jiff::civil::Weekday, String> {
        use jiff::civil::Weekday::*;
        let wanted = text(name)?.unwrap_or_default();
        [
            ("MONDAY", Monday),
            ("TUESDAY", Tuesday),
            ("WEDNESDAY", Wednesday),
            ("THURSDAY", Thursday),
            ("FRIDAY", Friday),
            ("SATURDAY", Saturday),
            ("SUNDAY", Sunday),
        ]
        .iter()
        .find(|(n, _)| *n == wanted)
        .map(|(_, d)| *d)
        .ok_or_else(|| format!("{kind}.{name}: `{wanted}` is not a day of the week"))
    };
    Ok(match kind {
        "DayWeek" => date()?.weekday() == weekday("dayOfWeek")?,
        "DayWeekInMonth" => {
            let date = date()?;
            let day = date.day();
            let nth = match text("dayInMonth")?.as_deref() {
                Some("FIRST") => day <= 7,
                Some("SECOND") => (8..=14).contains(&day),
                Some("THIRD") => (15..=21).contains(&day),
                Some("FOURTH") => (22..=28).contains(&day),
                Some("LAST") => day + 7 > date.date().days_in_month(),
                other => {
                    return Err(format!(
                    "DayWeekInMonth.dayInMonth: `{}` is not FIRST, SECOND, THIRD, FOURTH or LAST",
                    other.unwrap_or_default()
                ))
                }
            };
            nth && date.weekday() == weekday("dayOfWeek")?
        }
        "Weekend" => matches!(
            date()?.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ),
        "DateTimeBetween" => {
            let at = text("date")?.unwrap_or_else(|| {
                vars.get("trigger")
                    .and_then(|t| t.get("date"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            });
            let at = instant(&at, &TimeZone::UTC)
                .ok_or_else(|| format!("DateTimeBetween.date: `{at}` is not a date and time"))?;
            let bound = |name: &str| -> Result<Option<Timestamp>, String> {
                text(name)?
                    .map(|t| {
                        instant(&t, &TimeZone::UTC).ok_or_else(|| {
                            format!("DateTimeBetween.{name}: `{t}` is not a date and time")
                        })
                    })
                    .transpose()
            };
            bound("after")?.is_none_or(|after| at > after)
                && bound("before")?.is_none_or(|before| at < before)
        }
        "TimeBetween" => {
            let at = date()?.time();
            let bound = |name: &str| -> Result<Option<jiff::civil::Time>, String> {
                text(name)?
                    .map(|t| {
                        // An offset (`10:00:00+02:00`) is dropped: the date's own clock is compared.
                        let clock = t.split(['+', 'Z']).next().unwrap_or_default();
                        clock
                            .parse::<jiff::civil::Time>()
                            .map_err(|_| format!("TimeBetween.{name}: `{t}` is not a time of day"))
                    })
                    .transpose()
            };
            bound("after")?.is_none_or(|after| at > after)
                && bound("before")?.is_none_or(|before| at < before)
        }
        "Expression" => {
            let value = text("expression")?.unwrap_or_default();
            matches!(value.trim(), "true")
        }
        // A Flow trigger's conditions on the upstream execution (`flow`, `execution`,
        // `labels`; `trigger.outputs` its flow outputs).
        "ExecutionOutputs" => {
            let has_outputs = vars
                .get("trigger")
                .and_then(|t| t.get("outputs"))
                .and_then(Value::as_object)
                .is_some_and(|o| !o.is_empty());
            has_outputs && matches!(text("expression")?.unwrap_or_default().trim(), "true")
        }
        "ExecutionFlow" => {
            upstream("flow", "namespace") == text("namespace")?.unwrap_or_default()
                && upstream("flow", "id") == text("flowId")?.unwrap_or_default()
        }
        "ExecutionNamespace" => {
            let wanted = text("namespace")?.unwrap_or_default();
            let namespace = upstream("flow", "namespace");
            let comparison = match text("comparison")? {
                Some(c) => c,
                None if text("prefix")?.as_deref() == Some("true") => "PREFIX".into(),
                None => "EQUALS".into(),
            };
            match comparison.as_str() {
                "PREFIX" => namespace.starts_with(&wanted),
                "SUFFIX" => namespace.ends_with(&wanted),
                _ => namespace == wanted,
            }
        }
        "ExecutionStatus" => {
            let state = upstream("execution", "state");
            let listed = |name: &str| -> Result<Option<Vec<String>>, String> {
                Ok(value(name)?.map(|v| match v {
                    Value::Array(items) => items
                        .iter()
                        .map(crate::expr::value::to_display_string)
                        .collect(),
                    other => vec![crate::expr::value::to_display_string(&other)],
                }))
            };
            listed("in")?.is_none_or(|states| states.contains(&state))
                && !listed("notIn")?.is_some_and(|states| states.contains(&state))
        }
        "ExecutionLabels" => {
            let wanted = match value("labels")? {
                Some(labels) => crate::tasks::execution::labels(labels)
                    .map_err(|e| format!("ExecutionLabels.labels: {e}"))?,
                None => Map::new(),
            };
            let labels = vars.get("labels").and_then(Value::as_object);
            wanted.iter().all(|(key, value)| {
                labels.and_then(|l| l.get(key)).is_some_and(|have| {
                    crate::expr::value::to_display_string(have)
                        == crate::expr::value::to_display_string(value)
                })
            })
        }
        "Not" => {
            for inner in &condition.conditions {
                if holds(inner, vars, host)? {
                    return Ok(false);
                }
            }
            true
        }
        "Or" => {
            for inner in &condition.conditions {
                if holds(inner, vars, host)? {
                    return Ok(true);
                }
            }
            false
        }
        _ => {
            return Err(format!(
                "`{}` conditions are not evaluated by `serve`",
                condition.type_name
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Schedule;

    fn schedule(cron: &str, zone: &str, recover: RecoverMissed) -> Trigger {
        Trigger {
            id: "t".into(),
            type_name: "io.kestra.plugin.core.trigger.Schedule".into(),
            disabled: false,
            stop_after: Vec::new(),
            conditions: Vec::new(),
            labels: Vec::new(),
            kind: TriggerKind::Schedule(Schedule {
                cron: cron.into(),
                with_seconds: false,
                timezone: Some(zone.into()),
                inputs: None,
                late_maximum_delay: None,
                recover_missed: recover,
            }),
        }
    }

    #[test]
    fn missed_ticks_are_recovered_as_the_policy_says() {
        let after: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let until: Timestamp = "2024-01-01T05:30:00Z".parse().unwrap();
        for (policy, want) in [
            (RecoverMissed::All, vec!["01", "02", "03", "04", "05"]),
            (RecoverMissed::Last, vec!["05"]),
            (RecoverMissed::None, vec![]),
        ] {
            let ticks = Ticks::of(&schedule("0 * * * *", "UTC", policy))
                .unwrap()
                .unwrap();
            let missed = ticks.between(after, until, MAX_MISSED);
            assert_eq!(missed.len(), 5);
            let hours: Vec<String> = ticks
                .recovered(missed)
                .iter()
                .map(|t| format!("{:02}", t.hour()))
                .collect();
            assert_eq!(hours, want, "{policy:?}");
        }
        // The bound keeps the newest.
        let ticks = Ticks::of(&schedule("0 * * * *", "UTC", RecoverMissed::All))
            .unwrap()
            .unwrap();
        let kept = ticks.between(after, until, 2);
        assert_eq!(kept.iter().map(Zoned::hour).collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn a_tick_s_variables_and_conditions() {
        let ticks = Ticks::of(&schedule("0 9 * * *", "Europe/Paris", RecoverMissed::All))
            .unwrap()
            .unwrap();
        let tick = ticks
            .next_after("2024-03-29T12:00:00Z".parse().unwrap())
            .unwrap();
        let vars = ticks.variables(&tick, None);
        assert_eq!(vars["date"], "2024-03-30T09:00:00+01:00");
        assert_eq!(vars["next"], "2024-03-31T09:00:00+02:00");
        let flow = crate::plan::Flow::new("f", "n");
        let condition = |kind: &str, props: &[(&str, &str)]| Condition {
            type_name: format!("io.kestra.plugin.core.condition.{kind}"),
            properties: props
                .iter()
                .map(|(k, v)| ((*k).to_string(), Prop::text(v).unwrap()))
                .collect(),
            conditions: Vec::new(),
        };
        let check = |c: Condition| conditions_hold(&[c], &flow, &vars, &NoHost).unwrap();
        // 2024-03-30 is a Saturday, the last of March.
        assert!(check(condition("Weekend", &[])));
        assert!(check(condition("DayWeek", &[("dayOfWeek", "SATURDAY")])));
        assert!(!check(condition("DayWeek", &[("dayOfWeek", "MONDAY")])));
        assert!(check(condition(
            "DayWeekInMonth",
            &[("dayOfWeek", "SATURDAY"), ("dayInMonth", "LAST")]
        )));
        assert!(check(condition(
            "TimeBetween",
            &[("after", "08:00:00"), ("before", "10:00:00")]
        )));
        assert!(!check(condition(
            "DateTimeBetween",
            &[("after", "2024-04-01T00:00:00Z")]
        )));
        assert!(check(condition(
            "Expression",
            &[("expression", "{{ trigger.date | date('yyyy') == '2024' }}")]
        )));
        let mut not = condition("Not", &[]);
        not.conditions.push(condition("Weekend", &[]));
        assert!(!check(not));
    }
}
