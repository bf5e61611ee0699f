// frames.wgsl: zero-crossing rate and RMS per centred frame (librosa's zero_crossing_rate and
// rms with center=True), the GPU twin of src/features/frames.rs.
//
// Bindings (group 0):
//   0  uniform             Params (common.wgsl)
//   1  storage, read       signal [clip][sample]
//   2  storage, read_write zcr    [clip][frame]
//   3  storage, read_write rms    [clip][frame]
// Workgroup: 64 invocations along x. Dispatch: (ceil(n_frames / 64), n_clips, 1).
// One invocation computes one (clip = global_id.y, frame = global_id.x): it walks the
// frame_length samples of its frame once, counting sign changes and summing squares.
//
// Frame t covers samples s .. s + frame_length with s = t * hop - frame_length / 2. ZCR pads by
// repeating the edge samples, so only pairs (j - 1, j) with 1 <= j <= n - 1 can cross; RMS pads
// with zeros, so samples outside the signal add nothing. The CPU sums squares in f64; here a
// compensated (Kahan) f32 sum keeps the 2048-term sum to a few ulps instead of ~n ulps.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> signal: array<f32>;
@group(0) @binding(2) var<storage, read_write> zcr: array<f32>;
@group(0) @binding(3) var<storage, read_write> rms: array<f32>;

// librosa's zero_crossings: sign bit set and |x| > 1e-10 (tiny values and -0.0 count positive).
fn is_negative(x: f32) -> bool {
    return (bitcast<u32>(x) >> 31u) == 1u && !(abs(x) <= 1e-10);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    let c = gid.y;
    if (t >= p.n_frames || c >= p.n_clips) {
        return;
    }
    let n = i32(p.n_samples);
    let fl = i32(p.frame_length);
    let base = c * p.n_samples;
    let s = i32(t * p.hop) - fl / 2;

    // RMS over the zero-padded frame.
    let lo = clamp(s, 0, n);
    let hi = clamp(s + fl, 0, n);
    var sum = 0.0;
    var carry = 0.0;
    for (var j = lo; j < hi; j++) {
        let x = signal[base + u32(j)];
        let y = x * x - carry;
        let next = sum + y;
        carry = (next - sum) - y;
        sum = next;
    }
    rms[c * p.n_frames + t] = sqrt(sum / f32(p.frame_length));

    // ZCR over the edge-padded frame: pairs (j - 1, j) for j in s + 1 .. s + frame_length.
    let zlo = clamp(s + 1, 1, n);
    let zhi = clamp(s + fl, 1, n);
    var count = 0u;
    if (zlo < zhi) {
        var prev = is_negative(signal[base + u32(zlo - 1)]);
        for (var j = zlo; j < zhi; j++) {
            let cur = is_negative(signal[base + u32(j)]);
            count += select(0u, 1u, cur != prev);
            prev = cur;
        }
    }
    zcr[c * p.n_frames + t] = f32(count) / f32(p.frame_length);
}
