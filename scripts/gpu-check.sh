#!/usr/bin/env bash
# GPU check (`just gpu-check`): builds `ser` with `--features wgpu`, runs the GPU feature parity
# test, times feature extraction on the CPU and on the GPU (`features extract` and `bench
# features --backend wgpu`), times training and inference of the report's networks on the CPU
# and on wgpu (`bench train --backend wgpu`), runs a short 2D training on the synthetic corpus
# with `--backend wgpu`, and writes OUT/report.md with the adapter, its driver and every figure
# (each step's log beside it).
#
# Every step has a time limit (seconds, overridable through the environment) and a failed or
# timed-out step is reported, not fatal, so one run always ends with a report. The defaults sum to
# under 8 minutes, sized for a GPU machine whose cargo registry is warm; on Mesa's lavapipe
# (software Vulkan) the same steps run, slowly, as a smoke test.
#
# Usage: scripts/gpu-check.sh [OUT_DIR]   (default: results/gpu-check)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/gpu-check}"
mkdir -p "$out"
ser=target/release/ser
emodb=../shared/data/emodb/wav
report="$out/report.md"
: >"$out/steps.tsv"

# Limits in seconds; they sum to 475 (extract_s counts three times).
build_s=${GPU_CHECK_BUILD_S:-200}
test_s=${GPU_CHECK_TEST_S:-45}
extract_s=${GPU_CHECK_EXTRACT_S:-20}
bench_s=${GPU_CHECK_BENCH_S:-35}
bench_train_s=${GPU_CHECK_BENCH_TRAIN_S:-60}
synth_s=${GPU_CHECK_SYNTH_S:-15}
train_s=${GPU_CHECK_TRAIN_S:-60}

# step NAME LIMIT CMD...: runs CMD under `timeout LIMIT`, output in OUT/NAME.log; appends
# "NAME<TAB>status<TAB>seconds" to OUT/steps.tsv and returns CMD's status.
step() {
    local name=$1 limit=$2
    shift 2
    local t0 t1 rc status
    t0=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$@" >"$out/$name.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    case $rc in
        0) status=ok ;;
        124 | 137) status="TIMED OUT after ${limit} s" ;;
        *) status="FAILED (exit $rc)" ;;
    esac
    printf '%s\t%s\t%s\n' "$name" "$status" "$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")" >>"$out/steps.tsv"
    echo "$name: $status" >&2
    return $rc
}

# The seconds a step took, from steps.tsv.
secs() { awk -F'\t' -v n="$1" '$1 == n { print $3 }' "$out/steps.tsv"; }

# 1. Release build of the binary and of the integration tests (same profile, so one set of deps).
step build "$build_s" bash -c 'cargo build --release --locked --features wgpu &&
    cargo test --release --locked --features wgpu --test integration --no-run'

# 2. GPU feature parity against the CPU path (prints the adapter and the largest differences).
step parity "$test_s" cargo test --release --locked --features wgpu --test integration gpu:: \
    -- --nocapture --test-threads 1

# 3. Clips for the timings: EmoDB when ../shared has it, else a small synthetic corpus.
step synth "$synth_s" "$ser" data synth --out "$out/synth" --actors 2 --seed 0
if [ -d "$emodb" ]; then clips_dir=$emodb; else clips_dir=$out/synth; fi
mapfile -t clips < <(find "$clips_dir" -name '*.wav' | sort)

# 4. `ser features extract` of the same clips on the CPU and on the GPU (decode included).
rm -rf "$out/extract-cpu" "$out/extract-gpu"
step extract-cpu "$extract_s" "$ser" features extract "${clips[@]}" --out "$out/extract-cpu"
step extract-gpu "$extract_s" "$ser" features extract "${clips[@]}" --out "$out/extract-gpu" \
    --backend wgpu

# 5. The feature benchmark, CPU and GPU on the same clips (ours only: the peer needs
#    `just peer-setup`).
step bench-features "$bench_s" "$ser" bench features --corpus "$clips_dir" --passes 2 \
    --backend wgpu --json "$out/bench-features.json"

# 6. Training and inference speed of the report's 1D (512,512,128) and 2D (128,64,32) networks,
#    CPU and wgpu side by side (no Keras: the peer is not installed on a GPU machine).
step bench-train "$bench_train_s" "$ser" bench train --backend wgpu --no-peer --warmup 2 \
    --steps 5 --json "$out/bench-train.json"

# 7. A short 2D training on the synthetic corpus, features extracted into the cache on the GPU.
cat >"$out/tiny-2d.toml" <<TOML
# Written by scripts/gpu-check.sh: a tiny 2D run on the synthetic corpus, for the GPU path.
[data]
corpus = "synth"
path = "$out/synth"
synth_actors = 2
synth_seed = 0

[features]
kind = "mel-db"

[split]
kind = "random"
test = 0.30
valid = 0.10
seed = 0

[model]
kind = "cnn2d"
filters = [8, 8]
dense = 16
dropout = 0.2

[train]
epochs = 3
batch_size = 16
lr = 1e-3
TOML
rm -rf "$out/cache" "$out/train-2d"
step cache-gpu "$extract_s" "$ser" features cache "$out/tiny-2d.toml" --cache "$out/cache" \
    --backend wgpu
step train-2d "$train_s" "$ser" train "$out/tiny-2d.toml" --out "$out/train-2d" \
    --cache "$out/cache" --backend wgpu

# The report.
adapter=$(grep -m1 -o 'GPU features on .*' "$out/parity.log" | sed 's/^GPU features on //')
[ -n "$adapter" ] || adapter=$(grep -m1 -o ', on .*' "$out/extract-gpu.log" | sed 's/^, on //')
{
    echo "# GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- adapter (name, backend, type; driver): ${adapter:-none came up (see parity.log)}"
    echo "- clips timed: ${#clips[@]} from $clips_dir"
    echo
    echo "| step | status | seconds |"
    echo "|---|---|---|"
    awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$out/steps.tsv"
    echo
    echo "## Figures"
    echo
    echo "- GPU vs CPU features: $(grep -m1 -o 'max |GPU - CPU|.*' "$out/parity.log" || echo 'n/a')"
    for side in cpu gpu; do
        s=$(secs "extract-$side")
        echo "- \`ser features extract\` ($side): ${#clips[@]} clips in ${s:-n/a} s$(
            awk -v n="${#clips[@]}" -v s="${s:-0}" 'BEGIN { if (s > 0) printf " = %.1f clips/s", n / s }')"
    done
    echo "- \`ser bench features --backend wgpu\` (CPU and GPU, same clips):"
    echo
    grep -E '^\|' "$out/bench-features.log" || echo "    n/a"
    echo
    echo "- \`ser bench train --backend wgpu\` (CPU and GPU, batch 32):"
    echo
    grep -E '^\|' "$out/bench-train.log" || echo "    n/a"
    # A backend that could not run a model says why in its own line (not a table row).
    grep -E ' failed: ' "$out/bench-train.log" | sed 's/^/    - /'
    echo
    echo "- 2D training (wgpu), features cached on the GPU in $(secs cache-gpu) s:"
    grep -E '^accuracy' "$out/train-2d.log" | sed 's/^/    /' || echo "    n/a"
} >"$report"
cat "$report"
