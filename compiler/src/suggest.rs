//! "Did you mean" suggestions: the closest known name by edit distance.

/// The candidate closest to `word`, if it is close enough to be a likely typo. Case is ignored.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_len = word.chars().count();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let candidate_len = candidate.chars().count();
        let limit = (word_len.max(candidate_len) / 3).max(1);
        // The distance is at least the difference in length: skip the quadratic work.
        if word_len.abs_diff(candidate_len) > limit {
            continue;
        }
        let distance = distance_within(word, candidate, limit);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

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

/// The case-insensitive edit distance of `a` and `b`, or more than `limit` when it exceeds it.
fn distance_within(a: &str, b: &str, limit: usize) -> usize {
    if a.is_ascii() && b.is_ascii() {
        let lower = |s: &str| {
            s.bytes()
                .map(|c| c.to_ascii_lowercase())
                .collect::<Vec<u8>>()
        };
        edit_distance(&lower(a), &lower(b), limit)
    } else {
        let lower = |s: &str| {
            s.chars()
                .flat_map(char::to_lowercase)
                .collect::<Vec<char>>()
        };
        edit_distance(&lower(a), &lower(b), limit)
    }
}

/// Edit distance where swapping two neighbouring characters counts as one edit (optimal
/// string alignment), since `levle` for `level` is one slip, not two. Stops early once every
/// path costs more than `limit`.
fn edit_distance<T: PartialEq>(a: &[T], b: &[T], limit: usize) -> usize {
    // A shared prefix or suffix costs nothing; type names share long ones (`io.kestra.plugin.`).
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        let mut row_min = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
            row_min = row_min.min(best);
        }
        if row_min > limit {
            return limit + 1;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

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
