#!/usr/bin/env bash
# The cost of include_flow! ([9/13]): the macro's expansion per flow (in process), and
# the warm rebuild of the example crate after its flow or its Rust changes (dev profile, as
# `cargo build` in it; median of 5). Prints Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

# A program's build runs the macro as cargo builds proc macros in the dev profile (no
# optimisation), so both: release, then dev.
cargo bench --quiet -p kflow-compiler --bench include_flow 2>/dev/null
echo
cargo bench --quiet --profile dev -p kflow-compiler --bench include_flow 2>/dev/null
echo
cargo build --quiet -p kflow-example-include-flow
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rebuild() {
  for _ in 1 2 3 4 5; do
    touch "$1"
    start=$(date +%s%3N)
    cargo build --quiet -p kflow-example-include-flow
    echo $(( $(date +%s%3N) - start ))
  done | median
}
echo "| warm rebuild of examples/include_flow (dev) | median of 5 |"
echo "|---|---|"
echo "| after its flow (flows/report.yml) changes | $(rebuild examples/include_flow/flows/report.yml) ms |"
echo "| after its main.rs changes | $(rebuild examples/include_flow/src/main.rs) ms |"
