//! Time-domain frame features: zero-crossing rate and RMS as librosa computes them (centred
//! frames), and the report notebook's frame energy (uncentred).
//!
//! All three are sums over overlapping windows. They are computed from per-sample (ZCR) or
//! per-hop-block (RMS, energy) partial sums, so each sample is touched once however much the
//! frames overlap: ZCR from per-hop-block crossing counts (exact integers), RMS and energy from f64 block sums
//! (no running-sum cancellation, so quiet frames keep their relative precision).

/// librosa's `zero_crossings` threshold: samples with `|x| <= 1e-10` count as zero (positive).
/// Compared in f32, as NumPy 2 and numba do for float32 input.
const ZC_THRESHOLD: f32 = 1e-10;

/// Number of centred frames of `n` samples: `1 + n / hop` (the frame length must be even).
pub fn centred_frames(n: usize, hop: usize) -> usize {
    1 + n / hop
}

/// Number of energy frames of `n` samples: one per hop start below `n`, i.e. `ceil(n / hop)`.
pub fn energy_frames(n: usize, hop: usize) -> usize {
    n.div_ceil(hop)
}

/// Whether `x` counts as negative: sign bit set and `|x| > 1e-10`. NaN keeps its sign bit, as
/// `np.signbit` does; ±0 and tiny values are positive. Branch-free so loops vectorise.
#[inline]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must count as "not tiny", as in numpy
fn is_negative(x: f32) -> bool {
    (x.to_bits() >> 31 == 1) & !(x.abs() <= ZC_THRESHOLD)
}

/// Number of `j` in `lo..hi` (`lo >= 1`) where `y[j - 1]` and `y[j]` differ in sign.
fn crossings(y: &[f32], lo: usize, hi: usize) -> u32 {
    if lo >= hi {
        return 0;
    }
    y[lo - 1..hi - 1]
        .iter()
        .zip(&y[lo..hi])
        .map(|(&a, &b)| u32::from(is_negative(a) != is_negative(b)))
        .sum()
}

/// `librosa.feature.zero_crossing_rate(y, frame_length, hop_length, center=True)[0]`.
///
/// The signal is edge-padded by `frame_length / 2` on both sides; a frame's rate is the number of
/// sign changes between consecutive samples inside it, divided by `frame_length`.
pub fn zcr(y: &[f32], frame_length: usize, hop: usize) -> Vec<f32> {
    let n = y.len();
    let frames = centred_frames(n, hop);
    let half = frame_length / 2;
    // Frame t covers y[s .. s + frame_length] with s = t*hop - half (s may be negative). Its
    // pairs (j-1, j) have j in s+1 ..= s+frame_length-1; edge padding repeats the end samples,
    // so only pairs with 1 <= j <= n-1 can cross.
    let counts: Vec<u32> = if half % hop == 0 && frame_length % hop == 0 {
        // Whole hop blocks of pair indices, j in [b*hop, (b+1)*hop), counted once each: the frame
        // is blocks B .. B+L minus its first index j = B*hop (B = t - half/hop, L = fl/hop).
        let blocks: Vec<u32> = (0..n.div_ceil(hop))
            .map(|b| crossings(y, (b * hop).max(1), ((b + 1) * hop).min(n)))
            .collect();
        let (off_b, len_b) = ((half / hop) as isize, (frame_length / hop) as isize);
        (0..frames as isize)
            .map(|t| {
                let first = t - off_b;
                let lo = first.max(0) as usize;
                let hi = (first + len_b).clamp(0, blocks.len() as isize) as usize;
                let whole: u32 = blocks.get(lo..hi).map_or(0, |b| b.iter().sum());
                let j0 = first * hop as isize;
                let excluded = if j0 >= 1 && (j0 as usize) < n {
                    crossings(y, j0 as usize, j0 as usize + 1)
                } else {
                    0
                };
                whole - excluded
            })
            .collect()
    } else {
        (0..frames)
            .map(|t| {
                let s = (t * hop) as isize - half as isize;
                let lo = (s + 1).clamp(1, n as isize) as usize;
                let hi = (s + frame_length as isize).clamp(1, n as isize) as usize;
                crossings(y, lo, hi)
            })
            .collect()
    };
    counts
        .into_iter()
        .map(|c| (f64::from(c) / frame_length as f64) as f32)
        .collect()
}

/// `librosa.feature.rms(y, frame_length, hop_length, center=True, pad_mode='constant')[0]`:
/// `sqrt(mean(x²))` over frames centred on multiples of `hop`, zero-padded beyond the signal.
pub fn rms(y: &[f32], frame_length: usize, hop: usize) -> Vec<f32> {
    let frames = centred_frames(y.len(), hop);
    window_square_sums(y, frames, hop, frame_length / 2, frame_length)
        .into_iter()
        .map(|s| (s / frame_length as f64).sqrt() as f32)
        .collect()
}

/// The report notebook's frame energy: `[sum(y[i:i+frame_length]**2) for i in range(0, len(y),
/// hop)]` — uncentred frames starting at every hop, the last ones cut short by the end.
pub fn energy(y: &[f32], frame_length: usize, hop: usize) -> Vec<f32> {
    let frames = energy_frames(y.len(), hop);
    window_square_sums(y, frames, hop, 0, frame_length)
        .into_iter()
        .map(|s| s as f32)
        .collect()
}

