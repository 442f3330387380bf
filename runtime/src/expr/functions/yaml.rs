//! YAML for the `yaml` filter and function: an emitter that writes what Kestra's Jackson YAML
//! mapper writes (`MINIMIZE_QUOTES`, `INDENT_ARRAYS`, no `---`, no line splitting: `SnakeYAML`'s
//! emitter with indent 2 and indicator indent 1), and a reader that resolves scalars the way
//! Jackson's YAML parser does (YAML 1.1 booleans such as `yes`/`off`, `0x` ints, …).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};

use super::super::value::{float, number_string};

const BEST_INDENT: usize = 2;
const INDICATOR_INDENT: usize = 1;

/// YAML text for a value; it ends with a line break.
pub(crate) fn emit(value: &Value) -> String {
    let mut emitter = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        indent: None,
        indents: Vec::new(),
        flow_level: 0,
    };
    emitter.node(value, false, false);
    emitter.write_indent();
    emitter.out
}

/// The style Jackson asks `SnakeYAML` for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Requested {
    Plain,
    DoubleQuoted,
    Literal,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    flow_level: usize,
}

const RESERVED: &[&str] = &[
    "false", "False", "FALSE", "n", "N", "no", "No", "NO", "null", "Null", "NULL", "on", "On",
    "ON", "off", "Off", "OFF", "true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES",
];

/// Jackson's `StringQuotingChecker.isReservedKeyword`.
fn reserved(s: &str) -> bool {
    s.is_empty() || s.starts_with('~') || RESERVED.contains(&s)
}

/// Jackson's `needToQuoteValue`: reserved words and characters that would read as syntax.
fn value_needs_quotes(s: &str) -> bool {
    if reserved(s) {
        return true;
    }
    let chars: Vec<char> = s.chars().collect();
    chars.iter().enumerate().any(|(i, c)| match c {
        '[' | ']' | '{' | '}' | ',' => true,
        '#' => i > 0 && matches!(chars[i - 1], ' ' | '\t'),
        ':' => i + 1 < chars.len() && matches!(chars[i + 1], ' ' | '\t'),
        _ => false,
    })
}

/// Jackson's `needToQuoteName`: reserved words, what looks like a number, control characters.
fn name_needs_quotes(s: &str) -> bool {
    reserved(s)
        || s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
        || s.chars().any(|c| u32::from(c) < 0x20)
}

fn is_linebr(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_end(c: Option<char>) -> bool {
    matches!(c, None | Some('\0' | ' ' | '\t'))
}

struct Analysis {
    empty: bool,
    multiline: bool,
    allow_flow_plain: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
    allow_block: bool,
}

/// `SnakeYAML`'s `analyzeScalar`: which styles can represent the text.
fn analyze(text: &[char]) -> Analysis {
    if text.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
            allow_block: false,
        };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special = false;
    let leading_zero = text.len() > 1
        && text[0] == '0'
        && text[1..].iter().all(|c| c.is_ascii_digit() || *c == '_');
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let starts = |p: &str| text.iter().take(3).copied().eq(p.chars());
    if starts("---") || starts("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let mut followed_by_whitespace = text.len() == 1
        || is_blank_or_end(text.get(1).copied())
        || is_linebr(text[1])
        || text[1] == '\r';
    let (mut previous_space, mut previous_break) = (false, false);
    for (index, &c) in text.iter().enumerate() {
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_indicators = true;
                block_indicators = true;
            }
            if c == '?' || c == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if c == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_indicators = true;
            }
            if c == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if c == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        let line_break = is_linebr(c);
        if line_break {
            line_breaks = true;
        }
        let code = u32::from(c);
        if !(c == '\n' || (0x20..=0x7E).contains(&code)) {
            let unicode = code == 0x85
                || (0xA0..=0xD7FF).contains(&code)
                || (0xE000..=0xFFFD).contains(&code)
                || (0x10000..=0x10_FFFF).contains(&code);
            if !unicode {
                special = true;
            }
        }
        if c == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == text.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if line_break {
            if index == 0 {
                leading_break = true;
            }
            if index == text.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, '\0' | ' ' | '\t') || line_break;
        followed_by_whitespace = true;
        if index + 2 < text.len() {
            followed_by_whitespace = is_blank_or_end(Some(text[index + 2])) || line_break;
        }
    }
    let mut a = Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain: true,
        allow_block_plain: true,
        allow_single_quoted: true,
        allow_block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break || leading_zero {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
    }
    if trailing_space {
        a.allow_block = false;
    }
    if break_space {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
        a.allow_single_quoted = false;
    }
    if space_break || special {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
        a.allow_single_quoted = false;
        a.allow_block = false;
    }
    if line_breaks || flow_indicators {
        a.allow_flow_plain = false;
    }
    if block_indicators {
        a.allow_block_plain = false;
    }
    a
}

