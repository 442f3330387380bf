//! Functions that reach past their arguments: into the host (`secret`, `kv`, `read`,
//! `fileSize`, `fileExists`, `isFileEmpty`, `errorLogs`), the evaluator (`render`,
//! `renderOnce`, `printContext`/`fetchContext`, `currentEachOutput`, `fileURI`), or randomness
//! (`uuid`, `id`, `randomInt`, `encrypt`); and `decrypt`.

use aes_gcm::aead::{Aead, KeyInit};
use serde_json::{Map, Value};

use super::super::library::{opt, req, Args, FunctionDef, Kind};
use super::super::value::describe;
use super::{base64_decode, base64_encode, impure, pure};
use crate::expr::eval::Evaluator;

const PATH: &[super::super::library::Param] = &[req("path", Kind::String)];

pub(in crate::expr) static FUNCTIONS: &[FunctionDef] = &[
    FunctionDef {
        // `namespace` (Kestra 1.0) reads another namespace's secret; the host decides.
        signature: impure(
            "secret",
            &[req("key", Kind::String), opt("namespace", Kind::String)],
            &[],
            Kind::String,
        ),
        run: |evaluator, args| {
            let key = args.str(0)?.ok_or("argument `key` must not be null")?;
            evaluator.host.secret(key).map(Value::String)
        },
    },
    FunctionDef {
        signature: impure(
            "kv",
            &[
                req("key", Kind::String),
                opt("namespace", Kind::String),
                opt("errorOnMissing", Kind::Boolean),
            ],
            &[],
            Kind::Any,
        ),
        run: kv,
    },
    FunctionDef {
        signature: impure("read", PATH, &[], Kind::String),
        run: |evaluator, args| {
            let path = path_arg(args)?;
            evaluator.host.read(path).map(Value::String)
        },
    },
    FunctionDef {
        signature: impure("fileSize", PATH, &[], Kind::Integer),
        run: |evaluator, args| {
            let path = path_arg(args)?;
            evaluator.host.file_size(path).map(Value::from)
        },
    },
    FunctionDef {
        signature: impure("fileExists", PATH, &[], Kind::Boolean),
        run: |evaluator, args| {
            let path = path_arg(args)?;
            evaluator.host.file_exists(path).map(Value::Bool)
        },
    },
    FunctionDef {
        signature: impure("isFileEmpty", PATH, &[], Kind::Boolean),
        run: |evaluator, args| {
            let path = path_arg(args)?;
            evaluator
                .host
                .file_size(path)
                .map(|size| Value::Bool(size == 0))
        },
    },
    FunctionDef {
        signature: pure("fileURI", PATH, &[], Kind::String).reading_context(),
        run: file_uri,
    },
    FunctionDef {
        signature: impure("errorLogs", &[], &[], Kind::List),
        run: |evaluator, _| evaluator.host.error_logs(),
    },
    FunctionDef {
        // What it renders may call secret(), now()…: impure, to be safe.
        signature: impure(
            "render",
            &[req("toRender", Kind::Any), opt("recursive", Kind::Boolean)],
            &[],
            Kind::Any,
        )
        .reading_context(),
        run: |evaluator, args| {
            let recursive = match args.get(1) {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(format!(
                        "argument `recursive` must be a boolean, not {}",
                        describe(other)
                    ))
                }
            };
            render_value(
                evaluator,
                args.get(0).cloned().unwrap_or(Value::Null),
                recursive,
            )
        },
    },
    FunctionDef {
        signature: impure("renderOnce", &[req("toRender", Kind::Any)], &[], Kind::Any)
            .reading_context(),
        run: |evaluator, args| {
            render_value(
                evaluator,
                args.get(0).cloned().unwrap_or(Value::Null),
                false,
            )
        },
    },
    FunctionDef {
        signature: pure("printContext", &[], &[], Kind::Map).reading_context(),
        run: |evaluator, _| Ok(Value::Object(evaluator.context())),
    },
    FunctionDef {
        signature: pure("fetchContext", &[], &[], Kind::Map).reading_context(),
        run: |evaluator, _| Ok(Value::Object(evaluator.context())),
    },
    FunctionDef {
        signature: pure(
            "currentEachOutput",
            &[req("outputs", Kind::Map)],
            &[],
            Kind::Any,
        )
        .reading_context(),
        run: current_each_output,
    },
    FunctionDef {
        signature: impure("uuid", &[], &[], Kind::String),
        run: |_, _| uuid_v4().map(|bytes| Value::String(uuid_text(&bytes))),
    },
    FunctionDef {
        signature: impure("id", &[], &[], Kind::String),
        run: |_, _| uuid_v4().map(|bytes| Value::String(friendly_id(&bytes))),
    },
    FunctionDef {
        signature: impure(
            "randomInt",
            &[req("lower", Kind::Integer), req("upper", Kind::Integer)],
            &[],
            Kind::Integer,
        ),
        run: random_int,
    },
    FunctionDef {
        signature: impure(
            "encrypt",
            &[req("key", Kind::String), req("plaintext", Kind::String)],
            &[],
            Kind::String,
        ),
        run: encrypt,
    },
    FunctionDef {
        signature: pure(
            "decrypt",
            &[req("key", Kind::String), req("encrypted", Kind::String)],
            &[],
            Kind::String,
        ),
        run: decrypt,
    },
];

