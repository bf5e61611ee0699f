"""The peer's 1D CNN on EmoDB, one predictions CSV per seed, for `ser report --compare DIR ext:OUT`.

Everything that decides a result but the split is the peer's own code, imported from its folder
(--peer, never copied): `features.emodb_files` / `features.extract` (librosa features of every
6-class clip, sorted by name, float32 as its cache stores them), `models.build_1d` and
`train.train_eval` (seeded Keras training: keras.utils.set_random_seed(seed), its metrics). This
script keeps the trained model to write its test probabilities: OUT/seed-<S>.csv
(`clip,true,predicted,ANG,...,SAD`, clip = file name) and OUT/seed-<S>.json (the peer's metrics
of that seed, versions, threads, which split).

The split: the peer's own `train.random_split` (scikit-learn's stratified split, random_state =
seed) has ser's sizes and per-class counts but not its clips (ser draws with ChaCha8, not
numpy's generator). For a clip-by-clip comparison both must test the same clips, so with
--split-lists DIR the peer trains, validates and tests on ser's lists for seed S, read from
DIR/seed-<S>/{train,valid,test}.txt as `ser data split CONFIG --out DIR/seed-<S>` writes them
(CONFIG with split.seed = S; the same lists as the sweep's runs). Without it, the peer's own split.

With --ser-results, each seed's test clips are first checked against the ser run with
train.seed = S in that results folder (its split/test.txt, written when the run starts): the
script stops, before training, when they differ.

Usage (1 thread: the machine is shared):
    for s in 0 1 2; do  # emodb-check.toml with split.seed = s, lists into /tmp/splits/seed-$s
        sed -e "s/^seed = 0/seed = $s/" -e '/^\[grid\]/,$d' experiments/emodb-check.toml \
            > /tmp/split-$s.toml && ser data split /tmp/split-$s.toml --out /tmp/splits/seed-$s
    done
    /tmp/peer/.venv/bin/python scripts/peer_predictions.py --peer ../shared/peer \
        --wav ../shared/data/emodb/wav --seeds 0 1 2 --epochs 60 --split-lists /tmp/splits \
        --ser-results results/emodb-peer10 --out results/emodb-peer10/peer-keras
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
from pathlib import Path


def ser_test_clips(results: Path, seed: int) -> list[str]:
    """File names of the test clips of the ser run with train.seed = seed (exactly one), from its
    split lists."""
    runs = []
    for config in sorted(results.glob("*/config.toml")):
        c = tomllib.loads(config.read_text())
        if c.get("train", {}).get("seed", 0) == seed:
            runs.append(config.parent)
    if len(runs) != 1:
        sys.exit(f"{results}: {len(runs)} runs with train.seed = {seed}, expected one")
    test = runs[0] / "split" / "test.txt"  # written when the run starts: `clip<TAB>class`
    if not test.is_file():
        sys.exit(f"{test}: missing (the run has not started)")
    return [Path(line.split("\t")[0]).name for line in test.read_text().splitlines()
            if line.strip()]


def ser_list(path: Path, names: list[str], y) -> "np.ndarray":
    """Indices into `names` of the clips of one of ser's split lists (`clip<TAB>class`), their
    classes checked against the peer's labels."""
    import numpy as np
    from features import CLASSES
    index = {n: i for i, n in enumerate(names)}
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        clip, label = line.split("\t")[:2]
        i = index.get(Path(clip).name)
        if i is None:
            sys.exit(f"{path}: clip {clip} is not one of the peer's clips")
        if CLASSES[y[i]] != label.strip():
            sys.exit(f"{path}: clip {clip} is {label} in ser, {CLASSES[y[i]]} in the peer")
        out.append(i)
    return np.array(sorted(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer", type=Path, required=True, help="the peer's folder (read only)")
    ap.add_argument("--wav", type=Path, required=True, help="EmoDB wav folder")
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1, help="TensorFlow intra/inter-op threads")
    ap.add_argument("--ser-results", type=Path, default=None,
                    help="ser results folder whose runs' test clips each seed must reproduce")
    ap.add_argument("--split-lists", type=Path, default=None,
                    help="train/test on ser's split: DIR/seed-<S>/{train,valid,test}.txt")
    ap.add_argument("--check-only", action="store_true",
                    help="with --ser-results: check the splits and stop (no training)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(args.threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(args.threads))
    sys.path.insert(0, str(args.peer.resolve()))
    import numpy as np
    from features import CLASSES, emodb_files, extract, versions  # the peer's modules
    from train import random_split, tf_info, train_eval

    files = emodb_files(args.wav)
    names = [p.name for p, _, _ in files]
    y = np.array([CLASSES.index(c) for _, _, c in files])

    # Check every seed's split before the slow part.
    splits = {}
    for seed in args.seeds:
        if args.split_lists is None:
            split = random_split(len(y), y, seed)
        else:
            split = tuple(ser_list(args.split_lists / f"seed-{seed}" / f"{part}.txt", names, y)
                          for part in ("train", "valid", "test"))
        if args.ser_results is not None:
            peer = sorted(names[i] for i in split[2])
            ser = sorted(ser_test_clips(args.ser_results, seed))
            if peer != ser:
                only_peer = sorted(set(peer) - set(ser))[:5]
                only_ser = sorted(set(ser) - set(peer))[:5]
                sys.exit(f"seed {seed}: the peer's test clips differ from ser's "
                         f"({len(peer)} / {len(ser)} clips; only the peer's: {only_peer}, "
                         f"only ser's: {only_ser})")
            print(f"seed {seed}: the peer's {len(peer)} test clips are ser's", flush=True)
        splits[seed] = split
    if args.check_only:
        return

    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from models import build_1d

    t0 = time.perf_counter()
    x = np.stack([extract(p)[0] for p, _, _ in files]).astype(np.float32)[..., None]
    print(f"features of {len(files)} clips: {time.perf_counter() - t0:.1f} s", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        csv = args.out / f"seed-{seed}.csv"
        if csv.exists():
            print(f"seed {seed}: {csv} exists, kept", flush=True)
            continue
        models = []

        def build():
            models.append(build_1d())
            return models[-1]

        r = train_eval(build, x, y, splits[seed], seed, args.epochs, tag="1d/random")
        te = splits[seed][2]
        probs = models[-1].predict(x[te], batch_size=32, verbose=0)
        pred = probs.argmax(axis=1)
        acc = float((pred == y[te]).mean())
        if abs(acc - r["test_accuracy"]) > 1e-12:
            sys.exit(f"seed {seed}: accuracy of the kept model {acc} is not train_eval's "
                     f"{r['test_accuracy']}")
        rows = ["clip,true,predicted," + ",".join(CLASSES)]
        for i, p, pr in zip(te, pred, probs):
            rows.append(f"{names[i]},{CLASSES[y[i]]},{CLASSES[p]},"
                        + ",".join(f"{v:.6f}" for v in pr))
        keep = ("seed", "epochs", "batch_size", "n_train", "n_val", "n_test", "params",
                "test_accuracy", "test_f1_macro", "test_f1_weighted", "confusion_matrix",
                "confusion_matrix_axes", "final_val_accuracy", "train_wall_s")
        meta = {k: r[k] for k in keep}
        meta.update(versions=versions(), tf=tf_info(), threads=args.threads,
                    split=("ser's lists " + str(args.split_lists / f"seed-{seed}")
                           if args.split_lists else "the peer's train.random_split"),
                    peer="scripts/peer_predictions.py (peer: features.py, train.py, models.py)")
        tmp = csv.with_suffix(".tmp")
        (args.out / f"seed-{seed}.json").write_text(json.dumps(meta, indent=1) + "\n")
        tmp.write_text("\n".join(rows) + "\n")
        tmp.replace(csv)
        print(f"seed {seed}: acc={r['test_accuracy']:.4f} f1m={r['test_f1_macro']:.4f} "
              f"fit {r['train_wall_s']:.0f} s -> {csv}", flush=True)


if __name__ == "__main__":
    main()