impl Emitter {
    fn node(&mut self, value: &Value, mapping: bool, simple_key: bool) {
        match value {
            Value::Null => self.scalar("null", Requested::Plain, simple_key),
            Value::Bool(b) => self.scalar(
                if *b { "true" } else { "false" },
                Requested::Plain,
                simple_key,
            ),
            Value::Number(n) => self.scalar(&number_string(n), Requested::Plain, simple_key),
            Value::String(s) => {
                let requested = if s.is_empty() {
                    Requested::DoubleQuoted
                } else if s.contains('\n') {
                    Requested::Literal
                } else if value_needs_quotes(s) {
                    Requested::DoubleQuoted
                } else {
                    Requested::Plain
                };
                self.scalar(s, requested, simple_key);
            }
            Value::Array(items) if items.is_empty() || self.flow_level > 0 => {
                self.write_indicator("[", true, true, false);
                self.flow_level += 1;
                self.increase_indent(true, false);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.write_indicator(",", false, false, false);
                    }
                    self.node(item, false, false);
                }
                self.indent = self.indents.pop().flatten();
                self.flow_level -= 1;
                self.write_indicator("]", false, false, false);
            }
            Value::Object(map) if map.is_empty() || self.flow_level > 0 => {
                self.write_indicator("{", true, true, false);
                self.flow_level += 1;
                self.increase_indent(true, false);
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        self.write_indicator(",", false, false, false);
                    }
                    self.key(key, true);
                    self.write_indicator(":", false, false, false);
                    self.node(item, true, false);
                }
                self.indent = self.indents.pop().flatten();
                self.flow_level -= 1;
                self.write_indicator("}", false, false, false);
            }
            Value::Array(items) => {
                let indentless = mapping && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_whitespace(INDICATOR_INDENT);
                    self.write_indicator("-", true, false, true);
                    self.node(item, false, false);
                }
                self.indent = self.indents.pop().flatten();
            }
            Value::Object(map) => {
                self.increase_indent(false, false);
                for (key, item) in map {
                    self.write_indent();
                    let chars: Vec<char> = key.chars().collect();
                    let analysis = analyze(&chars);
                    if chars.len() < 128 && !analysis.empty && !analysis.multiline {
                        self.key(key, true);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.key(key, false);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(item, true, false);
                }
                self.indent = self.indents.pop().flatten();
            }
        }
    }

    fn key(&mut self, key: &str, simple_key: bool) {
        let requested = if name_needs_quotes(key) {
            Requested::DoubleQuoted
        } else {
            Requested::Plain
        };
        self.scalar(key, requested, simple_key);
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        match self.indent {
            None => self.indent = Some(if flow { BEST_INDENT } else { 0 }),
            Some(i) if !indentless => self.indent = Some(i + BEST_INDENT),
            Some(_) => {}
        }
    }

    fn scalar(&mut self, text: &str, requested: Requested, simple_key: bool) {
        let chars: Vec<char> = text.chars().collect();
        let analysis = analyze(&chars);
        let style = self.choose_style(&analysis, requested, simple_key);
        self.increase_indent(true, false);
        match style {
            Style::Plain => self.write_plain(&chars),
            Style::SingleQuoted => self.write_single_quoted(&chars),
            Style::DoubleQuoted => self.write_double_quoted(&chars),
            Style::Literal => self.write_literal(&chars),
        }
        self.indent = self.indents.pop().flatten();
    }

    fn choose_style(&self, a: &Analysis, requested: Requested, simple_key: bool) -> Style {
        if requested == Requested::DoubleQuoted {
            return Style::DoubleQuoted;
        }
        if requested == Requested::Plain
            && !(simple_key && (a.empty || a.multiline))
            && ((self.flow_level != 0 && a.allow_flow_plain)
                || (self.flow_level == 0 && a.allow_block_plain))
        {
            return Style::Plain;
        }
        if requested == Requested::Literal && self.flow_level == 0 && !simple_key && a.allow_block {
            return Style::Literal;
        }
        if requested == Requested::Plain && a.allow_single_quoted && !(simple_key && a.multiline) {
            return Style::SingleQuoted;
        }
        Style::DoubleQuoted
    }

    fn write(&mut self, text: &[char]) {
        self.column += text.len();
        self.out.extend(text.iter());
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        whitespace: bool,
        indentation: bool,
    ) {
        if !self.whitespace && need_whitespace {
            self.column += 1;
            self.out.push(' ');
        }
        self.whitespace = whitespace;
        self.indention = self.indention && indentation;
        self.column += indicator.chars().count();
        self.out.push_str(indicator);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break(None);
        }
        self.write_whitespace(indent.saturating_sub(self.column));
    }

    fn write_whitespace(&mut self, length: usize) {
        if length == 0 {
            return;
        }
        self.whitespace = true;
        self.column += length;
        self.out.extend(std::iter::repeat_n(' ', length));
    }

    fn write_line_break(&mut self, data: Option<char>) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(data.unwrap_or('\n'));
    }

    fn write_breaks(&mut self, breaks: &[char]) {
        for &br in breaks {
            self.write_line_break(if br == '\n' { None } else { Some(br) });
        }
    }

    fn write_plain(&mut self, text: &[char]) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.column += 1;
            self.out.push(' ');
        }
        self.whitespace = false;
        self.indention = false;
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    self.write(&text[start..end]);
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_linebr) {
                    if text[start] == '\n' {
                        self.write_line_break(None);
                    }
                    self.write_breaks(&text[start..end]);
                    self.write_indent();
                    self.whitespace = false;
                    self.indention = false;
                    start = end;
                }
            } else if ch.is_none_or(|c| is_linebr(c) || c == ' ') {
                self.write(&text[start..end]);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_linebr(c);
            }
        }
    }

    fn write_single_quoted(&mut self, text: &[char]) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    self.write(&text[start..end]);
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_linebr) {
                    if text[start] == '\n' {
                        self.write_line_break(None);
                    }
                    self.write_breaks(&text[start..end]);
                    self.write_indent();
                    start = end;
                }
            } else if ch.is_none_or(|c| is_linebr(c) || c == ' ' || c == '\'') && start < end {
                self.write(&text[start..end]);
                start = end;
            }
            if ch == Some('\'') {
                self.column += 2;
                self.out.push_str("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_linebr(c);
            }
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &[char]) {
        self.write_indicator("\"", true, false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            let plain = ch.is_some_and(|c| (' '..='~').contains(&c) && c != '"' && c != '\\');
            if !plain {
                if start < end {
                    self.write(&text[start..end]);
                    start = end;
                }
                if let Some(c) = ch {
                    let data = match c {
                        '\0' => "\\0".to_string(),
                        '\u{07}' => "\\a".to_string(),
                        '\u{08}' => "\\b".to_string(),
                        '\t' => "\\t".to_string(),
                        '\n' => "\\n".to_string(),
                        '\u{0B}' => "\\v".to_string(),
                        '\u{0C}' => "\\f".to_string(),
                        '\r' => "\\r".to_string(),
                        '\u{1B}' => "\\e".to_string(),
                        '"' => "\\\"".to_string(),
                        '\\' => "\\\\".to_string(),
                        '\u{85}' => "\\N".to_string(),
                        '\u{A0}' => "\\_".to_string(),
                        '\u{2028}' => "\\L".to_string(),
                        '\u{2029}' => "\\P".to_string(),
                        c if printable(c) => c.to_string(),
                        c if u32::from(c) <= 0xFF => format!("\\x{:02x}", u32::from(c)),
                        c if u32::from(c) > 0xFFFF => format!("\\U{:08x}", u32::from(c)),
                        c => format!("\\u{:04x}", u32::from(c)),
                    };
                    self.column += data.chars().count();
                    self.out.push_str(&data);
                    start = end + 1;
                }
            }
        }
        self.write_indicator("\"", false, false, false);
    }

    fn write_literal(&mut self, text: &[char]) {
        let mut hints = String::new();
        if is_linebr(text[0]) || text[0] == ' ' {
            hints.push_str(&BEST_INDENT.to_string());
        }
        let last = text[text.len() - 1];
        if !is_linebr(last) {
            hints.push('-');
        } else if text.len() == 1 || is_linebr(text[text.len() - 2]) {
            hints.push('+');
        }
        self.write_indicator(&format!("|{hints}"), true, false, false);
        self.write_line_break(None);
        let mut breaks = true;
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if breaks {
                if !ch.is_some_and(is_linebr) {
                    self.write_breaks(&text[start..end]);
                    if ch.is_some() {
                        self.write_indent();
                    }
                    start = end;
                }
            } else if ch.is_none_or(is_linebr) {
                self.out.extend(text[start..end].iter());
                if ch.is_none() {
                    self.write_line_break(None);
                }
                start = end;
            }
            if let Some(c) = ch {
                breaks = is_linebr(c);
            }
        }
    }
}

