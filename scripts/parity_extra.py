"""librosa 0.11 references for the feature kinds added after ../shared/parity was made.

Input: the parity signals themselves, `PARITY/<stem>/signal.npy` (made by make_parity.py:
`librosa.load(path)` then `pad_or_truncate(y, 56000)`), so the Rust test and librosa see the same
float32 samples. Output per stem, float32 (n_fft 2048, hop 512, sr 22,050, centred):
  mfcc_deltas.npy  (60, 110)  vstack(M, delta(M), delta(M, order=2)), M = feature.mfcc(y=y, sr=sr)
  spectral.npy     (3, 110)   spectral_centroid, spectral_bandwidth (p=2), spectral_rolloff (0.85)
  chroma.npy       (12, 110)  feature.chroma_stft(y=y, sr=sr, tuning=0.0)

Usage: python scripts/parity_extra.py ../shared/parity tests/fixtures/parity-extra STEM...
"""
import json
import sys
from pathlib import Path

import librosa
import numpy as np

SR = 22050


def reference(y):
    mfcc = librosa.feature.mfcc(y=y, sr=SR)
    return {
        "mfcc_deltas": np.vstack([mfcc, librosa.feature.delta(mfcc), librosa.feature.delta(mfcc, order=2)]),
        "spectral": np.vstack([
            librosa.feature.spectral_centroid(y=y, sr=SR),
            librosa.feature.spectral_bandwidth(y=y, sr=SR),
            librosa.feature.spectral_rolloff(y=y, sr=SR),
        ]),
        # tuning=0.0: ser's chroma kind is A440-referenced, not re-tuned per clip (see FeatureKind::Chroma).
        "chroma": librosa.feature.chroma_stft(y=y, sr=SR, tuning=0.0),
    }


if __name__ == "__main__":
    parity, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    index = {"librosa": librosa.__version__, "numpy": np.__version__, "clips": {}}
    for stem in sys.argv[3:]:
        y = np.load(parity / stem / "signal.npy")
        assert y.dtype == np.float32 and y.shape == (56000,), (stem, y.dtype, y.shape)
        (out_dir / stem).mkdir(parents=True, exist_ok=True)
        arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in reference(y).items()}
        for k, v in arrays.items():
            np.save(out_dir / stem / f"{k}.npy", v)
        index["clips"][stem] = {k: list(v.shape) for k, v in arrays.items()}
    (out_dir / "index.json").write_text(json.dumps(index, indent=1) + "\n")
