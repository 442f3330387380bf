//! Every filter, function and test the dialect knows: its signature (read by the compiler's
//! type checker) and its implementation (run by the evaluator), side by side so they cannot
//! drift apart. The families live in `functions/`, one file each.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::eval::Evaluator;
use super::functions;
use super::value::describe;

/// The shape of a value, as far as signatures need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Any,
    String,
    Integer,
    /// Any number, integral or not.
    Number,
    Boolean,
    List,
    Map,
    /// A date: an ISO-8601 string, or epoch seconds/millis as a number.
    Date,
    /// The result has the input's type (`sort`, `reverse`, `slice`).
    Input,
    Null,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Any => "any value",
            Kind::String => "a string",
            Kind::Integer => "an integer",
            Kind::Number => "a number",
            Kind::Boolean => "a boolean",
            Kind::List => "a list",
            Kind::Map => "a map",
            Kind::Date => "a date",
            Kind::Input => "the input's type",
            Kind::Null => "null",
        }
    }
}

/// One parameter: positional by order, or `name=value`.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

pub const fn req(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        kind,
        required: true,
    }
}

pub const fn opt(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        kind,
        required: false,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Signature {
    pub name: &'static str,
    pub params: &'static [Param],
    /// What the input (left of `|` or `is`) may be; empty for functions.
    pub input: &'static [Kind],
    pub returns: Kind,
    /// Whether the result depends on the outside world (clock, secrets, files, KV).
    pub impure: bool,
    /// Whether it reads variables its arguments do not name (`render()` renders text that may
    /// read any, `currentEachOutput()` reads `parents`): the executor then gives the template
    /// the whole context instead of the roots it names.
    pub reads_context: bool,
}

impl Signature {
    #[must_use]
    pub const fn reading_context(mut self) -> Signature {
        self.reads_context = true;
        self
    }
}

pub type FilterFn = fn(&mut Evaluator, Value, &Args) -> Result<Value, String>;
pub type FunctionFn = fn(&mut Evaluator, &Args) -> Result<Value, String>;
/// Tests get `None` for an undefined input (only `defined` sees that).
pub type TestFn = fn(Option<&Value>, &Args) -> Result<bool, String>;

pub struct FilterDef {
    pub signature: Signature,
    pub run: FilterFn,
}

pub struct FunctionDef {
    pub signature: Signature,
    pub run: FunctionFn,
}

pub struct TestDef {
    pub signature: Signature,
    pub run: TestFn,
}

struct Registry {
    filters: HashMap<&'static str, &'static FilterDef>,
    functions: HashMap<&'static str, &'static FunctionDef>,
    tests: HashMap<&'static str, &'static TestDef>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        filters: functions::FILTERS
            .iter()
            .flat_map(|family| family.iter())
            .map(|def| (def.signature.name, def))
            .collect(),
        functions: functions::FUNCTIONS
            .iter()
            .flat_map(|family| family.iter())
            .map(|def| (def.signature.name, def))
            .collect(),
        tests: functions::TESTS
            .iter()
            .flat_map(|family| family.iter())
            .map(|def| (def.signature.name, def))
            .collect(),
    })
}

pub fn filter(name: &str) -> Option<&'static FilterDef> {
    registry().filters.get(name).copied()
}

pub fn function(name: &str) -> Option<&'static FunctionDef> {
    registry().functions.get(name).copied()
}

pub fn test(name: &str) -> Option<&'static TestDef> {
    registry().tests.get(name).copied()
}

/// All names, sorted, for "did you mean" help.
pub fn filter_names() -> Vec<&'static str> {
    sorted(registry().filters.keys().copied())
}

pub fn function_names() -> Vec<&'static str> {
    sorted(registry().functions.keys().copied())
}

pub fn test_names() -> Vec<&'static str> {
    sorted(registry().tests.keys().copied())
}

fn sorted(names: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    let mut names: Vec<_> = names.collect();
    names.sort_unstable();
    names
}

/// Kestra's filters without parameters; unlike Pebble's they reject arguments.
const KESTRA_NO_ARGUMENTS: &[&str] = &[
    "flatten",
    "keys",
    "values",
    "md5",
    "sha1",
    "sha512",
    "slugify",
    "toJson",
    "json",
    "toIon",
    "urldecode",
    "className",
    "distinct",
];

/// Arguments bound to a signature's parameters, by position or by name.
#[derive(Debug, Default)]
pub struct Args {
    values: Vec<Option<Value>>,
    names: &'static [Param],
}

impl Args {
    pub fn bind(signature: Signature, given: Vec<(Option<String>, Value)>) -> Result<Args, String> {
        let params = signature.params;
        // Pebble ignores the arguments of a filter that declares none (`'a' | upper(x=1)`),
        // except Kestra's own filters, which declare an empty list and refuse them.
        if params.is_empty() && !KESTRA_NO_ARGUMENTS.contains(&signature.name) {
            return Ok(Args::default());
        }
        let mut values: Vec<Option<Value>> = vec![None; params.len()];
        let mut next = 0;
        for (name, value) in given {
            let slot = match name {
                None => {
                    if next >= params.len() {
                        return Err(too_many(signature));
                    }
                    next += 1;
                    next - 1
                }
                Some(name) => params
                    .iter()
                    .position(|p| p.name == name)
                    .ok_or_else(|| unknown_argument(signature, &name))?,
            };
            values[slot] = Some(value);
        }
        if let Some(missing) = params
            .iter()
            .zip(&values)
            .find(|(p, v)| p.required && v.is_none())
        {
            return Err(format!("missing argument `{}`", missing.0.name));
        }
        Ok(Args {
            values,
            names: params,
        })
    }

    pub fn get(&self, index: usize) -> Option<&Value> {
        self.values.get(index).and_then(Option::as_ref)
    }

    /// A string argument; `None` when absent or null.
    pub fn str(&self, index: usize) -> Result<Option<&str>, String> {
        match self.get(index) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong(index, "a string", other)),
        }
    }

    pub fn int(&self, index: usize) -> Result<Option<i64>, String> {
        match self.get(index) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(float_to_i64))
                .map(Some)
                .ok_or_else(|| self.wrong(index, "an integer", &Value::Number(n.clone()))),
            Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
                Ok(s.trim().parse::<i64>().ok())
            }
            Some(other) => Err(self.wrong(index, "an integer", other)),
        }
    }

    pub fn bool(&self, index: usize) -> Result<Option<bool>, String> {
        match self.get(index) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong(index, "a boolean", other)),
        }
    }

    fn wrong(&self, index: usize, expected: &str, got: &Value) -> String {
        let name = self.names.get(index).map_or("?", |p| p.name);
        format!(
            "argument `{name}` must be {expected}, not {}",
            describe(got)
        )
    }
}

#[allow(clippy::cast_possible_truncation)]
fn float_to_i64(f: f64) -> i64 {
    f as i64
}

fn too_many(signature: Signature) -> String {
    let n = signature.params.len();
    if n == 0 {
        "takes no arguments".to_string()
    } else {
        let names: Vec<&str> = signature.params.iter().map(|p| p.name).collect();
        format!(
            "takes at most {n} argument{} ({})",
            if n == 1 { "" } else { "s" },
            names.join(", ")
        )
    }
}

fn unknown_argument(signature: Signature, name: &str) -> String {
    let names: Vec<&str> = signature.params.iter().map(|p| p.name).collect();
    if names.is_empty() {
        format!("unknown argument `{name}`: it takes no arguments")
    } else {
        format!("unknown argument `{name}` (it takes {})", names.join(", "))
    }
}