/// `SnakeYAML`'s `StreamReader.isPrintable`.
fn printable(c: char) -> bool {
    let code = u32::from(c);
    (0x20..=0x7E).contains(&code)
        || matches!(code, 0x9 | 0xA | 0xD | 0x85)
        || (0xA0..=0xD7FF).contains(&code)
        || (0xE000..=0xFFFD).contains(&code)
        || (0x1_0000..=0x10_FFFF).contains(&code)
}

/// Parse the first document of YAML text; scalars resolve as Jackson's YAML parser resolves
/// them. Anchors and aliases are followed.
pub(crate) fn parse(text: &str) -> Result<Value, String> {
    enum Frame {
        Seq(Vec<Value>, usize),
        Map(Map<String, Value>, Option<String>, usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut root: Option<Value> = None;
    let mut parser = Parser::new_from_str(text);

    // Hand a finished value to its parent; `Some` when it is the document's root.
    let finish = |value: Value,
                  key_text: Option<String>,
                  anchor: usize,
                  stack: &mut Vec<Frame>,
                  anchors: &mut HashMap<usize, Value>|
     -> Result<Option<Value>, String> {
        if anchor > 0 {
            anchors.insert(anchor, value.clone());
        }
        match stack.last_mut() {
            None => Ok(Some(value)),
            Some(Frame::Seq(items, _)) => {
                items.push(value);
                Ok(None)
            }
            Some(Frame::Map(map, pending, _)) => {
                if let Some(key) = pending.take() {
                    map.insert(key, value);
                } else {
                    let key = key_text.ok_or("a mapping key must be a scalar")?;
                    *pending = Some(key);
                }
                Ok(None)
            }
        }
    };

    while let Some(event) = parser.next_event() {
        let (event, _) = event.map_err(|e| e.to_string())?;
        let done = match event {
            Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => None,
            Event::StreamEnd | Event::DocumentEnd => break,
            Event::Alias(id) => {
                let value = anchors
                    .get(&id)
                    .cloned()
                    .ok_or("an alias refers to an unknown anchor")?;
                let key = value_key_text(&value);
                finish(value, key, 0, &mut stack, &mut anchors)?
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix.clone());
                let value = resolve_scalar(&text, style, tag.as_deref());
                finish(
                    value,
                    Some(text.into_owned()),
                    anchor,
                    &mut stack,
                    &mut anchors,
                )?
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(Map::new(), None, anchor));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => {
                    finish(Value::Array(items), None, anchor, &mut stack, &mut anchors)?
                }
                _ => return Err("unbalanced sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(map, _, anchor)) => {
                    finish(Value::Object(map), None, anchor, &mut stack, &mut anchors)?
                }
                _ => return Err("unbalanced mapping".into()),
            },
        };
        if let Some(value) = done {
            root = Some(value);
        }
    }
    Ok(root.unwrap_or(Value::Null))
}

