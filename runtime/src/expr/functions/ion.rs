//! Reading Ion text for `fromIon` (Kestra's internal storage writes Ion): the first value of
//! the text as JSON. Timestamps, symbols, blobs and clobs become strings, decimals and floats
//! numbers, s-expressions lists; annotations are dropped.

use serde_json::{Map, Value};

use super::super::value::float;

pub(crate) fn parse(text: &str) -> Result<Value, String> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        pos: 0,
    };
    reader.skip_space()?;
    if reader.peek().is_none() {
        return Ok(Value::Null);
    }
    reader.value()
}

/// Every top-level value of the text (an Ion file of rows), as a list (`fromIon(…, allRows=true)`).
pub(crate) fn parse_all(text: &str) -> Result<Value, String> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        pos: 0,
    };
    let mut rows = Vec::new();
    loop {
        reader.skip_space()?;
        if reader.peek().is_none() {
            return Ok(Value::Array(rows));
        }
        rows.push(reader.value()?);
    }
}

struct Reader {
    chars: Vec<char>,
    pos: usize,
}

fn is_symbol_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn error<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at character {}", self.pos))
    }

    fn skip_space(&mut self) -> Result<(), String> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => self.pos += 1,
                (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                (Some('/'), Some('*')) => {
                    self.pos += 2;
                    while !(self.peek() == Some('*') && self.peek_at(1) == Some('/')) {
                        if self.peek().is_none() {
                            return self.error("unclosed comment");
                        }
                        self.pos += 1;
                    }
                    self.pos += 2;
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_space()?;
        let value = match self.peek() {
            None => return self.error("expected a value"),
            Some('{') if self.peek_at(1) == Some('{') => self.lob()?,
            Some('{') => self.structure()?,
            Some('[') => Value::Array(self.sequence(']')?),
            Some('(') => Value::Array(self.sequence(')')?),
            Some('"') => Value::String(self.quoted('"')?),
            Some('\'') if self.peek_at(1) == Some('\'') && self.peek_at(2) == Some('\'') => {
                Value::String(self.long_strings()?)
            }
            Some('\'') => Value::String(self.quoted('\'')?),
            Some(_) => self.atom()?,
        };
        self.skip_space()?;
        // `annotation::value`
        if self.peek() == Some(':') && self.peek_at(1) == Some(':') {
            self.pos += 2;
            return self.value();
        }
        Ok(value)
    }

    fn structure(&mut self) -> Result<Value, String> {
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.skip_space()?;
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Value::Object(map));
            }
            let key = match self.peek() {
                Some('"') => self.quoted('"')?,
                Some('\'') if self.peek_at(1) == Some('\'') && self.peek_at(2) == Some('\'') => {
                    self.long_strings()?
                }
                Some('\'') => self.quoted('\'')?,
                Some(c) if is_symbol_char(c) => self.word(),
                _ => return self.error("expected a field name"),
            };
            self.skip_space()?;
            if self.peek() != Some(':') {
                return self.error("expected `:` after a field name");
            }
            self.pos += 1;
            let value = self.value()?;
            map.insert(key, value);
            self.skip_space()?;
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                _ => return self.error("expected `,` or `}`"),
            }
        }
    }

    fn sequence(&mut self, close: char) -> Result<Vec<Value>, String> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space()?;
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(items);
            }
            if close == ')'
                && self
                    .peek()
                    .is_some_and(|c| "!#%&*+-./;<=>?@^`|~".contains(c))
            {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| "!#%&*+-./;<=>?@^`|~".contains(c))
                {
                    self.pos += 1;
                }
                let operator: String = self.chars[start..self.pos].iter().collect();
                if operator != "+" && operator != "-"
                    || !self.peek().is_some_and(|c| c.is_ascii_alphanumeric())
                {
                    items.push(Value::String(operator));
                    continue;
                }
                self.pos = start;
            }
            items.push(self.value()?);
            self.skip_space()?;
            if close == ']' {
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(']') => {}
                    _ => return self.error("expected `,` or `]`"),
                }
            }
        }
    }

    fn quoted(&mut self, quote: char) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.error("unclosed string"),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `'''a''' '''b'''`: adjacent long strings are one string.
    fn long_strings(&mut self) -> Result<String, String> {
        let mut out = String::new();
        while self.peek() == Some('\'')
            && self.peek_at(1) == Some('\'')
            && self.peek_at(2) == Some('\'')
        {
            self.pos += 3;
            loop {
                match self.peek() {
                    None => return self.error("unclosed long string"),
                    Some('\'')
                        if self.peek_at(1) == Some('\'') && self.peek_at(2) == Some('\'') =>
                    {
                        self.pos += 3;
                        break;
                    }
                    Some('\\') => {
                        self.pos += 1;
                        self.escape(&mut out)?;
                    }
                    Some(c) => {
                        out.push(c);
                        self.pos += 1;
                    }
                }
            }
            let after = self.pos;
            self.skip_space()?;
            if !(self.peek() == Some('\'')
                && self.peek_at(1) == Some('\'')
                && self.peek_at(2) == Some('\''))
            {
                self.pos = after;
            }
        }
        Ok(out)
    }

    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        let Some(c) = self.peek() else {
            return self.error("unfinished escape");
        };
        self.pos += 1;
        let hex = |reader: &mut Self, n: usize| -> Result<char, String> {
            let digits: String = reader.chars.iter().skip(reader.pos).take(n).collect();
            reader.pos += n;
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("invalid escape \\{c}{digits}"))
        };
        match c {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            'a' => out.push('\u{07}'),
            'b' => out.push('\u{08}'),
            'v' => out.push('\u{0B}'),
            'f' => out.push('\u{0C}'),
            'x' => out.push(hex(self, 2)?),
            'u' => out.push(hex(self, 4)?),
            'U' => out.push(hex(self, 8)?),
            '\n' => {}
            other => out.push(other),
        }
        Ok(())
    }

    /// `{{ base64 }}` (a blob, kept as its base64 text) or `{{ "text" }}` (a clob).
    fn lob(&mut self) -> Result<Value, String> {
        self.pos += 2;
        self.skip_space()?;
        let text = if self.peek() == Some('"') {
            self.quoted('"')?
        } else if self.peek() == Some('\'') {
            self.long_strings()?
        } else {
            let mut text = String::new();
            while let Some(c) = self.peek().filter(|c| *c != '}') {
                if !c.is_whitespace() {
                    text.push(c);
                }
                self.pos += 1;
            }
            text
        };
        self.skip_space()?;
        if self.peek() != Some('}') || self.peek_at(1) != Some('}') {
            return self.error("expected `}}`");
        }
        self.pos += 2;
        Ok(Value::String(text))
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_symbol_char) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// Keywords, numbers, timestamps and identifier symbols.
    fn atom(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| is_symbol_char(c) || "+-.:".contains(c))
        {
            if self.peek() == Some(':') && self.peek_at(1) == Some(':') {
                break;
            }
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        if word.is_empty() {
            return self.error("unexpected character");
        }
        if word == "null" || word.starts_with("null.") {
            return Ok(Value::Null);
        }
        match word.as_str() {
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            "nan" | "+inf" | "-inf" => return Ok(Value::String(word)),
            _ => {}
        }
        let first = word.chars().next().unwrap_or(' ');
        if !(first.is_ascii_digit() || (first == '-' && word.len() > 1)) {
            return Ok(Value::String(word));
        }
        let unsigned = word.trim_start_matches('-');
        let negative = word.starts_with('-');
        let clean: String = unsigned.chars().filter(|c| *c != '_').collect();
        let radix = if clean.starts_with("0x") || clean.starts_with("0X") {
            Some((16, &clean[2..]))
        } else if clean.starts_with("0b") || clean.starts_with("0B") {
            Some((2, &clean[2..]))
        } else if clean.bytes().all(|b| b.is_ascii_digit()) {
            Some((10, clean.as_str()))
        } else {
            None
        };
        if let Some((radix, digits)) = radix {
            let magnitude = i128::from_str_radix(digits, radix)
                .map_err(|e| format!("invalid integer `{word}`: {e}"))?;
            let value = if negative { -magnitude } else { magnitude };
            return Ok(match i64::try_from(value) {
                Ok(i) => Value::from(i),
                #[allow(clippy::cast_precision_loss)]
                Err(_) => float(value as f64),
            });
        }
        // A timestamp: `2024-04-21T23:00:00.000Z`, `2024-04-21`, `2024T`.
        if clean.len() >= 5 && clean[4..].starts_with(['-', 'T']) && !negative {
            return Ok(Value::String(word));
        }
        // Decimals (`1.5`, `1.5d-3`) and floats (`1.5e3`).
        let number = clean.replace(['d', 'D'], "e");
        let f: f64 = number
            .parse()
            .map_err(|_| format!("invalid value `{word}`"))?;
        Ok(float(if negative { -f } else { f }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ion() {
        let value =
            parse("{date:2024-04-21T23:00:00.000Z, title:\"Main_Page\",views:109787}").unwrap();
        assert_eq!(value["title"], Value::from("Main_Page"));
        assert_eq!(value["views"], Value::from(109_787));
        assert_eq!(value["date"], Value::from("2024-04-21T23:00:00.000Z"));
        let value = parse("ann::{'my key': [1, 2.5e0, 1.5d0, null.int, 'sym', (a + b)], // c\n s: '''a''' '''b''', b: {{ aGk= }}}").unwrap();
        assert_eq!(
            value.to_string(),
            r#"{"my key":[1,2.5,1.5,null,"sym",["a","+","b"]],"s":"ab","b":"aGk="}"#
        );
        assert!(parse("{not: ion").is_err());
        assert_eq!(parse("").unwrap(), Value::Null);
    }
}
