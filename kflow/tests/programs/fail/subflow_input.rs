// A Subflow that gives the flow beside it an input it does not declare (and not the one it
// requires): checked against child.yml when the program compiles.
kflow::include_flow!("../../../../kflow/tests/flows/wrong_call.yml");
kflow::include_flow!("../../../../kflow/tests/flows/child.yml");

fn main() {}