fn path_arg(args: &Args) -> Result<&str, String> {
    args.str(0)?
        .ok_or_else(|| "argument `path` must not be null".to_string())
}

fn kv(evaluator: &mut Evaluator, args: &Args) -> Result<Value, String> {
    let key = args.str(0)?.ok_or("argument `key` must not be null")?;
    let namespace = args.str(1)?;
    // `true` by default since Kestra 0.22.
    let error_on_missing = args.bool(2)?.unwrap_or(true);
    match evaluator.host.kv(namespace, key)? {
        Some(value) => Ok(value),
        None if error_on_missing => Err(match namespace {
            Some(ns) => format!("the key '{key}' does not exist in the namespace '{ns}'"),
            None => format!("the key '{key}' does not exist in the flow's namespace"),
        }),
        None => Ok(Value::Null),
    }
}

/// `kestra:///<namespace as folders>/_files/<path>`, the URI of a namespace file.
fn file_uri(evaluator: &mut Evaluator, args: &Args) -> Result<Value, String> {
    let path = path_arg(args)?;
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.contains("../") {
        return Err("the path must not contain '../'".into());
    }
    let namespace = evaluator
        .variable("flow")
        .and_then(|flow| flow.get("namespace"))
        .and_then(Value::as_str)
        .ok_or("needs the flow's namespace (`flow.namespace`)")?;
    Ok(Value::String(format!(
        "kestra:///{}/_files/{path}",
        namespace.replace('.', "/")
    )))
}

/// Kestra renders at most this many times before deciding a value renders itself forever.
const MAX_RENDERINGS: usize = 100;

/// Kestra's `VariableRenderer.renderObject`: strings are rendered (again and again until
/// nothing changes when `recursive`), maps and lists element by element (keys too), other
/// values as they are.
fn render_value(evaluator: &mut Evaluator, value: Value, recursive: bool) -> Result<Value, String> {
    match value {
        Value::String(source) => {
            let mut current = evaluator.render_nested(&source)?;
            if recursive {
                let mut previous = source;
                let mut count = 0;
                while current != previous {
                    count += 1;
                    if count > MAX_RENDERINGS {
                        return Err(
                            "Too many rendering attempts (does a value render itself?)".into()
                        );
                    }
                    previous = current;
                    current = evaluator.render_nested(&previous)?;
                }
            }
            Ok(Value::String(current))
        }
        Value::Array(items) => items
            .into_iter()
            .map(|item| render_value(evaluator, item, recursive))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let key = match render_value(evaluator, Value::String(key), recursive)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, render_value(evaluator, item, recursive)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other),
    }
}

/// Kestra's `currentEachOutput(outputs)`: walk the outputs of a task inside `ForEach` loops
/// down by each enclosing loop's current value (`parents`, outermost first) and then by this
/// task run's value.
fn current_each_output(evaluator: &mut Evaluator, args: &Args) -> Result<Value, String> {
    let mut outputs = match args.get(0) {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(other) => {
            return Err(format!(
                "argument `outputs` must be a map, not {}",
                describe(other)
            ))
        }
        None => return Err("argument `outputs` is required".into()),
    };
    let key_of = |taskrun: Option<&Value>| -> Option<String> {
        match taskrun?.get("value")? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(super::java_string(other)),
        }
    };
    // The loop values from the outermost in: parents without a value (outside any loop) are
    // skipped, and a flowable inside a loop repeats its loop's value, which counts once. (Two
    // nested loops over the same value with a flowable between them are read as one level.)
    let mut path: Vec<String> = Vec::new();
    if let Some(Value::Array(parents)) = evaluator.variable("parents") {
        for parent in parents.iter().rev() {
            if let Some(key) = key_of(parent.get("taskrun")) {
                if path.last() != Some(&key) {
                    path.push(key);
                }
            }
        }
    }
    let key = key_of(evaluator.variable("taskrun"))
        .ok_or("needs the current task run's value (`taskrun.value`)")?;
    if path.last() != Some(&key) {
        path.push(key);
    }
    for key in path {
        outputs = outputs.get(&key).cloned().unwrap_or(Value::Null);
    }
    Ok(outputs)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness available: {e}"))?;
    Ok(bytes)
}

/// A random (version 4) UUID.
fn uuid_v4() -> Result<[u8; 16], String> {
    let mut bytes = random_bytes::<16>()?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Ok(bytes)
}

fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Kestra's ids (`FriendlyId`): the UUID's 128 bits in base 62.
fn friendly_id(bytes: &[u8; 16]) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = u128::from_be_bytes(*bytes);
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[usize::try_from(n % 62).unwrap_or(0)]);
        n /= 62;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// `randomInt(lower, upper)`: Kestra's `floor(random · (upper − lower)) + lower`, so `upper`