fn value_key_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(number_string(n)),
        _ => None,
    }
}

fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("str") => return Value::String(text.into()),
        Some("null") => return Value::Null,
        Some("bool") => {
            if let Some(b) = yaml_bool(text) {
                return Value::Bool(b);
            }
        }
        Some("int" | "float") => {
            if let Some(n) = yaml_number(text) {
                return n;
            }
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.into());
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = yaml_bool(text) {
        return Value::Bool(b);
    }
    yaml_number(text).unwrap_or_else(|| Value::String(text.into()))
}

/// Jackson's YAML booleans: YAML 1.1's `y`/`n`, `yes`/`no`, `on`/`off`, `true`/`false`, any case.
fn yaml_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "true" => Some(true),
        "n" | "no" | "off" | "false" => Some(false),
        _ => None,
    }
}

fn yaml_number(text: &str) -> Option<Value> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let sign = |i: i128| if negative { -i } else { i };
    let int = |digits: &str, radix: u32| -> Option<Value> {
        let digits: String = digits.chars().filter(|c| *c != '_').collect();
        if digits.is_empty() {
            return None;
        }
        let magnitude = i128::from_str_radix(&digits, radix).ok()?;
        Some(match i64::try_from(sign(magnitude)) {
            Ok(i) => Value::from(i),
            #[allow(clippy::cast_precision_loss)]
            Err(_) => float(sign(magnitude) as f64),
        })
    };
    if let Some(hex) = body.strip_prefix("0x") {
        return int(hex, 16);
    }
    if let Some(bin) = body.strip_prefix("0b") {
        return int(bin, 2);
    }
    if let Some(oct) = body.strip_prefix("0o") {
        return int(oct, 8);
    }
    let bytes = body.as_bytes();
    if !bytes.is_empty()
        && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
        && bytes[0] != b'_'
    {
        if bytes.len() > 1 && bytes[0] == b'0' {
            return int(&body[1..], 8);
        }
        return int(body, 10);
    }
    // `[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?` with at least one digit.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.')?;
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !digits_ok(whole) || !digits_ok(fraction) || whole.starts_with('_') {
        return None;
    }
    if whole.is_empty() && !fraction.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(exp) = exponent {
        let exp_digits = exp.strip_prefix(['-', '+']).unwrap_or(exp);
        if exp_digits.is_empty() || !exp_digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    cleaned
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(float)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(json: &str) -> String {
        emit(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn scalars() {
        assert_eq!(yaml(r#""string""#), "string\n");
        assert_eq!(yaml("1"), "1\n");
        assert_eq!(yaml("1.123"), "1.123\n");
        assert_eq!(yaml("true"), "true\n");
        assert_eq!(
            yaml(r#""2013-09-08T16:19:00+02:00""#),
            "2013-09-08T16:19:00+02:00\n"
        );
        assert_eq!(yaml(r#""""#), "\"\"\n");
        assert_eq!(yaml(r#""true""#), "\"true\"\n");
        assert_eq!(yaml(r#""a: b""#), "\"a: b\"\n");
        assert_eq!(yaml(r#""@at""#), "'@at'\n");
        assert_eq!(yaml(r#"" lead""#), "' lead'\n");
        assert_eq!(yaml(r#""it's""#), "it's\n");
    }

    #[test]
    fn collections() {
        assert_eq!(
            yaml(r#"["string", 1, 1.123]"#),
            " - string\n - 1\n - 1.123\n"
        );
        assert_eq!(
            yaml(r#"{"string": "string", "int": 1, "float": 1.123}"#),
            "string: string\nint: 1\nfloat: 1.123\n"
        );
        assert_eq!(
            yaml(r#"{"a": {"b": [1, 2]}, "c": [], "d": {}, "e": null}"#),
            "a:\n  b:\n   - 1\n   - 2\nc: []\nd: {}\ne: null\n"
        );
        assert_eq!(yaml(r#"[{"a": 1, "b": 2}]"#), " -\n  a: 1\n  b: 2\n");
        assert_eq!(
            yaml(r#"{"1": "x", "no": "y"}"#),
            "\"1\": x\n\"no\": \"y\"\n"
        );
    }

    #[test]
    fn multiline_strings_are_literal_blocks() {
        assert_eq!(yaml(r#"{"s": "a\nb"}"#), "s: |-\n  a\n  b\n");
        assert_eq!(yaml(r#"{"s": "a\nb\n"}"#), "s: |\n  a\n  b\n");
        assert_eq!(yaml(r#""a\nb""#), "|-\n  a\n  b\n");
    }

    /// Outputs checked against `SnakeYAML`'s emitter driven with Jackson's style choices.
    #[test]
    fn quoting_like_snakeyaml() {
        assert_eq!(
            yaml(r#"{"lead":"  x\ny","trailsp":"a \nb","quotes":"it's \"q\"","hash":"a #b","dash":"- x","dash2":"-x","yes":"yes","num":"123","tilde":"~","uni":"héllo","tab":"a\tb","end ":"sp "}"#),
            "lead: |2-\n    x\n  y\ntrailsp: \"a \\nb\"\nquotes: it's \"q\"\nhash: \"a #b\"\ndash: '- x'\ndash2: -x\n\"yes\": \"yes\"\nnum: 123\ntilde: \"~\"\nuni: héllo\ntab: \"a\\tb\"\n'end ': 'sp '\n"
        );
        assert_eq!(
            yaml(r#"{"-k":1,"a b":2,"k: v":3,"long\nkey":4,"":5}"#),
            "\"-k\": 1\na b: 2\n'k: v': 3\n? \"long\\nkey\"\n: 4\n? \"\"\n: 5\n"
        );
        assert_eq!(
            yaml(r#"[{"a":1,"b":[1,2]},[1,[2,3]],{"c":{"d":{}}},[],{}]"#),
            " -\n  a: 1\n  b:\n   - 1\n   - 2\n -\n   - 1\n   -\n     - 2\n     - 3\n -\n  c:\n    d: {}\n - []\n - {}\n"
        );
    }

    #[test]
    fn reading() {
        let value = parse(
            "# comment\nstring: string\nint: 123\nbool: true\nfloat: 1.23\ninstant: \"1918-02-24T00:00:00Z\"\n'null':\nobject:\n  key: \"value\"\narray:\n  - string\nreference: &ref\n    key: reference\ndefault: *ref\nhex: 0x1F\nyes: on\n",
        )
        .unwrap();
        assert_eq!(value["int"], Value::from(123));
        assert_eq!(value["float"], float(1.23));
        assert_eq!(value["null"], Value::Null);
        assert_eq!(value["default"]["key"], Value::from("reference"));
        assert_eq!(value["hex"], Value::from(31));
        assert_eq!(value["yes"], Value::Bool(true));
        assert_eq!(value["instant"], Value::from("1918-02-24T00:00:00Z"));
    }
}
