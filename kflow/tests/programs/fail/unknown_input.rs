// An input the flow does not declare.
kflow::include_flow!("../../../../kflow/tests/flows/child.yml");

fn main() {
    let _ = child::Inputs { n: 1, m: 2 };
}
