#!/usr/bin/env bash
# Apache Iggy's Python SDK (apache-iggy 0.8.0 from PyPI: the 0.8 wire, built on the Rust SDK
# 0.10.0) against a release eddy-server, over TCP and WebSocket: tests/iggy-python. The
# SDK and pytest are installed into .cache/python-interop (pip --target: the system's Python is
# left alone), pinned in tests/iggy-python/requirements.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

site=.cache/python-interop
requirements=tests/iggy-python/requirements.txt
if ! cmp -s "$requirements" "$site/.installed" 2>/dev/null; then
  rm -rf "$site"
  mkdir -p "$site"
  pip_install=(python3 -m pip install -q --disable-pip-version-check --no-warn-script-location
    --target "$site" -r "$requirements")
  # Debian marks its Python externally managed; installing into a directory of our own is fine.
  "${pip_install[@]}" 2>/dev/null || "${pip_install[@]}" --break-system-packages
  cp "$requirements" "$site/.installed"
fi
cargo build --release -q -p eddy-server
cd tests/iggy-python
PYTHONPATH="$root/$site" EDDY_SERVER="$root/target/release/eddy-server" \
  timeout 600 python3 -m pytest -q -p no:cacheprovider .
