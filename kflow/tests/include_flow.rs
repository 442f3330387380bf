//! `include_flow!` as a user meets it, through trybuild: programs that compile and run flows
//! (their typed inputs and outputs, subflows between included flows), and programs that must
//! not compile, with the compiler's output they must show.
//!
//! trybuild builds the programs in its own crate, `target/tests/trybuild/kflow`: the flows'
//! paths in them are relative to that crate's root, as a user's are to theirs.

#[test]
fn programs() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/programs/pass/*.rs");
    cases.compile_fail("tests/programs/fail/*.rs");
}