/// itself is never drawn unless it equals `lower`.
fn random_int(_: &mut Evaluator, args: &Args) -> Result<Value, String> {
    let integer = |index: usize, name: &str| -> Result<i64, String> {
        match args.get(index) {
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().unwrap_or(0)),
            Some(other) => Err(format!(
                "argument `{name}` must be an integer, not {}",
                describe(other)
            )),
            None => Err(format!("argument `{name}` is required")),
        }
    };
    let lower = integer(0, "lower")?;
    let upper = integer(1, "upper")?;
    if upper < lower {
        return Err(format!("upper ({upper}) is less than lower ({lower})"));
    }
    let range = u64::try_from(i128::from(upper) - i128::from(lower)).unwrap_or(u64::MAX);
    if range == 0 {
        return Ok(Value::from(lower));
    }
    let draw = u64::from_le_bytes(random_bytes::<8>()?) % range;
    let value = i128::from(lower) + i128::from(draw);
    Ok(Value::from(i64::try_from(value).unwrap_or(lower)))
}

type Aes192Gcm = aes_gcm::AesGcm<aes_gcm::aes::Aes192, aes_gcm::aes::cipher::consts::U12>;

/// AES-GCM with a 12-byte IV put before the ciphertext, all in base64, as Kestra's
/// `EncryptionService`; the key is base64 too (16, 24 or 32 bytes).
fn encrypt(_: &mut Evaluator, args: &Args) -> Result<Value, String> {
    let key = args.str(0)?.ok_or("argument `key` must not be null")?;
    let plaintext = match args.str(1)? {
        None => return Ok(Value::Null),
        Some("") => return Ok(Value::String(String::new())),
        Some(text) => text,
    };
    let key = aes_key(key)?;
    let iv = random_bytes::<12>()?;
    let sealed = match key.len() {
        16 => seal::<aes_gcm::Aes128Gcm>(&key, &iv, plaintext.as_bytes()),
        24 => seal::<Aes192Gcm>(&key, &iv, plaintext.as_bytes()),
        _ => seal::<aes_gcm::Aes256Gcm>(&key, &iv, plaintext.as_bytes()),
    }?;
    let mut out = iv.to_vec();
    out.extend(sealed);
    Ok(Value::String(base64_encode(&out)))
}

fn decrypt(_: &mut Evaluator, args: &Args) -> Result<Value, String> {
    let key = args.str(0)?.ok_or("argument `key` must not be null")?;
    let encrypted = match args.str(1)? {
        None => return Ok(Value::Null),
        Some("") => return Ok(Value::String(String::new())),
        Some(text) => text,
    };
    let key = aes_key(key)?;
    let bytes =
        base64_decode(encrypted).map_err(|e| format!("the encrypted text is not base64: {e}"))?;
    if bytes.len() < 12 + 16 {
        return Err("the encrypted text is too short".into());
    }
    let (iv, sealed) = bytes.split_at(12);
    let plain = match key.len() {
        16 => open::<aes_gcm::Aes128Gcm>(&key, iv, sealed),
        24 => open::<Aes192Gcm>(&key, iv, sealed),
        _ => open::<aes_gcm::Aes256Gcm>(&key, iv, sealed),
    }?;
    String::from_utf8(plain)
        .map(Value::String)
        .map_err(|_| "the decrypted bytes are not UTF-8 text".to_string())
}

fn aes_key(key: &str) -> Result<Vec<u8>, String> {
    let bytes = base64_decode(key).map_err(|e| format!("the key is not base64: {e}"))?;
    if matches!(bytes.len(), 16 | 24 | 32) {
        Ok(bytes)
    } else {
        Err(format!(
            "the key must be 16, 24 or 32 bytes once base64-decoded, not {}",
            bytes.len()
        ))
    }
}

fn seal<C: Aead + KeyInit>(key: &[u8], iv: &[u8], plain: &[u8]) -> Result<Vec<u8>, String> {
    let cipher = C::new_from_slice(key).map_err(|_| "invalid key length".to_string())?;
    let nonce = aes_gcm::aead::Nonce::<C>::try_from(iv).map_err(|_| "invalid IV".to_string())?;
    cipher
        .encrypt(&nonce, plain)
        .map_err(|_| "encryption failed".to_string())
}

fn open<C: Aead + KeyInit>(key: &[u8], iv: &[u8], sealed: &[u8]) -> Result<Vec<u8>, String> {
    let cipher = C::new_from_slice(key).map_err(|_| "invalid key length".to_string())?;
    let nonce = aes_gcm::aead::Nonce::<C>::try_from(iv).map_err(|_| "invalid IV".to_string())?;
    cipher
        .decrypt(&nonce, sealed)
        .map_err(|_| "decryption failed: wrong key or altered text".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let bytes = [0xffu8; 16];
        assert_eq!(friendly_id(&bytes), "7n42DGM5Tflk9n8mt7Fhc7");
        let text = uuid_text(&uuid_v4().unwrap());
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
    }
}
