"""The peer's run_1d.py for any filter stack: seeds of the report's 1D CNN, one process.

Run by `ser bench sweep` once per filter set, the way a user of the peer runs run_1d.py once per
configuration (run_1d.py itself builds only (512, 512, 128)). Everything else is the peer's own
code, imported from its folder ($SER_PEER_DIR): the cached features of `features.py`, the report
split, `models.build_1d`, `train.run_seeds` (seeded Keras training, metrics, results JSON).

Usage: SER_PEER_DIR=/tmp/peer python peer_sweep_1d.py --filters 256 128 64 \
           --speakers 03,08,09,10,11,12,13 --prefix sersweep_ --split random --seeds 0 1 2 \
           --epochs 20 --force
"""
import argparse
import functools
import os
import sys

sys.path.insert(0, os.environ["SER_PEER_DIR"])
from features import load_cached, parse_with_subset  # noqa: E402  (the peer's modules)
from train import add_run_args, run_seeds  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
add_run_args(ap, seeds=[0, 1, 2], epochs=20)
ap.add_argument("--filters", type=int, nargs="+", required=True)
args = parse_with_subset(ap)

from models import build_1d  # noqa: E402  (imports Keras: part of the measured start-up)

x1, _, y, speakers, _ = load_cached(args.speakers)
filters = tuple(args.filters)
run_seeds(args, functools.partial(build_1d, filters), x1[..., None], y, speakers,
          name="1d_" + "-".join(map(str, filters)), model=f"1d {filters}")
