// A flow whose expression names an output that does not exist: the YAML's line in the error.
kflow::include_flow!("../../../../kflow/tests/flows/mistaken.yml");

fn main() {}
