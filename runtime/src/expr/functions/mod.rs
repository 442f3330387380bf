//! The filters, functions and tests, one family per file. `library` indexes them by name.

use serde_json::Value;

use super::library::{FilterDef, FunctionDef, Kind, Param, Signature, TestDef};
use super::value::describe;

mod collections;
mod context;
mod core;
mod data;
mod dates;
mod hashes;
mod ion;
mod strings;
pub(super) mod yaml;

pub(super) static FILTERS: &[&[FilterDef]] = &[
    core::FILTERS,
    strings::FILTERS,
    collections::FILTERS,
    dates::FILTERS,
    data::FILTERS,
    hashes::FILTERS,
];
pub(super) static FUNCTIONS: &[&[FunctionDef]] = &[
    core::FUNCTIONS,
    dates::FUNCTIONS,
    data::FUNCTIONS,
    context::FUNCTIONS,
];
pub(super) static TESTS: &[&[TestDef]] = &[core::TESTS, data::TESTS];

/// A pure signature: the result depends on the arguments alone.
pub(crate) const fn pure(
    name: &'static str,
    params: &'static [Param],
    input: &'static [Kind],
    returns: Kind,
) -> Signature {
    let mut signature = impure(name, params, input, returns);
    signature.impure = false;
    signature
}

/// A signature whose result depends on the clock, randomness, secrets, the KV store or files.
pub(crate) const fn impure(
    name: &'static str,
    params: &'static [Param],
    input: &'static [Kind],
    returns: Kind,
) -> Signature {
    Signature {
        name,
        params,
        input,
        returns,
        impure: true,
    }
}

/// Java's `String.valueOf(input)` for the filters that call `input.toString()`: strings as they
/// are, numbers and booleans as Java prints them, collections as `[a, 1]` and `{a=1}`.
pub(crate) fn java_string(input: &Value) -> String {
    let mut out = String::new();
    super::value::java_string(input, &mut out);
    out
}

/// The input as a string, or an error naming what it was.
pub(crate) fn input_str<'v>(input: &'v Value, what: &str) -> Result<&'v str, String> {
    match input {
        Value::String(s) => Ok(s),
        other => Err(format!("{what} needs a string, not {}", describe(other))),
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard or URL-safe base64, padding optional; whitespace is ignored.
pub(crate) fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0;
    for ch in text.chars().filter(|c| !c.is_whitespace()) {
        if ch == '=' {
            break;
        }
        let value = match ch {
            'A'..='Z' => u32::from(ch) - u32::from('A'),
            'a'..='z' => u32::from(ch) - u32::from('a') + 26,
            '0'..='9' => u32::from(ch) - u32::from('0') + 52,
            '+' | '-' => 62,
            '/' | '_' => 63,
            other => return Err(format!("invalid character `{other}`")),
        };
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xFF).unwrap_or(0));
        }
    }
    Ok(out)
}
