# Shared by the project's scripts: paths and the toolchain that builds wasm32.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# scripts/setup writes the name of the offline toolchain here when rustup's wasm32 target is not
# available (see notes on rustc-web); empty = rustup's default toolchain.
WASM_TOOLCHAIN="$(cat "$ROOT/.toolchain" 2>/dev/null || true)"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"

# Runs a command with the wasm32-capable toolchain selected.
with_wasm_toolchain() {
  if [ -n "$WASM_TOOLCHAIN" ]; then RUSTUP_TOOLCHAIN="$WASM_TOOLCHAIN" "$@"; else "$@"; fi
}
