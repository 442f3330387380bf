//! kflow-macros: `include_flow!("flow.yml")`, a thin shell over `kflow-compiler` that turns a
//! flow into typed Rust checked at compile time. It arrives with its own issue; no macro is
//! exported yet.
