// common.wgsl: the parameter block every feature kernel reads (binding 0 of group 0).
//
// Prepended to each kernel's source by src/features/gpu.rs before compilation, so the four
// kernels agree on one layout. All fields are 4-byte scalars: 12 of them make 48 bytes, a
// multiple of 16 as uniform buffers require. The Rust side writes them in this order.
//
// Buffer layouts shared by the kernels (row-major, clip slowest):
//   signal  [clip][sample]        n_samples per clip, already padded/truncated
//   zcr/rms [clip][frame]
//   power   [clip][frame][bin]    n_bins = n_fft / 2 + 1
//   mel     [clip][mel][frame]    the CPU extractor's `n_mels × frames` matrix per clip

struct Params {
    n_clips: u32,       // clips in this dispatch
    n_samples: u32,     // samples per clip
    n_frames: u32,      // centred frames per clip: 1 + n_samples / hop
    frame_length: u32,  // ZCR / RMS frame (even)
    hop: u32,
    n_fft: u32,         // power of two, 16 ..= 2048
    log2_half: u32,     // log2(n_fft / 2): stages of the half-size complex FFT
    n_bins: u32,        // n_fft / 2 + 1
    n_mels: u32,
    top_db: f32,        // dB floor below the clip's maximum
    amin: f32,          // powers below it count as it (librosa's 1e-10)
    _pad: u32,
}
