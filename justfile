# ser: common tasks. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

ser := "target/release/ser"

# The main job on the embedded default data: synthetic corpus, check, features into the cache, split.
quickstart: build
    {{ser}} data synth --out data/synth --actors 12 --seed 0
    {{ser}} data check data/synth
    {{ser}} features cache experiments/quickstart.toml
    {{ser}} data split experiments/quickstart.toml --out results/quickstart/split

# Release build of the `ser` binary.
build:
    cargo build --release --locked

# The test suite (what CI runs).
test:
    cargo test --locked

# Feature benchmark against librosa on real EmoDB clips and a 16 kHz clip (needs `just peer-setup`).
bench-features: build
    {{ser}} bench features --corpus ../shared/data/emodb/wav \
        --repeat-file ../shared/parity/audio/resampled-16k.wav --repeats 200 \
        --peer-python /tmp/peer/.venv/bin/python --json results/bench-features.json

# All benchmarks.
bench: bench-features

# The peer's Python environment (librosa 0.11) in /tmp/peer, for benchmarks side by side.
peer-setup:
    test -x /tmp/peer/.venv/bin/python || (cp -r ../shared/peer /tmp/peer && python3 -m venv /tmp/peer/.venv)
    /tmp/peer/.venv/bin/pip install -q librosa==0.11.0 scikit-learn soundfile
