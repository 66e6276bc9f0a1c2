#!/usr/bin/env bash
# Fuzz kspy's parsers for a bounded time: ci/fuzz.sh [SECONDS-PER-TARGET]
#
# Targets (fuzz/fuzz_targets/): scenario_parser (the scenario loader on
# arbitrary bytes, then validation, JSONPath translation and judging of what
# loads) and jsonpath (kubectl JSONPath translation and evaluation).
# Needs a nightly toolchain (`cargo +nightly`); cargo-fuzz is installed from
# crates.io on first use. The fuzz build, cargo-fuzz and the growing corpus
# are cached under ~/.cache/kspy/, so a warm run only fuzzes.
#
# A crash, an out-of-memory or a hang is copied to
# tests/fuzz-regressions/<target>/, which tests/fuzz_regressions.rs replays
# in the normal `cargo test`; the script then fails.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: ci/fuzz.sh [SECONDS-PER-TARGET]" >&2; exit 2; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/kspy"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "ci/fuzz.sh: cargo-fuzz needs a nightly Rust toolchain, and \`cargo +nightly\` is not available." >&2
  echo "  install one with: rustup toolchain install nightly --profile minimal" >&2
  exit 2
fi

fuzz_root="$cache/cargo-fuzz"
cargo_fuzz="$fuzz_root/bin/cargo-fuzz"
if [ ! -x "$cargo_fuzz" ]; then
  echo "ci/fuzz.sh: installing cargo-fuzz into $fuzz_root" >&2
  cargo install cargo-fuzz --locked --root "$fuzz_root"
fi

# The fuzz build has its own target directory: nightly, coverage
# instrumentation and release settings would otherwise rebuild the main one.
export CARGO_TARGET_DIR="$cache/fuzz-target"
# No sanitizer: kspy is safe Rust, and what the fuzzers hunt (panics, hangs,
# memory blow-ups) libFuzzer catches on its own; ASan would double the build.
fuzz=("$cargo_fuzz" fuzz)
fuzz_opts=(--fuzz-dir "$PWD/fuzz" --sanitizer none)
export RUSTUP_TOOLCHAIN=nightly

# Seed corpora (read, never written): the example, valid and malformed
# scenarios, and the JSONPath seeds in fuzz/seeds/.
declare -A seeds=(
  [scenario_parser]="$PWD/scenarios $PWD/tests/malformed $PWD/tests/fixtures/scenarios"
  [jsonpath]="$PWD/fuzz/seeds/jsonpath"
)
declare -A max_len=([scenario_parser]=16384 [jsonpath]=2048)

failed=()
for target in scenario_parser jsonpath; do
  echo "ci/fuzz.sh: building $target" >&2
  "${fuzz[@]}" build "${fuzz_opts[@]}" "$target"

  corpus="$cache/fuzz-corpus/$target"
  artifacts="$(mktemp -d)"
  mkdir -p "$corpus"
  echo "ci/fuzz.sh: fuzzing $target for ${seconds}s" >&2
  # shellcheck disable=SC2086 # the seed list is split on purpose
  if "${fuzz[@]}" run "${fuzz_opts[@]}" "$target" "$corpus" ${seeds[$target]} -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len="${max_len[$target]}" -dict="$PWD/fuzz/$target.dict" \
      -artifact_prefix="$artifacts/" -print_final_stats=1 </dev/null; then
    rm -rf "$artifacts"
    continue
  fi
  found=("$artifacts"/*)
  if [ ! -e "${found[0]}" ]; then
    echo "ci/fuzz.sh: $target failed without leaving a crashing input (see above)" >&2
    exit 1
  fi
  keep="tests/fuzz-regressions/$target"
  mkdir -p "$keep"
  for f in "${found[@]}"; do
    cp "$f" "$keep/"
    failed+=("$keep/$(basename "$f")")
  done
  rm -rf "$artifacts"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo >&2
  echo "ci/fuzz.sh: the fuzzers found inputs that crash, hang or exhaust memory:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  echo "Commit them (tests/fuzz_regressions.rs replays every file there in \`cargo test\`)" >&2
  echo "and fix the bug; reproduce one with:" >&2
  echo "  cargo test --test fuzz_regressions" >&2
  exit 1
fi
echo "ci/fuzz.sh: no crash in ${seconds}s per target" >&2
