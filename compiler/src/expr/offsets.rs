//! Positions inside YAML strings: a byte offset in a scalar's decoded text (what the template
//! parser saw) back to the byte offset in the file, through quotes, escapes, block indentation
//! and line folding.

use crate::yaml::Style;

/// For each byte of `decoded`, the file offset it came from; one extra entry for the end.
///
/// Decoded and raw text are walked in lockstep: each decoded character is matched with the
/// next raw character equal to it, skipping what YAML removes (quotes, indentation, block
/// headers, line breaks folded into spaces) and decoding escapes of double-quoted strings.
pub fn decoded_to_file(file: &str, scalar_start: usize, style: Style, decoded: &str) -> Vec<usize> {
    let raw = file.get(scalar_start..).unwrap_or("");
    let raw_bytes = raw.as_bytes();
    let mut map = Vec::with_capacity(decoded.len() + 1);
    let mut r = 0usize;
    for ch in decoded.chars() {
        let found = loop {
            let Some(rc) = raw[r.min(raw.len())..].chars().next() else {
                break None;
            };
            if rc == ch {
                break Some((r, rc.len_utf8()));
            }
            if style == Style::DoubleQuoted && rc == '\\' {
                let next = raw_bytes.get(r + 1).copied().unwrap_or(b' ');
                if next == b'\n' || next == b'\r' {
                    r += 2; // line continuation
                    continue;
                }
                let len = match next {
                    b'x' => 4,
                    b'u' => 6,
                    b'U' => 10,
                    _ => 2,
                };
                break Some((r, len));
            }
            // A line break folded into a space (plain, quoted and `>` scalars).
            if ch == ' ' && (rc == '\n' || rc == '\r') {
                break Some((r, rc.len_utf8()));
            }
            if matches!(
                rc,
                ' ' | '\t' | '\n' | '\r' | '\'' | '"' | '|' | '>' | '-' | '+'
            ) || (rc.is_ascii_digit() && matches!(style, Style::Literal | Style::Folded))
            {
                r += rc.len_utf8();
                continue;
            }
            break None;
        };
        let Some((at, len)) = found else {
            // Out of step (should not happen): point at the last known position.
            let last = map.last().copied().unwrap_or(scalar_start);
            map.extend(std::iter::repeat_n(last, ch.len_utf8()));
            continue;
        };
        for i in 0..ch.len_utf8() {
            map.push(scalar_start + at + i.min(len - 1));
        }
        r = at + len;
    }
    map.push(scalar_start + r);
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locate(file: &str, style: Style, decoded: &str, needle: &str) -> String {
        let start = file
            .find(|c: char| !c.is_whitespace() && c != ':' && !c.is_alphabetic())
            .unwrap_or(0);
        let map = decoded_to_file(file, start, style, decoded);
        let at = decoded.find(needle).expect("needle in decoded");
        let from = map[at];
        let to = map[at + needle.len() - 1] + 1;
        file[from..to].to_string()
    }

    #[test]
    fn maps_through_quotes_escapes_and_blocks() {
        let file = "k: \"a \\\"q\\\" {{ inputs.x }}\"";
        assert_eq!(
            locate(
                file,
                Style::DoubleQuoted,
                "a \"q\" {{ inputs.x }}",
                "inputs"
            ),
            "inputs"
        );
        let file = "k: 'it''s {{ outputs.t }}'";
        assert_eq!(
            locate(file, Style::SingleQuoted, "it's {{ outputs.t }}", "outputs"),
            "outputs"
        );
        let file = "k: |\n  line one\n  {{ vars.v }}\n";
        assert_eq!(
            locate(file, Style::Literal, "line one\n{{ vars.v }}\n", "vars"),
            "vars"
        );
        let file = "k: >\n  folded\n  {{ flow.id }}\n";
        assert_eq!(
            locate(file, Style::Folded, "folded {{ flow.id }}\n", "flow"),
            "flow"
        );
        let file = "k: {{ a }} plain\n  continued {{ b }}";
        assert_eq!(
            locate(
                file,
                Style::Plain,
                "{{ a }} plain continued {{ b }}",
                "b }}"
            ),
            "b }}"
        );
    }
}
