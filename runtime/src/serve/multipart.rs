//! `multipart/form-data` bodies (RFC 7578), read from a body already received in full (so
//! bounded by `--max-body`): each part's name, file name, content type and bytes.

use memchr::memmem;

/// The most parts taken from one body.
const MAX_PARTS: usize = 1_000;
/// The longest head (its header lines) a part may have.
const MAX_PART_HEAD: usize = 16 * 1024;

/// One part of the body.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Part<'a> {
    pub name: String,
    /// Set for a file; a part without one is a form field.
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: &'a [u8],
}

/// The boundary of a `multipart/form-data` content type, or `None` for another type.
pub(super) fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let essence = params.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

/// The parts of `body`, in order; an error naming what is malformed.
pub(super) fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, String> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let start = if body.starts_with(delimiter.as_bytes()) {
        0
    } else {
        memmem::find(body, next_delimiter.as_bytes()).ok_or("no boundary in the body")? + 2
    };
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("a boundary not followed by a line end")?;
        if parts.len() == MAX_PARTS {
            return Err(format!("more than {MAX_PARTS} parts"));
        }
        let head_end = memmem::find(&rest[..rest.len().min(MAX_PART_HEAD + 4)], b"\r\n\r\n")
            .ok_or("a part's head does not end (or is over 16 KiB)")?;
        let head =
            std::str::from_utf8(&rest[..head_end]).map_err(|_| "a part's head is not UTF-8")?;
        rest = &rest[head_end + 4..];
        let data_end = memmem::find(rest, next_delimiter.as_bytes())
            .ok_or("the body ends inside a part (no closing boundary)")?;
        let mut part = Part {
            name: String::new(),
            file_name: None,
            content_type: None,
            data: &rest[..data_end],
        };
        for line in head.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').skip(1) {
                    if let Some((key, value)) = param.split_once('=') {
                        let value = value.trim().trim_matches('"').to_string();
                        match key.trim() {
                            "name" => part.name = value,
                            "filename" => part.file_name = Some(value),
                            _ => {}
                        }
                    }
                }
            } else if name.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.trim().to_string());
            }
        }
        if part.name.is_empty() {
            return Err("a part has no name (Content-Disposition: form-data; name=...)".into());
        }
        parts.push(part);
        rest = &rest[data_end + next_delimiter.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_files_are_read_in_order() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"count\"\r\n\r\n9\r\n--XyZ\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a b.csv\"\r\nContent-Type: text/csv\r\n\r\nx,y\r\n1,2\r\n--XyZ--\r\n";
        let ct = "multipart/form-data; boundary=\"XyZ\"";
        let parts = parse(body, &boundary(ct).unwrap()).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "count");
        assert_eq!(parts[0].data, b"9");
        assert_eq!(parts[0].file_name, None);
        assert_eq!(parts[1].file_name.as_deref(), Some("a b.csv"));
        assert_eq!(parts[1].content_type.as_deref(), Some("text/csv"));
        assert_eq!(parts[1].data, b"x,y\r\n1,2");
    }

    #[test]
    fn malformed_bodies_are_refused_with_a_reason() {
        assert_eq!(boundary("application/json"), None);
        assert!(parse(b"nothing here", "b").is_err());
        let unterminated = b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nvalue";
        assert!(parse(unterminated, "b")
            .unwrap_err()
            .contains("ends inside"));
        let nameless = b"--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--";
        assert!(parse(nameless, "b").unwrap_err().contains("no name"));
        let mut many = Vec::new();
        for _ in 0..=MAX_PARTS {
            many.extend_from_slice(
                b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n",
            );
        }
        many.extend_from_slice(b"--b--");
        assert!(parse(&many, "b").unwrap_err().contains("more than"));
    }
}
