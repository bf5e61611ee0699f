// db.wgsl: power_to_db(mel, ref=max, amin, top_db) per clip, in place (librosa's power_to_db
// with ref=np.max), the GPU twin of src/features/db.rs.
//
// Bindings (group 0):
//   0  uniform             Params (common.wgsl)
//   1  storage, read_write mel    [clip][mel][frame]: mel powers in, dB out
//   2  storage, read_write ref_db [clip]  10 log10(max(amin, clip max)): the shift applied, so
//                                          the caller can recover ref=1.0 dB (MFCC input)
// Workgroup: 256 invocations. Dispatch: (n_clips, 1, 1): one workgroup handles one whole clip
// (workgroup_id.x): a strided pass plus a tree reduction in workgroup memory finds the clip's
// largest power, then every invocation converts its strided share of values.
//
// With ref = max the largest dB value is exactly 0, so librosa's floor `max(dB) - top_db` is
// `-top_db`; it is still computed from the maximum, as the CPU does, so both round alike.
// db10 is a port of the CPU's db10 (src/features/db.rs), not the driver's log2, so both paths
// take the same few-ulp logarithm.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> mel: array<f32>;
@group(0) @binding(2) var<storage, read_write> ref_db: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, WG>;

// 10 log10(x) for finite normal x > 0: x = 2^e m with m in [sqrt(1/2), sqrt(2)),
// ln m = 2 atanh(s), s = (m - 1) / (m + 1), odd series to s^9.
fn db10(x: f32) -> f32 {
    let ix = bitcast<u32>(x) - 0x3f3504f3u;
    let e = f32(bitcast<i32>(ix) >> 23u);
    let m = bitcast<f32>((ix & 0x007fffffu) + 0x3f3504f3u);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let poly = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    // 10 log10(2) split so e * hi is exact; the large exact part is added last.
    return e * 3.010254 + (e * 4.605039e-5 + 4.3429448 * (2.0 * s * poly));
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let c = wid.x;
    let count = p.n_mels * p.n_frames;
    let base = c * count;

    // Powers are >= 0, so 0 is a neutral start for the maximum.
    var best = 0.0;
    for (var i = li; i < count; i += WG) {
        best = max(best, mel[base + i]);
    }
    red[li] = best;
    workgroupBarrier();
    for (var width = WG / 2u; width > 0u; width = width / 2u) {
        if (li < width) {
            red[li] = max(red[li], red[li + width]);
        }
        workgroupBarrier();
    }
    let top = max(p.amin, red[0]);
    let shift = db10(top);
    let floor_db = (db10(top) - shift) - p.top_db;

    for (var i = li; i < count; i += WG) {
        let v = db10(max(p.amin, mel[base + i])) - shift;
        mel[base + i] = max(v, floor_db);
    }
    if (li == 0u) {
        ref_db[c] = shift;
    }
}
