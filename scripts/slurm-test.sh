#!/usr/bin/env bash
# `ser sweep --executor slurm` against a real Slurm: a one-node cluster on this machine
# (scripts/slurm-cluster.sh), not a mock. `just slurm-test`; CI runs it (as root).
#
#   1. the quickstart sweep through Slurm (`--wait --max-parallel 2`), and the same sweep run
#      here: every job's metrics, history, confusion matrix and report are equal (timings aside);
#   2. a sweep with hostile names (experiment `kill; touch PWNED; $(touch PWNED2)`, results under
#      a folder with a space and a quote): nothing runs but ser; submitting it again while it is
#      queued submits nothing; one array task is cancelled with `scancel` mid-training (SIGTERM:
#      it records the interruption), `ser status` says so, a stale lock of another node left in
#      its place is taken over, and submitting again finishes it from its checkpoint, with the
#      metrics of an unbroken run;
#   3. the daemons it started are stopped (by pid file) whatever happened.
#
# SER=path/to/ser uses that binary (CI passes the one `cargo test` built); otherwise a dev build
# is made (`cargo build`).
# KEEP=1 keeps the work folder (printed) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$SECONDS
if [ "$(id -u)" != 0 ]; then
    echo "slurm-test: needs root (it installs Slurm with apt and starts its daemons); run it as root or in CI" >&2
    exit 1
