#!/usr/bin/env bash
# What the tests need beyond the Rust toolchain, from Debian: strace (a test traces `serve`'s
# system calls to show each acknowledged webhook fsynced before its answer) and curl (the
# REST API is driven with the curl commands of Kestra's documentation) and git (git.Clone clones
# a repository the test makes), and PostgreSQL's server (the SQL tests start one).
set -euo pipefail
missing=()
for tool in strace curl git; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
# PostgreSQL's server for the SQL tests (they start their own in a scratch folder).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
