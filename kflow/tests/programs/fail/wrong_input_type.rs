// An INT input given a string.
kflow::include_flow!("../../../../kflow/tests/flows/child.yml");

fn main() {
    let _ = child::Inputs::new("seven".to_string());
}
