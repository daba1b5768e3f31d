#!/usr/bin/env bash
# Apache Iggy's Python SDKs against a release eddy-server, over TCP and WebSocket, on the same
# ports: tests/iggy-python/v0_8 with apache-iggy 0.8.0 (the 0.8 wire, built on the Rust SDK
# 0.10.0) and tests/iggy-python/v0_9 with apache-iggy 0.9.0 (the 0.11 wire of Iggy 0.9, built on
# the Rust SDK 0.11.0). Both import the same module name, so each suite's SDK and pytest are
# installed into a directory of its own under .cache/ (pip --target: the system's Python is left
# alone), pinned in the suite's requirements.txt; the two suites run side by side.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

install() {
  local suite=$1 site=.cache/python-interop-$1 requirements=tests/iggy-python/$1/requirements.txt
  if ! cmp -s "$requirements" "$site/.installed" 2>/dev/null; then
    rm -rf "$site"
    mkdir -p "$site"
    local pip_install=(python3 -m pip install -q --disable-pip-version-check
      --no-warn-script-location --target "$site" -r "$requirements")
    # Debian marks its Python externally managed; installing into a directory of our own is fine.
    "${pip_install[@]}" 2>/dev/null || "${pip_install[@]}" --break-system-packages
    cp "$requirements" "$site/.installed"
  fi
}

suites=(v0_8 v0_9)
for suite in "${suites[@]}"; do install "$suite"; done
cargo build --release -q -p eddy-server
cd tests/iggy-python
pids=()
for suite in "${suites[@]}"; do
  PYTHONPATH="$root/.cache/python-interop-$suite" EDDY_SERVER="$root/target/release/eddy-server" \
    timeout 600 python3 -m pytest -q -p no:cacheprovider "$suite" > "/tmp/eddy-python-$suite.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!suites[@]}"; do
  if wait "${pids[$i]}"; then result=passed; else result=FAILED; status=1; fi
  echo "== apache-iggy suite ${suites[$i]}: $result"
  cat "/tmp/eddy-python-${suites[$i]}.log"
done
exit $status
