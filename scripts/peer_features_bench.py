"""Times the peer's librosa feature path (../shared/peer/features.py) on a list of files.

Run by `ser bench features` in the same run as its own measurement, so the two share the machine's
state. Single process, like the peer's own timing: one warm-up clip (imports, numba JIT, mel basis),
then `passes` timed passes over the files (median pass reported), each clip through the peer's
`extract()` = librosa.load (22,050 Hz, soxr_hq) + pad/truncate + ZCR + RMS + log-mel.

Usage: python peer_features_bench.py PEER_DIR PASSES FILE...   (prints one JSON object)
"""
import json
import statistics
import sys
import time

peer_dir, passes, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
sys.path.insert(0, peer_dir)
import features  # noqa: E402  (the peer's module)
import librosa  # noqa: E402

t0 = time.perf_counter()
features.extract(files[0])
warmup = time.perf_counter() - t0
walls = []
for _ in range(passes):
    t = time.perf_counter()
    for f in files:
        features.extract(f)
    walls.append(time.perf_counter() - t)
wall = statistics.median(walls)
print(json.dumps({"clips": len(files), "passes": walls, "wall_s": wall,
                  "clips_per_s": len(files) / wall, "warmup_s": warmup,
                  "librosa": librosa.__version__}))
