#!/usr/bin/env bash
# Gradescope runs this once, as root, when the instructor uploads the
# autograder bundle (scripts/make-autograder): it installs the pinned Rust
# toolchain (with clippy) unless it is already there, builds the grader, and
# grades the handout's own stubs once so that the framework and every
# dependency are built before the first submission arrives.
# AUTOGRADER_ROOT (default /autograder) lets it run elsewhere, for tests.
set -euo pipefail
root=${AUTOGRADER_ROOT:-/autograder}
source_dir="$root/source"
# shellcheck source=/dev/null
. "$source_dir/autograder.conf"

step() { printf '\n== setup: %s\n' "$*"; }

if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
if command -v cargo > /dev/null && cargo --version | grep -q "^cargo $TOOLCHAIN "; then
    step "Rust $TOOLCHAIN is installed"
else
    step "installing Rust $TOOLCHAIN with clippy"
    if ! command -v curl > /dev/null || ! command -v cc > /dev/null; then
        apt-get update
        apt-get install -y --no-install-recommends ca-certificates curl build-essential
    fi
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --default-toolchain "$TOOLCHAIN" --component clippy
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
cargo --version
cargo clippy --version

lab="$source_dir/lab"
step "building the grader"
cargo build --locked --quiet --manifest-path "$lab/Cargo.toml" -p labtools --bin grade

step "grading the handout's stubs once, to build the framework (they score 0)"
warm=$(mktemp -d)
trap 'rm -rf "$warm"' EXIT
cp -R "$lab/kvsrv" "$lab/labraft" "$lab/rsm" "$lab/kvraft" "$lab/shardkv" "$warm/"
status=0
"$lab/scripts/grade" --parts 2a --seeds 1 --real-runs 0 \
    --work-dir "$root/work" "$warm" > "$warm/grade.log" 2>&1 || status=$?
if [ "$status" -ne 1 ]; then
    cat "$warm/grade.log"
    echo "setup: grading the stubs should score 0 (exit 1), but the grader exited with $status" >&2
    exit 1
fi
step "done"
