// mel.wgsl: mel power spectrogram, the projection of every frame's power spectrum onto the
// Slaney mel filterbank (librosa's melspectrogram), the GPU twin of MelBank::project_block.
//
// Bindings (group 0):
//   0  uniform             Params (common.wgsl)
//   1  storage, read       power   [clip][frame][bin]
//   2  storage, read       start   [n_mels]      first non-zero bin of each filter
//   3  storage, read       offset  [n_mels + 1]  filter m's weights: weight[offset[m] .. offset[m+1]]
//   4  storage, read       weight  [...]         the non-zero weights, librosa's float32 basis
//   5  storage, read_write mel     [clip][mel][frame]
// Workgroup: 64 invocations along x. Dispatch: (ceil(n_mels * n_frames / 64), n_clips, 1).
// One invocation computes one (clip = global_id.y, mel * n_frames + frame = global_id.x) value:
// the dot product of its filter's non-zero range with the frame's powers, summed in bin order
// in f32 as the CPU path does. The filterbank is kept sparse (about 2 weights per bin instead of
// n_mels), as on the CPU.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> power: array<f32>;
@group(0) @binding(2) var<storage, read> start: array<u32>;
@group(0) @binding(3) var<storage, read> offset: array<u32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read_write> mel: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.y;
    let per_clip = p.n_mels * p.n_frames;
    if (gid.x >= per_clip || c >= p.n_clips) {
        return;
    }
    let m = gid.x / p.n_frames;
    let t = gid.x % p.n_frames;
    let row = (c * p.n_frames + t) * p.n_bins + start[m];
    let w0 = offset[m];
    let count = offset[m + 1u] - w0;
    var acc = 0.0;
    for (var k = 0u; k < count; k++) {
        acc += weight[w0 + k] * power[row + k];
    }
    mel[c * per_clip + gid.x] = acc;
}