/// Sum of `x²` (in f64) over `y[t*hop - offset .. t*hop - offset + len]`, clipped to the signal,
/// for `t` in `0..frames`.
fn window_square_sums(y: &[f32], frames: usize, hop: usize, offset: usize, len: usize) -> Vec<f64> {
    let n = y.len() as isize;
    if offset % hop == 0 && len % hop == 0 {
        // Windows are whole runs of hop-aligned blocks: sum each block once, then add runs.
        let blocks: Vec<f64> = y.chunks(hop).map(sum_squares).collect();
        let (off_b, len_b) = ((offset / hop) as isize, (len / hop) as isize);
        return (0..frames as isize)
            .map(|t| {
                let lo = (t - off_b).max(0) as usize;
                let hi = ((t - off_b + len_b).min(blocks.len() as isize)).max(0) as usize;
                blocks.get(lo..hi).map_or(0.0, |b| b.iter().sum())
            })
            .collect();
    }
    (0..frames)
        .map(|t| {
            let s = (t * hop) as isize - offset as isize;
            let lo = s.clamp(0, n) as usize;
            let hi = (s + len as isize).clamp(0, n) as usize;
            sum_squares(&y[lo..hi.max(lo)])
        })
        .collect()
}

/// Sum of squares in f64 with four partial sums (so the adds pipeline).
fn sum_squares(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let chunks = x.chunks_exact(4);
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    for c in chunks {
        for i in 0..4 {
            acc[i] += f64::from(c[i]) * f64::from(c[i]);
        }
    }
    acc[0] + acc[1] + acc[2] + acc[3] + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct transcription of librosa's definition: edge-pad, frame, count sign changes.
    fn zcr_naive(y: &[f32], fl: usize, hop: usize) -> Vec<f32> {
        let half = fl / 2;
        let mut padded = vec![y[0]; half];
        padded.extend_from_slice(y);
        padded.extend(std::iter::repeat_n(y[y.len() - 1], half));
        let frames = 1 + (padded.len() - fl) / hop;
        (0..frames)
            .map(|t| {
                let f = &padded[t * hop..t * hop + fl];
                let c = (1..fl)
                    .filter(|&i| is_negative(f[i]) != is_negative(f[i - 1]))
                    .count();
                c as f32 / fl as f32
            })
            .collect()
    }

    fn rms_naive(y: &[f32], fl: usize, hop: usize) -> Vec<f32> {
        let half = fl / 2;
        let mut padded = vec![0.0f32; half];
        padded.extend_from_slice(y);
        padded.extend(std::iter::repeat_n(0.0, half));
        let frames = 1 + (padded.len() - fl) / hop;
        (0..frames)
            .map(|t| {
                let f = &padded[t * hop..t * hop + fl];
                let s: f64 = f.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                (s / fl as f64).sqrt() as f32
            })
            .collect()
    }

    fn signal(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let x = i as f32;
                (x * 0.37).sin() * 0.5 + (x * 0.051).cos() * 0.3 - 0.05
            })
            .collect()
    }

    #[test]
    fn zcr_matches_definition() {
        for (n, fl, hop) in [
            (1000, 64, 16),
            (1003, 64, 16),
            (1003, 64, 32),
            (37, 64, 16),
            (500, 30, 7),
            (500, 64, 24),
            (2, 8, 4),
            (1, 8, 4),
        ] {
            let y = signal(n);
            assert_eq!(
                zcr(&y, fl, hop),
                zcr_naive(&y, fl, hop),
                "n={n} fl={fl} hop={hop}"
            );
        }
    }

    #[test]
    fn zcr_threshold_and_zero_sign() {
        // Tiny and negative-zero values count as positive: no crossings at all here.
        let y = [0.5, -1e-11, -0.0, 0.0, 1e-10, -1e-10, 0.3, 0.2];
        assert!(zcr(&y, 4, 2).iter().all(|&z| z == 0.0));
        // A clear alternation crosses at every pair inside the frame.
        let y = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0];
        let z = zcr(&y, 4, 2);
        assert_eq!(z, zcr_naive(&y, 4, 2));
        assert_eq!(z[2], 0.75); // frame y[2..6]: 3 crossings / 4
        assert_eq!(zcr(&[], 4, 2), vec![0.0]);
    }

    #[test]
    fn rms_matches_definition_aligned_and_not() {
        for (n, fl, hop) in [
            (2000, 256, 64),
            (2001, 256, 64),
            (100, 256, 64),
            (777, 100, 30),
        ] {
            let y = signal(n);
            let got = rms(&y, fl, hop);
            let want = rms_naive(&y, fl, hop);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-6 * w.abs(), "n={n}: {g} vs {w}");
            }
        }
        assert_eq!(rms(&[], 4, 2), vec![0.0]);
    }

    #[test]
    fn energy_is_uncentred_with_short_tail() {
        let y: Vec<f32> = (1..=10).map(|i| i as f32).collect();
        // Starts 0, 3, 6, 9; frames of 4 samples, the last one has a single sample.
        let e = energy(&y, 4, 3);
        assert_eq!(e, vec![30.0, 126.0, 294.0, 100.0]);
        // The notebook's 56,000-sample clip: 110 values.
        assert_eq!(energy(&vec![0.1; 56_000], 2048, 512).len(), 110);
        assert_eq!(energy_frames(51_200, 512), 100);
        assert_eq!(centred_frames(56_000, 512), 110);
        assert!(energy(&[], 4, 2).is_empty());
        // Aligned block path against the direct path.
        let y = signal(5000);
        let blocks = energy(&y, 2048, 512);
        for (t, &v) in blocks.iter().enumerate() {
            let s = t * 512;
            let want: f64 = y[s..(s + 2048).min(5000)]
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum();
            assert!((f64::from(v) - want).abs() <= 1e-6 * want, "{t}");
        }
    }
}
