//! The filters, functions and tests, one family per file. `library` indexes them by name.

use serde_json::Value;

use super::library::{FilterDef, FunctionDef, Kind, Param, Signature, TestDef};
use super::value::describe;

mod collections;
mod context;
mod core;
mod data;

pub use data::to_ion;
mod dates;
mod hashes;
pub(super) mod ion;
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
        reads_context: false,
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

/// Standard base64 with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Standard or URL-safe base64, padding optional; whitespace is ignored (as Java's MIME and
/// URL decoders together accept it).
pub(crate) fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let standard: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    LENIENT.decode(standard).map_err(|e| e.to_string())
}
