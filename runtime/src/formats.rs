//! Text formats of input values, as Kestra (Java) reads and prints them: instants, dates, times,
//! durations, e-mail addresses, URIs, local files. Free of the executor's dependencies: the
//! compiler checks `defaults` with the same rules the binary applies to given values.

use std::fmt::Write as _;
use std::path::Path;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// Kestra's `EmailInput` pattern (which takes `’` where `'` was meant; both are accepted).
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_!#$%&'’*+/=?`{|}~^.-".contains(c))
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// A URI as `java.net.URI` takes it, with a scheme: `https://example.com/x?y#z`, `s3://b/k`.
pub fn check_uri(text: &str) -> Result<(), String> {
    let Some((scheme, _)) = text.split_once(':') else {
        return Err("no scheme".into());
    };
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err("no scheme".into());
    }
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        let ok = if c.is_ascii() {
            c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
        } else {
            !c.is_control() && !c.is_whitespace()
        };
        if !ok {
            return Err(format!("{c:?} is not allowed in a URI"));
        }
        if c == '%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err("`%` must start an escape such as %20".into());
        }
    }
    Ok(())
}

/// An ISO-8601 instant, with `Z` or an offset, as Java's `Instant.toString` prints it in UTC.
pub fn parse_instant(text: &str) -> Result<String, String> {
    match text.parse::<jiff::Timestamp>() {
        Ok(ts) => Ok(java_instant(ts)),
        Err(_) if text.parse::<jiff::civil::DateTime>().is_ok() => {
            Err("add `Z` for UTC or an offset such as +02:00".into())
        }
        Err(_) => Err(String::new()),
    }
}

/// Milliseconds since the epoch as Java's `Instant.toString` prints them
/// (`2024-01-01T10:00:00.123Z`, no fraction when it is zero): execution and task-run dates, log
/// timestamps.
pub fn iso_instant(ms: u64) -> String {
    let ts = jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    java_instant(ts)
}

pub fn java_instant(ts: jiff::Timestamp) -> String {
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = u32::try_from(ts.subsec_nanosecond()).unwrap_or(0);
    format!("{base}{}Z", java_fraction(nanos))
}

/// Java's fraction of a second: none, or 3, 6 or 9 digits.
fn java_fraction(nanos: u32) -> String {
    if nanos == 0 {
        String::new()
    } else if nanos.is_multiple_of(1_000_000) {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    }
}

/// `yyyy-mm-dd`, a real date.
pub fn parse_date(text: &str) -> Result<String, String> {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape {
        return Err(String::new());
    }
    text.parse::<jiff::civil::Date>()
        .map(|d| d.to_string())
        .map_err(|_| "no such day".into())
}

/// `hh:mm`, `hh:mm:ss` or `hh:mm:ss.fff…`, printed as Java's `LocalTime.toString`.
pub fn parse_time(text: &str) -> Result<String, String> {
    let number = |s: &str, max: u32| -> Option<u32> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
            .filter(|n| *n <= max)
    };
    let (hm, rest) = match text.get(5..) {
        Some(rest) => (&text[..5], rest),
        None => (text, ""),
    };
    let (h, m) = hm.split_once(':').ok_or_else(String::new)?;
    let (hour, minute) = (
        number(h, 23).ok_or_else(String::new)?,
        number(m, 59).ok_or_else(String::new)?,
    );
    let (mut second, mut nanos) = (0, 0);
    if !rest.is_empty() {
        let rest = rest.strip_prefix(':').ok_or_else(String::new)?;
        let (s, fraction) = match rest.split_once('.') {
            Some((s, f)) => (s, Some(f)),
            None => (rest, None),
        };
        second = number(s, 59).ok_or_else(String::new)?;
        if let Some(f) = fraction {
            if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(String::new());
            }
            nanos = format!("{f:0<9}")
                .parse::<u32>()
                .map_err(|_| String::new())?;
        }
    }
    let mut out = format!("{hour:02}:{minute:02}");
    if second != 0 || nanos != 0 {
        let _ = write!(out, ":{second:02}{}", java_fraction(nanos));
    }
    Ok(out)
}

