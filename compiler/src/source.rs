//! Source files, byte spans and the line/column index every later stage reports with.

use std::path::{Path, PathBuf};

/// A half-open byte range `start..end` in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        // Files are read whole into memory; sizes beyond u32 are rejected by `SourceFile::new`.
        Span {
            start: to_u32(start),
            end: to_u32(end.max(start)),
        }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A 1-based line and column; the column counts characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// One flow file: its path, its text and an index of where each line starts.
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: Vec<u32>,
}

/// The largest text a `SourceFile` holds, whatever the configured limit (spans are `u32`).
pub const MAX_SOURCE_BYTES: usize = 1024 * 1024 * 1024;

/// The default limit on a flow file's size; `KFLOW_MAX_FLOW_MIB` sets another (1 to 1024).
pub const DEFAULT_MAX_FLOW_MIB: usize = 64;

/// The configured limit on a flow file's size, in bytes.
pub fn max_flow_bytes() -> usize {
    std::env::var("KFLOW_MAX_FLOW_MIB")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|mib| (1..=1024).contains(mib))
        .unwrap_or(DEFAULT_MAX_FLOW_MIB)
        * 1024
        * 1024
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: String) -> Self {
        let mut text = text;
        if text.len() > MAX_SOURCE_BYTES {
            // Callers check the size first; truncating at a char boundary keeps every span valid.
            let mut cut = MAX_SOURCE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| to_u32(i + 1)))
            .collect();
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }

    /// The 1-based line and character column of a byte offset.
    pub fn line_col(&self, offset: u32) -> LineCol {
        let offset = offset.min(to_u32(self.text.len()));
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line_index] as usize;
        let mut end = offset as usize;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let column = self.text[line_start..end].chars().count() + 1;
        LineCol {
            line: line_index + 1,
            column,
        }
    }

    /// The span of the whole 1-based line `line`, without its line break.
    pub fn line_span(&self, line: usize) -> Span {
        let start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0) as usize;
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        Span::new(start, end)
    }
}

/// Converts the character offsets the YAML parser reports into byte offsets.
pub(crate) struct CharToByte {
    /// Byte offset of every character, plus one past the end; empty when the text is ASCII.
    offsets: Vec<u32>,
    len: u32,
}

impl CharToByte {
    pub(crate) fn new(text: &str) -> Self {
        let offsets = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices()
                .map(|(i, _)| to_u32(i))
                .chain(std::iter::once(to_u32(text.len())))
                .collect()
        };
        CharToByte {
            offsets,
            len: to_u32(text.len()),
        }
    }

    pub(crate) fn byte(&self, char_index: usize) -> u32 {
        if self.offsets.is_empty() {
            to_u32(char_index).min(self.len)
        } else {
            self.offsets.get(char_index).copied().unwrap_or(self.len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let file = SourceFile::new("f.yml", "ab\nçd: x\n".to_string());
        assert_eq!(file.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(file.line_col(3), LineCol { line: 2, column: 1 });
        // 'd' follows a two-byte character.
        assert_eq!(file.line_col(5), LineCol { line: 2, column: 2 });
        assert_eq!(file.line_span(2), Span::new(3, 9));
    }

    #[test]
    fn char_offsets_become_byte_offsets() {
        let map = CharToByte::new("é:x");
        assert_eq!(map.byte(1), 2);
        assert_eq!(map.byte(9), 4);
    }
}
