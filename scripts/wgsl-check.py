#!/usr/bin/env python3
"""Runs the WGSL feature kernels (shaders/) outside Rust, on any wgpu adapter (Mesa's lavapipe
included), and compares them with librosa's own values for one EmoDB clip (../shared/parity) and
with a float64 NumPy reference for a tone. A quick check of a kernel edit that needs no cargo
build: the same dispatches as src/features/gpu.rs, through wgpu-native.

Needs `pip install wgpu==0.19.0 numpy` (wgpu-py bundles wgpu-native) and ../shared/parity.
Usage: scripts/wgsl-check.py [PARITY_CLIP_DIR]   (default: ../shared/parity/03a01Fa)
"""
import os
import sys

import numpy as np
import wgpu

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
S = os.path.join(root, "shaders") + "/"
P = (sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "../shared/parity/03a01Fa")) + "/"
common = open(S + "common.wgsl").read()
sig = np.load(P + "signal.npy").astype(np.float32)
zref = np.load(P + "zcr.npy"); rref = np.load(P + "rms.npy"); mref = np.load(P + "mel_db.npy")
sr, n_fft, hop, fl, n_mels = 22050, 2048, 512, 2048, 128

def hz_to_mel(f):
    f = np.asarray(f, float); fsp = 200/3; mels = f/fsp
    minlog = 1000/fsp; ls = np.log(6.4)/27
    return np.where(f >= 1000, minlog + np.log(np.maximum(f,1e-10)/1000)/ls, mels)
def mel_to_hz(m):
    m = np.asarray(m, float); fsp = 200/3; minlog = 1000/fsp; ls = np.log(6.4)/27
    return np.where(m >= minlog, 1000*np.exp(ls*(m-minlog)), fsp*m)
fft = np.arange(n_fft//2+1) * (sr/n_fft)
melf = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(sr/2), n_mels+2))
fd = np.diff(melf); ramps = melf[:,None] - fft[None,:]
W = np.zeros((n_mels, n_fft//2+1), np.float32)
for i in range(n_mels):
    lo = -ramps[i]/fd[i]; up = ramps[i+2]/fd[i+1]
    W[i] = np.maximum(0, np.minimum(lo, up)).astype(np.float32)
W = (W * (2.0/(melf[2:n_mels+2]-melf[:n_mels]))[:,None]).astype(np.float32)
starts, offs, ws = [], [0], []
for row in W:
    nz = np.nonzero(row)[0]
    if len(nz): starts.append(nz[0]); ws.extend(row[nz[0]:nz[-1]+1])
    else: starts.append(0)
    offs.append(len(ws))

clips = [sig, np.zeros_like(sig), (0.3*np.sin(2*np.pi*440*np.arange(len(sig))/sr)).astype(np.float32)]
C, N = len(clips), len(sig); F = 1 + N//hop; B = n_fft//2+1
params = np.array([C, N, F, fl, hop, n_fft, 10, B, n_mels, 0, 0, 0], np.uint32)
params[9] = np.float32(80.0).view(np.uint32); params[10] = np.float32(1e-10).view(np.uint32)
win = (0.5 - 0.5*np.cos(2*np.pi*np.arange(n_fft)/n_fft)).astype(np.float32)
k = np.arange(n_fft//2); tw = np.stack([np.cos(-2*np.pi*k/n_fft), np.sin(-2*np.pi*k/n_fft)], 1).astype(np.float32)

ad = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
print("adapter:", ad.info["device"], "|", ad.info["description"], "|", ad.info["backend_type"])
dev = ad.request_device_sync()
U = wgpu.BufferUsage
def buf(data, usage=U.STORAGE): return dev.create_buffer_with_data(data=np.ascontiguousarray(data).tobytes(), usage=usage)
def empty(n): return dev.create_buffer(size=4*n, usage=U.STORAGE | U.COPY_SRC)
bp = buf(params, U.UNIFORM); bs = buf(np.concatenate(clips)); bw = buf(win); bt = buf(tw)
bst = buf(np.array(starts, np.uint32)); bo = buf(np.array(offs, np.uint32)); bwt = buf(np.array(ws, np.float32))
bz, br, bpow, bmel, bref = empty(C*F), empty(C*F), empty(C*F*B), empty(C*n_mels*F), empty(C)
def pipe(name):
    m = dev.create_shader_module(code=common + "\n" + open(S + name).read())
    return dev.create_compute_pipeline(layout="auto", compute={"module": m, "entry_point": "main"})
def group(p, bufs):
    return dev.create_bind_group(layout=p.get_bind_group_layout(0), entries=[{"binding": i, "resource": {"buffer": b, "offset": 0, "size": b.size}} for i, b in enumerate(bufs)])
pf, ps, pm, pd = pipe("frames.wgsl"), pipe("spectrum.wgsl"), pipe("mel.wgsl"), pipe("db.wgsl")
enc = dev.create_command_encoder(); cp = enc.begin_compute_pass()
for p, bufs, d in [(pf, [bp, bs, bz, br], ((F+63)//64, C, 1)), (ps, [bp, bs, bw, bt, bpow], (F, C, 1)),
                   (pm, [bp, bpow, bst, bo, bwt, bmel], ((n_mels*F+63)//64, C, 1)), (pd, [bp, bmel, bref], (C, 1, 1))]:
    cp.set_pipeline(p); cp.set_bind_group(0, group(p, bufs)); cp.dispatch_workgroups(*d)
cp.end(); dev.queue.submit([enc.finish()])
rd = lambda b: np.frombuffer(dev.queue.read_buffer(b), np.float32)
z, r, mel, ref = rd(bz).reshape(C, F), rd(br).reshape(C, F), rd(bmel).reshape(C, n_mels, F), rd(bref)
print("zcr", np.abs(z[0]-zref).max(), "rms", np.abs(r[0]-rref).max())
m = mref > -60
print("mel_db max diff above -60:", np.abs(mel[0]-mref)[m].max(), "all:", np.abs(mel[0]-mref).max(), "n", m.sum())
print("silence", np.abs(mel[1]).max(), z[1].max(), r[1].max(), ref[1])
# power check on tone vs numpy
x = np.pad(clips[2].astype(np.float64), n_fft//2)
fr = np.stack([x[t*hop:t*hop+n_fft]*win for t in range(F)])
pw = np.abs(np.fft.rfft(fr, axis=1))**2
mp = (W.astype(np.float64) @ pw.T)
db = 10*np.log10(np.maximum(1e-10, mp)); db -= db.max(); db = np.maximum(db, -80)
mm = db > -60
print("tone mel_db diff above -60:", np.abs(mel[2]-db)[mm].max(), "ref_db", ref[2], 10*np.log10(mp.max()))
ok = (np.abs(z[0] - zref).max() <= 1e-4 and np.abs(r[0] - rref).max() <= 1e-4
      and np.abs(mel[0] - mref)[m].max() <= 0.01 and np.abs(mel[2] - db)[mm].max() <= 0.01
      and np.abs(mel[1]).max() == 0.0)
print("OK" if ok else "FAILED: over 1e-4 (ZCR/RMS) or 0.01 dB (mel dB above -60 dB)")
sys.exit(0 if ok else 1)
