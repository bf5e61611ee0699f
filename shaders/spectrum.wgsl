// spectrum.wgsl: Hann-windowed power spectrum |X[k]|^2 of every centred frame (librosa's
// stft(center=True, pad_mode='constant') squared), the GPU twin of src/features/stft.rs.
//
// Bindings (group 0):
//   0  uniform             Params (common.wgsl)
//   1  storage, read       signal  [clip][sample]
//   2  storage, read       window  [n_fft]       periodic Hann, rounded from f64 on the CPU
//   3  storage, read       twiddle [n_fft / 2]   exp(-2 pi i k / n_fft), rounded from f64
//   4  storage, read_write power   [clip][frame][bin], n_bins = n_fft / 2 + 1 bins per frame
// Workgroup: 256 invocations. Dispatch: (n_frames, n_clips, 1): one workgroup computes one
// (frame = workgroup_id.x, clip = workgroup_id.y) spectrum; each invocation loads, transforms
// and writes a strided share of the points.
//
// The real frame of N = n_fft samples goes through one complex FFT of M = N / 2 points
// (z[m] = x[2m] + i x[2m+1]), which needs M complex values = 8 KiB of workgroup memory for
// N = 2048, half of WebGPU's guaranteed 16 KiB. The FFT is an in-place radix-2
// decimation-in-time Cooley-Tukey: bit-reversed load, log2(M) butterfly stages separated by
// barriers. The real spectrum is then untangled with the conjugate symmetry of real signals:
//   E[k] = (Z[k] + conj Z[M-k]) / 2,  O[k] = (Z[k] - conj Z[M-k]) / 2i,
//   X[k] = E[k] + exp(-2 pi i k / N) O[k],  k = 0 ..= M.
// Twiddles come from a table computed in f64 so the only f32 rounding is in the butterflies,
// as in the CPU path's f32 rustfft.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> signal: array<f32>;
@group(0) @binding(2) var<storage, read> window: array<f32>;
@group(0) @binding(3) var<storage, read> twiddle: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> power: array<f32>;

const WG: u32 = 256u;
// Largest M = n_fft / 2 supported (n_fft = 2048); the Rust side checks n_fft.
const MAX_HALF: u32 = 1024u;

var<workgroup> buf: array<vec2<f32>, MAX_HALF>;

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// Sample i of clip `base`, zero outside the signal (constant padding).
fn sample_at(base: u32, i: i32) -> f32 {
    if (i < 0 || i >= i32(p.n_samples)) {
        return 0.0;
    }
    return signal[base + u32(i)];
}

// exp(-2 pi i k / N) for k in 0 ..= N / 2 (the table stops one short: k = N/2 is -1).
fn twiddle_at(k: u32, half: u32) -> vec2<f32> {
    if (k >= half) {
        return vec2<f32>(-1.0, 0.0);
    }
    return twiddle[k];
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    // The dispatch is exactly (n_frames, n_clips): no bounds check, so every invocation reaches
    // every barrier.
    let t = wid.x;
    let c = wid.y;
    let half = p.n_fft / 2u;
    let base = c * p.n_samples;
    let start = i32(t * p.hop) - i32(half);
    let shift = 32u - p.log2_half;

    // Window, pack even/odd samples as re/im, store at the bit-reversed index.
    for (var m = li; m < half; m += WG) {
        let i = start + i32(2u * m);
        let re = sample_at(base, i) * window[2u * m];
        let im = sample_at(base, i + 1) * window[2u * m + 1u];
        buf[reverseBits(m) >> shift] = vec2<f32>(re, im);
    }
    workgroupBarrier();

    // Butterfly stages: at span `len`, pairs (i, i + len) with twiddle exp(-2 pi i pos / 2len),
    // i.e. table entry pos * (N / 2len) = pos * half / len.
    var len = 1u;
    for (var stage = 0u; stage < p.log2_half; stage++) {
        for (var b = li; b < half / 2u; b += WG) {
            let pos = b & (len - 1u);
            let i = ((b - pos) << 1u) + pos;
            let j = i + len;
            let w = twiddle[pos * (half / len)];
            let u = buf[i];
            let v = cmul(w, buf[j]);
            buf[i] = u + v;
            buf[j] = u - v;
        }
        workgroupBarrier();
        len = len << 1u;
    }

    // Untangle the real spectrum and write the powers of bins 0 ..= half.
    let out = (c * p.n_frames + t) * p.n_bins;
    for (var k = li; k <= half; k += WG) {
        let zk = buf[k % half];
        let zm = buf[(half - k) % half];
        let zc = vec2<f32>(zm.x, -zm.y);
        let e = 0.5 * (zk + zc);
        let d = 0.5 * (zk - zc);
        // d / i = -i d
        let o = vec2<f32>(d.y, -d.x);
        let x = e + cmul(twiddle_at(k, half), o);
        power[out + k] = x.x * x.x + x.y * x.y;
    }
}
