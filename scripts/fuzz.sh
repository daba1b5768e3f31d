#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz / libFuzzer, stable toolchain, no sanitizer) of every parser
# that takes outside bytes. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Seeds come from fuzz/corpus/<target> (committed, made by `fuzz/examples/seeds.rs`); what the run
# discovers goes to target/fuzz-corpus/<target>, crashes to fuzz/artifacts/<target>. Exits non-zero
# on the first crash. A summary line per target (runs, seconds, corpus size) goes to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(ws_frames ws_handshake ws_inflate iggy_commands iggy_v011 segment_recovery)
fi
if ! command -v c++ >/dev/null 2>&1; then
  echo "installing g++ (libFuzzer is C++)" >&2
  apt-get update -qq && apt-get install -y -qq g++ >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi
cargo fuzz build -s none >/dev/null
for t in "${targets[@]}"; do
  work="target/fuzz-corpus/$t"
  mkdir -p "$work" "fuzz/artifacts/$t"
  log="target/fuzz-corpus/$t.log"
  if ! cargo fuzz run -s none "$t" "$work" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $t FAILED (log: $log)" >&2
    exit 1
  fi
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo '?')
  echo "fuzz $t: ${runs} runs in ${seconds}s, coverage ${cov}, corpus $(ls "$work" | wc -l) new + $(ls "fuzz/corpus/$t" | wc -l) seeds, 0 crashes"
done
