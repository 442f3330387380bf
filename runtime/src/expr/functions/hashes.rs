//! Digests of a string's UTF-8 bytes as lowercase hex: Kestra's `md5`, `sha1`, `sha512` and
//! Pebble's `sha256`.

use md5::Md5;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::super::library::{FilterDef, Kind};
use super::super::value::describe;
use super::pure;

const STRING: &[Kind] = &[Kind::String];

pub(in crate::expr) static FILTERS: &[FilterDef] = &[
    FilterDef {
        signature: pure("md5", &[], STRING, Kind::String),
        run: |_, input, _| hash::<Md5>(&input),
    },
    FilterDef {
        signature: pure("sha1", &[], STRING, Kind::String),
        run: |_, input, _| hash::<Sha1>(&input),
    },
    FilterDef {
        signature: pure("sha256", &[], STRING, Kind::String),
        run: |_, input, _| hash::<Sha256>(&input),
    },
    FilterDef {
        signature: pure("sha512", &[], STRING, Kind::String),
        run: |_, input, _| hash::<Sha512>(&input),
    },
];

fn hash<D: Digest>(input: &Value) -> Result<Value, String> {
    match input {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Ok(Value::String(hex::encode(D::digest(s.as_bytes())))),
        other => Err(format!("needs a string to hash, not {}", describe(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let hello = Value::String("hello".into());
        assert_eq!(
            hash::<Md5>(&hello).unwrap(),
            Value::String("5d41402abc4b2a76b9719d911017c592".into())
        );
        assert_eq!(
            hash::<Sha1>(&hello).unwrap(),
            Value::String("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d".into())
        );
    }
}
