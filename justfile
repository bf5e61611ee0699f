# ser: common tasks. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Arguments reach recipes as "$1", "$@" (quoted), never pasted into the command text: a file
# named `x; rm -rf ~` is one argument, not a command (tests/security.rs runs them to check).
set positional-arguments

ser := "target/release/ser"

# 6 small trainings on the synthetic corpus (generated on first use); a few minutes on 2 cores.
# The README's main command: results/quickstart/summary.md with mean ± std over seeds.
quickstart: build
    {{ser}} sweep experiments/quickstart.toml

# e.g. `just sweep experiments/filters.toml --data DIR`; `--dry-run` lists the jobs.
# Run an experiment's grid (resuming: done jobs are skipped), then its report.
sweep FILE *ARGS: build
    {{ser}} sweep "$@"

# e.g. `just run experiments/filters.toml ID --backend wgpu` (needs a `--features wgpu` build).
# Rerun one job of an experiment by its id.
run FILE JOB *ARGS: build
    {{ser}} run "$1" --job "$2" "${@:3}"

# Comparison tables of results folders (several: side by side), e.g. `just report results/filters`.
report +DIRS: build
    {{ser}} report "$@"

# Release build of the `ser` binary.
build:
    cargo build --release --locked

# The test suite (what CI runs).
test:
    cargo test --locked

# `ser sweep --executor slurm` against a real one-node Slurm started here (needs root: apt, daemons);
# stops the daemons it started. What it checks: scripts/slurm-test.sh.
slurm-test:
    scripts/slurm-test.sh

# Formatting, lints, and the import rule: modules import only down the data's path (tests/layers.rs).
lint:
    cargo fmt --check
    cargo clippy --locked --all-targets -- -D warnings
    cargo test --locked --test integration layers

# Feature benchmark against librosa on real EmoDB clips and a 16 kHz clip (needs `just peer-setup`).
bench-features: build
    {{ser}} bench features --corpus ../shared/data/emodb/wav \
        --repeat-file ../shared/parity/audio/resampled-16k.wav --repeats 200 \
        --peer-python /tmp/peer/.venv/bin/python --json results/bench-features.json

# Training and inference speed of the report's 1D and 2D networks on the CPU against Keras, in the
# same run (needs `just peer-setup-train`). Add `--burn-kernels` to also time Burn's own kernels.
bench-train: build
    {{ser}} bench train --corpus ../shared/data/emodb/wav --peer /tmp/peer \
        --warmup 3 --steps 10 --rounds 5 --json results/bench-train.json

# e.g. `just bench-sweep --setup auto --setup 1` to compare setups (needs `just peer-setup-train`).
# A whole sweep's wall time, cold (18 trainings of the 1D CNN on EmoDB: filters × 20/40 epochs ×
# seeds), against the peer, same run; then the 40-epoch points by successive halving.
bench-sweep *ARGS: build
    {{ser}} bench sweep --corpus ../shared/data/emodb/wav --peer /tmp/peer --halving 10 \
        --json results/bench-sweep.json "$@"

# All benchmarks.
bench: bench-features bench-train bench-sweep

# The peer's Python environment (librosa 0.11) in /tmp/peer, for benchmarks side by side.
peer-setup:
    test -x /tmp/peer/.venv/bin/python || (cp -r ../shared/peer /tmp/peer && python3 -m venv /tmp/peer/.venv)
    /tmp/peer/.venv/bin/pip install -q librosa==0.11.0 scikit-learn soundfile

# The peer with Keras (tensorflow-cpu 2.21) and its EmoDB feature cache, for `just bench-train`.
peer-setup-train: peer-setup
    /tmp/peer/.venv/bin/pip install -q tensorflow-cpu==2.21.0
    mkdir -p /tmp/peer/.data/emodb/wav && cp ../shared/data/emodb/wav/*.wav /tmp/peer/.data/emodb/wav/
    cd /tmp/peer && .venv/bin/python features.py --speakers 03,08,09,10,11,12,13 --prefix dev_

# A full-scale CREMA-D rehearsal without the audio (synthetic corpus in CREMA-D's layout): fetch and
# verify from a local server, feature caches, an epoch of each report network, every experiment's
# projected wall time, features against librosa (with `just peer-setup`). Writes OUT/report.md.
rehearsal OUT="results/rehearsal": build
    scripts/rehearsal.sh "$1"

# e.g. `just gpu-check` on a GPU machine (or here on Mesa's lavapipe, slowly). Release build with
# `--features wgpu`, GPU feature parity test, CPU vs GPU extraction and feature bench, CPU vs wgpu
# training bench and a short 2D training with `--backend wgpu`; every step time-limited (under 8
# minutes in all).
# Writes OUT/report.md: adapter, driver and each figure.
gpu-check OUT="results/gpu-check":
    scripts/gpu-check.sh "$1"