/// Java's `Duration.toString`: `PT8H6M12.345S`, days as hours, `PT0S` for zero.
pub fn java_duration(total_nanos: i128) -> String {
    const SECOND: i128 = 1_000_000_000;
    if total_nanos == 0 {
        return "PT0S".into();
    }
    let seconds = total_nanos.div_euclid(SECOND);
    let nanos = total_nanos.rem_euclid(SECOND);
    let effective = if seconds < 0 && nanos > 0 {
        seconds + 1
    } else {
        seconds
    };
    let hours = effective / 3_600;
    let minutes = (effective % 3_600) / 60;
    let secs = effective % 60;
    let mut out = String::from("PT");
    if hours != 0 {
        let _ = write!(out, "{hours}H");
    }
    if minutes != 0 {
        let _ = write!(out, "{minutes}M");
    }
    if secs == 0 && nanos == 0 && out.len() > 2 {
        return out;
    }
    if seconds < 0 && nanos > 0 && secs == 0 {
        out.push_str("-0");
    } else {
        out.push_str(&secs.to_string());
    }
    if nanos > 0 {
        let fraction = if seconds < 0 {
            2 * SECOND - nanos
        } else {
            nanos + SECOND
        };
        let digits = fraction.to_string();
        let digits = digits[1..].trim_end_matches('0');
        out.push('.');
        out.push_str(digits);
    }
    out.push('S');
    out
}

/// A readable local file's `file://` URI (its absolute, canonical path, percent-encoded).
pub fn file_uri(text: &str) -> Result<String, String> {
    if text.starts_with("kestra://") {
        return Err("internal storage URIs are not supported yet; give a local path".into());
    }
    let path_text = match text.strip_prefix("file://") {
        Some(rest) => percent_decode(rest),
        None => text.to_string(),
    };
    let path = Path::new(&path_text);
    let absolute = path.canonicalize().map_err(|e| io_reason(&e))?;
    if absolute.is_dir() {
        return Err("it is a directory".into());
    }
    std::fs::File::open(&absolute).map_err(|e| io_reason(&e))?;
    Ok(format!(
        "file://{}",
        percent_encode_path(absolute.as_os_str().as_encoded_bytes())
    ))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// What stays as it is in a URI path: unreserved characters, `/` and the path's
/// sub-delimiters; everything else (space, `%`, `#`, `?`, non-ASCII bytes) is `%XX`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

fn percent_encode_path(bytes: &[u8]) -> String {
    percent_encoding::percent_encode(bytes, PATH).to_string()
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// An input's `validator`: a Java regular expression that must match the whole value (Java's
/// `String.matches`). Compiled with fancy-regex, which has what Java has beyond the `regex`
/// crate (look-around, backreferences, atomic groups, possessive quantifiers), with a bound on
/// backtracking so that no pattern runs away. `kflowc check` compiles it the same way: a
/// validator it accepts is one the binary can run.
#[derive(Debug)]
pub struct Validator(fancy_regex::Regex);

/// Backtracking steps one match may take before it is an error rather than a hang.
const VALIDATOR_BACKTRACK_LIMIT: usize = 1_000_000;

impl Validator {
    pub fn new(pattern: &str) -> Result<Validator, String> {
        // The pattern alone first, so that an error's position is in the pattern as written.
        fancy_regex::Regex::new(pattern).map_err(|e| e.to_string())?;
        fancy_regex::RegexBuilder::new(&format!(r"\A(?:{pattern})\z"))
            .backtrack_limit(VALIDATOR_BACKTRACK_LIMIT)
            .build()
            .map(Validator)
            .map_err(|e| e.to_string())
    }

    /// Whether the whole of `text` matches; an error when the match would take too long.
    pub fn matches(&self, text: &str) -> Result<bool, String> {
        self.0.is_match(text).map_err(|e| e.to_string())
    }
}
