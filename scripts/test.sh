#!/usr/bin/env bash
# Runs everything: formatting, lints, eddy-ws's docs, unit/property/loopback tests, both Autobahn|Testsuite runs
# (server and client; fails on any non-OK case), a short coverage-guided fuzz run of every
# parser, the TypeScript SDK's suites (Node and Chromium), Apache Iggy's Python SDK suite, and a
# seconds-long smoke of the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

if cargo clippy --version >/dev/null 2>&1; then
  step "cargo clippy (default features, then all features)"
  cargo clippy --workspace --all-targets -- -D warnings
  cargo clippy --workspace --all-targets --all-features -- -D warnings
else
  echo "clippy is not installed: lint step skipped" >&2
fi

step "cargo doc -p eddy-ws (every public item documented; warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc -q -p eddy-ws --all-features --no-deps

step "cargo publish --dry-run -p eddy-ws (the crate packages and builds on its own)"
cargo publish -q --dry-run --allow-dirty -p eddy-ws

step "cargo test (all features: includes the tungstenite compat mode)"
cargo test --workspace --all-features

step "Autobahn|Testsuite (server and client)"
scripts/autobahn.sh all

step "browser interop (headless Chromium)"
scripts/browser-test.sh

step "TypeScript SDK: size, Node and headless Chromium suites (scripts/js-test.sh)"
scripts/js-test.sh

step "Apache Iggy's Python SDK against eddy-server (scripts/python-test.sh)"
scripts/python-test.sh

step "fuzzing: every parser that takes outside bytes, 15 s each (scripts/fuzz.sh)"
scripts/fuzz.sh 15

step "benchmark smoke (results under target/bench-smoke, not committed)"
cargo bench -p eddy-ws --bench codec -- --quick --out target/bench-smoke
cargo run --release -q -p eddy-bench -- pinned-producer --client eddy,iggy-sdk,tokio --batches 5 --warmup 1 --output target/bench-smoke
cargo run --release -q -p eddy-bench -- pinned-consumer --client eddy,iggy-sdk,tokio --batches 5 --warmup 1 --output target/bench-smoke
cargo run --release -q -p eddy-bench -- pipeline --requests 200 --rounds 1 --output target/bench-smoke
cargo run --release -q -p eddy-bench -- startup --sizes 0.02 --starts 1 --unclean-mib 4 --output target/bench-smoke
# Long polling in a release build (a hang here once meant a read that never got cancelled).
timeout 300 cargo run --release -q -p eddy-bench -- consume --rates 1000 --seconds 0.5 --waits 100 --fanout-subscribers 20 --output target/bench-smoke
cargo run --release -q -p eddy-bench -- ws-echo --seconds 0.05 --rounds 1 --idle 50 --large-mib 1 --output target/bench-smoke
