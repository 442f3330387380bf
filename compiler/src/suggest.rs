//! "Did you mean" suggestions: the closest known name by edit distance. The distance itself is
//! the runtime's ([`kflow_runtime::suggest`]), which suggests input names with it too.

pub use kflow_runtime::suggest::did_you_mean;
use kflow_runtime::suggest::distance_within;

/// Whether `candidate` is a plausible correction of the dotted type name `word`: a class name
/// within typo distance, in the same package or one that differs by one segment added,
/// dropped, or misspelled. Within Kestra's core (`io.kestra.plugin.core.*`) a segment may also
/// be swapped for another core package: `core.schedule.Schedule` is `core.trigger.Schedule`.
/// A real plugin kflow lacks (`io.kestra.plugin.aws.cloudwatch.Query`) is not taken for a
/// registered cousin (`io.kestra.plugin.aws.athena.Query`).
pub fn is_close_type_name(word: &str, candidate: &str) -> bool {
    let (word_package, word_class) = word.rsplit_once('.').unwrap_or(("", word));
    let (package, class) = candidate.rsplit_once('.').unwrap_or(("", candidate));
    let class_limit = (word_class.len().max(class.len()) / 3).max(1);
    if distance_within(word_class, class, class_limit) > class_limit {
        return false;
    }
    let w: Vec<&str> = word_package.split('.').collect();
    let c: Vec<&str> = package.split('.').collect();
    let both_core = word_package.starts_with(CORE) && package.starts_with(CORE);
    match w.len().abs_diff(c.len()) {
        0 => {
            let mut differing = w.iter().zip(&c).filter(|(a, b)| !a.eq_ignore_ascii_case(b));
            match (differing.next(), differing.next()) {
                (None, _) => true,
                (Some((a, b)), None) => both_core || did_you_mean(a, [*b]).is_some(),
                _ => false,
            }
        }
        1 => {
            let (long, short) = if w.len() > c.len() {
                (&w, &c)
            } else {
                (&c, &w)
            };
            (0..long.len()).any(|skip| {
                long.iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, s)| s)
                    .eq(short.iter())
            })
        }
        _ => false,
    }
}

const CORE: &str = "io.kestra.plugin.core";

/// `a`, `b` or `c` — for listing what is allowed.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("mesage", ["message", "level"]),
            Some("message")
        );
        assert_eq!(
            did_you_mean("maxAttempts", ["maxAttempt", "interval"]),
            Some("maxAttempt")
        );
        assert_eq!(did_you_mean("Tasks", ["tasks"]), Some("tasks"));
        assert_eq!(did_you_mean("levle", ["level", "message"]), Some("level"));
        assert_eq!(did_you_mean("zzz", ["message", "level"]), None);
        assert!(is_close_type_name(
            "io.kestra.plugin.http.Request",
            "io.kestra.plugin.core.http.Request"
        ));
        assert!(is_close_type_name(
            "io.kestra.plugin.core.schedule.Schedule",
            "io.kestra.plugin.core.trigger.Schedule"
        ));
        assert!(is_close_type_name(
            "io.kestra.plugin.core.log.Lgo",
            "io.kestra.plugin.core.log.Log"
        ));
        assert!(!is_close_type_name(
            "io.kestra.plugin.apify.dataset.Get",
            "io.kestra.plugin.core.state.Get"
        ));
        assert!(!is_close_type_name(
            "io.kestra.plugin.aws.s3.Upload",
            "io.kestra.plugin.gcp.gcs.Upload"
        ));
        assert!(!is_close_type_name(
            "io.kestra.plugin.aws.cloudwatch.Query",
            "io.kestra.plugin.aws.athena.Query"
        ));
        assert!(is_close_type_name(
            "io.kestra.plugin.core.flows.ForEachItem",
            "io.kestra.plugin.core.flow.ForEachItem"
        ));
        assert!(is_close_type_name(
            "io.kestra.plugin.scripts.pyhton.Script",
            "io.kestra.plugin.scripts.python.Script"
        ));
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
