#!/usr/bin/env bash
# Regenerates tests/fixtures/: half a second of real speech (EmoDB 03a01Fa.wav, 22,050 Hz mono
# 16-bit, samples 11,025..22,049) as WAV, and the same samples as FLAC, MP3 and OGG/Vorbis.
#
# Needs sox, flac, lame and vorbis-tools (Debian: apt-get install -y sox flac lame vorbis-tools).
# Usage: scripts/make-fixtures.sh [SHARED_DIR]   (default: ../shared beside the crate)
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${1:-../shared}"
src="$shared/data/emodb/wav/03a01Fa.wav"
out=tests/fixtures
mkdir -p "$out"

# The cut: 11,025 samples (0.5 s) starting at sample 11,025, kept as 16-bit PCM.
sox "$src" -b 16 "$out/speech.wav" trim 11025s 11025s
# Lossless: must decode to exactly the WAV's samples.
flac --silent --force --best -o "$out/speech.flac" "$out/speech.wav"
# Lossy, 22,050 Hz kept (MPEG-2 layer III); the LAME tag records encoder delay and padding so a
# gapless decoder returns exactly 11,025 samples.
lame --quiet -b 64 "$out/speech.wav" "$out/speech.mp3"
# Vorbis at quality 4; the granule positions give the exact length.
oggenc --quiet -q 4 -o "$out/speech.ogg" "$out/speech.wav"

ls -l "$out"
