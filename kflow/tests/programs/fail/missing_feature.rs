// A flow with an HTTP task in a program built without kflow's `http` feature.
kflow::include_flow!("../../../../kflow/tests/flows/fetch.yml");

fn main() {}
