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

# Training and inference speed of the report's 1D and 2D networks on the CPU against Keras, in the
# same run (needs `just peer-setup-train`). Add `--burn-kernels` to also time Burn's own kernels.
bench-train: build
    {{ser}} bench train --corpus ../shared/data/emodb/wav --peer /tmp/peer \
        --warmup 3 --steps 10 --json results/bench-train.json

# All benchmarks.
bench: bench-features bench-train

# The peer's Python environment (librosa 0.11) in /tmp/peer, for benchmarks side by side.
peer-setup:
    test -x /tmp/peer/.venv/bin/python || (cp -r ../shared/peer /tmp/peer && python3 -m venv /tmp/peer/.venv)
    /tmp/peer/.venv/bin/pip install -q librosa==0.11.0 scikit-learn soundfile

# The peer with Keras (tensorflow-cpu 2.21) and its EmoDB feature cache, for `just bench-train`.
peer-setup-train: peer-setup
    /tmp/peer/.venv/bin/pip install -q tensorflow-cpu==2.21.0
    mkdir -p /tmp/peer/.data/emodb/wav && cp ../shared/data/emodb/wav/*.wav /tmp/peer/.data/emodb/wav/
    cd /tmp/peer && .venv/bin/python features.py --speakers 03,08,09,10,11,12,13 --prefix dev_