fi
if [ -z "${SER:-}" ]; then
    cargo build --locked -q
    SER=$root/target/debug/ser
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ser-slurm-test.XXXXXX")
cluster=$work/cluster
finish() {
    local status=$?
    scripts/slurm-cluster.sh down "$cluster" || true
    if [ "$status" = 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "work folder: $work"; fi
    exit "$status"
}
trap finish EXIT
# A time limit's SIGTERM (CI's `timeout`) still stops the daemons.
trap 'exit 143' TERM INT
fail() { echo "slurm-test FAILED: $*" >&2; exit 1; }
step() { echo "== [$((SECONDS - start)) s] $*"; }

step "cluster up"
scripts/slurm-cluster.sh up "$cluster"
export SLURM_CONF=$cluster/slurm.conf

# Two run directories hold the same job's results: equal except timings (and Burn's random
# parameter ids inside model.bpk, which is why the weights are not compared here; the unit tests
# compare them).
same_results() {
    local a=$1 b=$2 f
    [ -f "$a/metrics.json" ] || fail "$a has no metrics.json"
    [ -f "$b/metrics.json" ] || fail "$b has no metrics.json"
    diff <(grep -v '_seconds"' "$a/metrics.json") <(grep -v '_seconds"' "$b/metrics.json") \
        || fail "metrics differ: $a $b"
    diff <(cut -d, -f1-5 "$a/history.csv") <(cut -d, -f1-5 "$b/history.csv") \
        || fail "history differs: $a $b"
    for f in confusion.csv report.txt config.toml; do
        cmp -s "$a/$f" "$b/$f" || fail "$f differs: $a $b"
    done
}

# 1. The quickstart sweep, through Slurm and here; separate caches, so the Slurm feature job
#    really builds its own.
step "quickstart through Slurm (--wait --max-parallel 2)"
"$SER" -q sweep experiments/quickstart.toml --executor slurm --wait --max-parallel 2 \
    --out "$work/slurm" --cache "$work/cache-slurm" >"$work/slurm.out"
step "quickstart here"
"$SER" -q sweep experiments/quickstart.toml --out "$work/local" --cache "$work/cache-local" \
    >/dev/null
n=0
for dir in "$work/local/quickstart"/*/; do
    job=$(basename "$dir")
    [ -f "$dir/metrics.json" ] || continue
    same_results "$dir" "$work/slurm/quickstart/$job"
    grep -q '"array_job_id"' "$work/slurm/quickstart/$job/run.json" \
        || fail "$job/run.json does not record its Slurm job"
    n=$((n + 1))
done
[ "$n" = 6 ] || fail "expected 6 jobs in each run, compared $n"
grep -q '6 of 6 jobs done' "$work/slurm/quickstart/summary.md" || fail "report job: no summary"
ls "$work/slurm/quickstart/slurm/logs/" | grep -q '_5\.log$' || fail "no log of array task 5"
echo "6 jobs: Slurm and local results equal"

# 2. Hostile names, a second submission while queued, a task killed and resumed.
step "hostile names, kill and resume"
exp_dir=$work/exp
mkdir -p "$exp_dir"
name='kill; touch PWNED; $(touch PWNED2)'
file="$exp_dir/$name.toml"
out="$work/out dir 'q'"
cat >"$file" <<'EOF'
# Two 1D jobs long enough to kill one mid-training.
[data]
corpus = "synth"
path = "data/synth"
synth_actors = 12
synth_seed = 0

[audio]
sample_rate = 22050
max_samples = 56000

[features]
kind = "zcr+rms"

[split]
kind = "random"
test = 0.30
valid = 0.05
seed = 0

[model]
kind = "cnn1d"
filters = [64, 32]
dense = 64
dropout = 0.4

[train]
epochs = 80
batch_size = 32
lr = 1e-3

[grid]
"train.seed" = [0, 1]
EOF
res="$out/$name"
"$SER" -q sweep "$file" --executor slurm --max-parallel 2 --out "$out" --cache "$work/cache-slurm" \
    >"$work/kill.out"
array=$(sed -n 's/.*, array \([0-9]*\) .*/\1/p' "$work/kill.out")
report=$(sed -n 's/.*, report \([0-9]*\)$/\1/p' "$work/kill.out")
[ -n "$array" ] && [ -n "$report" ] || fail "no job ids in: $(cat "$work/kill.out")"
# Submitting again while the queue holds the jobs submits nothing.
"$SER" -q sweep "$file" --executor slurm --out "$out" --cache "$work/cache-slurm" \
    2>"$work/again.err" >/dev/null
grep -q 'nothing to submit' "$work/again.err" || fail "a second submission sent queued jobs again: $(cat "$work/again.err")"
list=$(ls "$res/slurm/"jobs-*.txt)
victim=$(sed -n 1p "$list")
# Kill task 0 once it has a checkpoint a few epochs in (long before its 80th epoch).
for _ in $(seq 1 600); do
    [ -d "$res/$victim/checkpoint/epoch-0005" ] && break
    [ -f "$res/$victim/metrics.json" ] && fail "task 0 finished before it could be killed"
    sleep 0.2
done
[ -d "$res/$victim/checkpoint/epoch-0005" ] || fail "task 0 made no checkpoint in 120 s"
task_job=$(squeue -h -j "${array}_0" -o %A)
[ -n "$task_job" ] || fail "squeue does not list task ${array}_0"
# Plain scancel: SIGTERM, as at a time limit; ser stops at its next step and records it.
scancel "${array}_0"
echo "scancel ${array}_0 (Slurm job $task_job, job $victim) at $(ls "$res/$victim/checkpoint" | grep epoch-)"
for _ in $(seq 1 600); do
    [ -z "$(squeue -h -j "$report" 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(squeue -h -j "$report" 2>/dev/null)" ] || fail "the report job did not end in 300 s"
[ ! -f "$res/$victim/metrics.json" ] || fail "the killed task has results"
grep -q 'interrupted by SIGTERM' "$res/$victim/interrupted.txt" \
    || fail "the cancelled task did not record its interruption"
[ ! -f "$res/$victim/lock" ] || fail "the cancelled task left its lock"
# A task killed outright (SIGKILL, a node lost) leaves its lock: one from another node whose
# Slurm job has ended is taken over all the same.
echo "4242 node-elsewhere slurm $task_job" >"$res/$victim/lock"
"$SER" status "$res" | tee "$work/status.txt"
grep "^$victim" "$work/status.txt" | grep -q 'interrupted' \
    || fail "ser status does not show the cancelled task as interrupted"
grep -q '1 of 2 jobs done' "$res/summary.md" || fail "the report job's summary does not list the cancelled job"
# Again: only the killed job is submitted, and it resumes from its checkpoint.
"$SER" -q sweep "$file" --executor slurm --wait --out "$out" --cache "$work/cache-slurm" \
    >"$work/resume.out"
grep -q '^submitted 1 jobs' "$work/resume.out" || fail "resubmission: $(head -1 "$work/resume.out")"
resumed=$(grep -o '"resumed_from_epoch": [0-9]*' "$res/$victim/run.json" | grep -o '[0-9]*$' || true)
[ -n "$resumed" ] && [ "$resumed" -ge 5 ] || fail "the job did not resume from its checkpoint"
echo "job $victim resumed from epoch $resumed"
"$SER" -q run "$file" --job "$victim" --out "$work/unbroken" --cache "$work/cache-local" >/dev/null
same_results "$work/unbroken/$name/$victim" "$res/$victim"
echo "resumed job equals an unbroken run"
for dir in "$root" "$work" "$exp_dir" "$out"; do
    [ ! -e "$dir/PWNED" ] && [ ! -e "$dir/PWNED2" ] || fail "a name ran as shell code in $dir"
done

step "passed"
