#!/usr/bin/env bash
# A full-scale CREMA-D rehearsal without the audio (`just rehearsal`): generates the synthetic
# corpus in CREMA-D's exact layout (7,442 clips of CREMA-D's names), serves it from a local HTTP
# server on 127.0.0.1 with a manifest made for it and fetches it back verified (`ser data fetch`),
# builds the feature cache of both feature sets, trains one epoch of the report's 1D and 2D
# networks at full scale, projects the wall time of every experiment file (`ser bench estimate`),
# and, with the peer's Python (`just peer-setup`), times feature extraction against librosa on the
# same folder (`ser bench features`). Writes OUT/report.md with every figure and OUT/*.log.
#
# Usage: scripts/rehearsal.sh [OUT_DIR]   (default: results/rehearsal; needs a release build)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/rehearsal}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
ser="$PWD/target/release/ser"
work="$out/work"
corpus="$work/CREMA-D-synth"
python=${SER_PEER_PYTHON:-/tmp/peer/.venv/bin/python}
report="$out/report.md"
rm -rf "$work"
mkdir -p "$work"

# timed NAME CMD...: runs CMD with its output in OUT/NAME.log and prints its wall seconds.
timed() {
    local name=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$out/$name.log" 2>&1 || { echo "FAILED: $name (see $out/$name.log)" >&2; exit 1; }
    t1=$(date +%s.%N)
    awk "BEGIN { printf \"%.1f\", $t1 - $t0 }"
}

load() { cut -d' ' -f1 /proc/loadavg; }

{
    echo "# Full-scale CREMA-D rehearsal"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, ser $(git rev-parse --short HEAD), load $(load) at the start."
    echo
} >"$report"

# 1. The synthetic corpus in CREMA-D's layout.
s=$(timed synth "$ser" -q data synth --layout crema-d --out "$corpus")
n=$(find "$corpus" -name '*.wav' | wc -l)
mb=$(du -sm "$corpus" | cut -f1)
echo "- synthetic corpus: $n clips, $mb MB, generated in $s s (\`ser data synth --layout crema-d\`)" >>"$report"

# 2. Fetch it back from a local HTTP server, verified against a manifest made for it.
python3 - "$corpus" >"$work/manifest.csv" <<'EOF'
import hashlib, os, sys
d = sys.argv[1]
print("file,bytes,sha256")
for name in sorted(f for f in os.listdir(d) if f.endswith(".wav")):
    data = open(os.path.join(d, name), "rb").read()
    print(f"{name},{len(data)},{hashlib.sha256(data).hexdigest()}")
EOF
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$corpus" "$port" >"$out/server.log" 2>&1 <<'EOF' &
import functools, http.server, sys
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256  # the default of 5 drops connections under 8 parallel downloads
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.log_message = lambda *a: None
Server(("127.0.0.1", int(sys.argv[2])), handler).serve_forever()
EOF
server=$!
trap 'kill $server 2>/dev/null' EXIT
sleep 1
s=$(timed fetch "$ser" -q data fetch crema-d --out "$work/fetched" --manifest "$work/manifest.csv" \
    --base-url "http://127.0.0.1:$port/" --jobs 8)
s2=$(timed fetch-again "$ser" -q data fetch crema-d --out "$work/fetched" --manifest "$work/manifest.csv" \
    --base-url "http://127.0.0.1:$port/" --jobs 8)
kill $server 2>/dev/null
echo "- fetch and verify (size + SHA-256) of all $n files from a local HTTP server, 8 at a time: $s s; again, all already verified and skipped: $s2 s" >>"$report"

# 3. The feature cache of both feature sets (cold), and its size.
for kind in zcr+rms mel-db; do
    model=$([ "$kind" = mel-db ] && echo cnn2d || echo cnn1d)
    printf '[data]\ncorpus = "crema-d"\npath = "%s"\n[features]\nkind = "%s"\n[model]\nkind = "%s"\n' \
        "$corpus" "$kind" "$model" >"$work/$kind.toml"
    s=$(timed "cache-$kind" "$ser" -q features cache "$work/$kind.toml" --cache "$work/cache")
    size=$(du -sm "$work"/cache/"$kind"-* | cut -f1)
    echo "- feature cache, $kind: $s s, $size MB" >>"$report"
done

# 4. One epoch of the report's networks at full scale (report split: 4,948 training clips).
for net in "1d cnn1d zcr+rms [512, 512, 128]" "2d cnn2d mel-db [128, 64, 32]"; do
    read -r name model kind filters <<<"$net"
    printf '[data]\ncorpus = "crema-d"\npath = "%s"\n[features]\nkind = "%s"\n[model]\nkind = "%s"\nfilters = %s\n[train]\nepochs = 1\n' \
        "$corpus" "$kind" "$model" "$filters" >"$work/epoch-$name.toml"
    timed "epoch-$name" "$ser" -q train "$work/epoch-$name.toml" --out "$work/epoch-$name" \
        --cache "$work/cache" >/dev/null
    e=$(awk -F, 'NR == 2 { print $6 }' "$work/epoch-$name/history.csv")
    echo "- one training epoch (with validation), $name $filters: $e s" >>"$report"
done

# 5. Every experiment file, projected on this CPU.
{
    echo
    echo "## Projected wall time of every experiment (\`ser bench estimate\`)"
    echo
} >>"$report"
for f in experiments/*.toml; do
    # CREMA-D experiments count the synthetic folder's clips; the others read their own corpus.
    data=()
    grep -q '^corpus = "crema-d"' "$f" && data=(--data "$corpus")
    "$ser" -q bench estimate "$f" "${data[@]}" --steps 3 >"$work/estimate.txt" 2>"$out/estimate.log" \
        || { echo "FAILED: estimate $f (see $out/estimate.log)" >&2; exit 1; }
    cat "$work/estimate.txt" >>"$report"
done

# 6. Feature extraction against librosa on the same 16 kHz folder, same run.
if [ -x "$python" ]; then
    echo >>"$report"
    echo "## Features against librosa, 16 kHz CREMA-D layout (\`ser bench features\`)" >>"$report"
    echo >>"$report"
    "$ser" -q bench features --corpus "$corpus" --passes 1 --peer-python "$python" \
        --json "$out/bench-features.json" >"$work/bench.txt" 2>"$out/bench-features.log" \
        || { echo "FAILED: bench features" >&2; exit 1; }
    cat "$work/bench.txt" >>"$report"
else
    echo "- features against librosa: skipped ($python missing: \`just peer-setup\`)" >>"$report"
fi
echo >>"$report"
echo "Load $(load) at the end." >>"$report"
cat "$report"
