//! Sample-rate conversion that lines up with librosa's (soxr "hq") output sample for sample.
//!
//! The filter is rubato's asynchronous sinc resampler in the configuration measured to pass the
//! feature-parity bar (`shared/notes/rubato-resampling.md`): sinc length 256, Blackman-Harris²
//! window, cutoff 0.957, oversampling 256, linear interpolation, f32, chunks of 1,024 input frames.
//! Where the rate ratio is a simple fraction (16 kHz → 22,050 Hz: every output sample falls on one
//! of 441 sub-sample phases), the table instead holds exactly those phases and rubato looks them
//! up without interpolating: the same filter, evaluated exactly, at half the cost (measured
//! against soxr on `resampled-16k.wav`: max difference 5.5e-5 instead of 6.5e-4).
//!
//! rubato does not align its output with the input exactly (its own `process_all` trims a delay
//! rounded down to whole output samples), so this module does the alignment itself: `p` zeros are
//! prepended so that the filter delay, in output samples, is as close as possible to a whole
//! number `s`; then output `[s, s + n)` is kept. Lengths follow librosa: soxr yields
//! `round(len · to / from)` samples (half up) and `librosa.resample` pads that with zeros to
//! `ceil(len · to / from)`.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Indexing, Resampler as _, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

use crate::base::{Error, Result};

/// Sinc filter length (taps, in input samples).
const SINC_LEN: usize = 256;
/// Sub-sample positions tabulated per tap.
const OVERSAMPLING: usize = 256;
/// Cutoff relative to the lower Nyquist frequency; matches soxr hq's roll-off at the band edge.
const F_CUTOFF: f32 = 0.957;
/// Input frames per call into rubato.
const CHUNK: usize = 1024;
/// Lowest and highest source rates accepted. Outside this the ratio makes rubato's buffers huge
/// (or the filter meaningless), and no real corpus has such files.
const MIN_RATE: u32 = 1_000;
const MAX_RATE: u32 = 768_000;

/// A resampler for one `(from, to)` pair, built once and reused for many clips.
///
/// Building one tabulates 256 × 256 filter taps (a few ms), so callers that load many clips keep
/// one per source rate (see [`crate::audio::Loader`]). Equal rates make a no-op copy.
pub struct Resampler {
    from: u32,
    to: u32,
    engine: Option<Engine>,
}

/// The rubato state plus reusable buffers and the alignment worked out at construction.
struct Engine {
    inner: Async<f32>,
    /// Zeros prepended to every input.
    pad: usize,
    /// Output samples dropped from the front (the filter delay after padding).
    skip: usize,
    /// Padded input, reused between calls.
    scratch: Vec<f32>,
    /// Raw output, reused between calls.
    out: Vec<f32>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("pad", &self.engine.as_ref().map(|e| e.pad))
            .field("skip", &self.engine.as_ref().map(|e| e.skip))
            .finish()
    }
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz. Both must be in 1,000..=768,000 Hz unless equal.
    pub fn new(from: u32, to: u32) -> Result<Self> {
        Self::build(from, to).map_err(|why| Error::Data(format!("cannot resample: {why}")))
    }

    /// Like [`Resampler::new`], with the reason as plain text so callers can name their file.
    pub(crate) fn build(from: u32, to: u32) -> std::result::Result<Self, String> {
        if from == to {
            return Ok(Self {
                from,
                to,
                engine: None,
            });
        }
        for (what, rate) in [("source", from), ("target", to)] {
            if !(MIN_RATE..=MAX_RATE).contains(&rate) {
                return Err(format!(
                    "{what} rate {rate} Hz is outside the supported {MIN_RATE}..={MAX_RATE} Hz \
                     (resampling {from} Hz to {to} Hz)"
                ));
            }
        }
        let ratio = to as f64 / from as f64;
        let table = Table::for_rates(from, to);
        let params = SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris2)
            .f_cutoff(F_CUTOFF)
            .oversampling_factor(table.oversampling)
            .interpolation(table.interpolation);
        let inner = Async::<f32>::new_sinc(ratio, 1.0, &params, CHUNK, 1, FixedAsync::Input)
            .map_err(|e| format!("cannot build a {from} Hz -> {to} Hz resampler: {e}"))?;
        let (pad, skip) = alignment(from, to, &table);
        Ok(Self {
            from,
            to,
            engine: Some(Engine {
                inner,
                pad,
                skip,
                scratch: Vec::new(),
                out: Vec::new(),
            }),
        })
    }

    /// Source rate (Hz).
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Target rate (Hz).
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Resamples a whole clip: `ceil(len · to / from)` samples, exactly like `librosa.resample`
    /// (soxr's `round(len · to / from)` samples, then zeros up to the ceiling).
    pub fn process(&mut self, input: &[f32]) -> Result<Vec<f32>> {
        let n = resampled_len(input.len() as u64, self.from, self.to);
        let cannot = |why: String| Error::Data(format!("cannot resample: {why}"));
        let n = usize::try_from(n).map_err(|_| cannot("clip too long to resample".into()))?;
        self.process_prefix(input, input.len(), n).map_err(cannot)
    }

    /// Input frames needed so that the first `keep` output samples are exactly those of the whole
    /// clip: the filter reaches half its length past the last output's position.
    pub fn input_needed(&self, keep: usize) -> usize {
        if self.engine.is_none() {
            return keep;
        }
        let pos = (keep as u128 * self.from as u128).div_ceil(self.to as u128);
        usize::try_from(pos)
            .unwrap_or(usize::MAX)
            .saturating_add(SINC_LEN + 8)
    }

    /// The first `keep` output samples of a clip of `full_len` frames of which `input` holds the
    /// first `input.len()` (at least [`Resampler::input_needed`]`(keep)` of them, or all).
    /// Bit-identical to `process(whole)[..keep]`.
    pub(crate) fn process_prefix(
        &mut self,
        input: &[f32],
        full_len: usize,
        keep: usize,
    ) -> std::result::Result<Vec<f32>, String> {
        let (from, to) = (self.from, self.to);
        let Some(engine) = self.engine.as_mut() else {
            let mut out = input[..keep.min(input.len())].to_vec();
            out.resize(keep, 0.0);
            return Ok(out);
        };
        // soxr's own length; samples past it (up to librosa's ceiling) are zeros.
        let real = usize::try_from(rounded_len(full_len as u64, from, to))
            .map_err(|_| "clip too long to resample".to_string())?
            .min(keep);

        let Engine {
            inner,
            pad,
            skip,
            scratch,
            out,
        } = engine;
        inner.reset();
        scratch.clear();
        scratch.resize(*pad, 0.0);
        scratch.extend_from_slice(input);
        let total_in = scratch.len();

        let want = *skip + real;
        out.clear();
        out.resize(want + inner.output_frames_max(), 0.0);
        let out_len = out.len();
        let src = InterleavedSlice::new(&scratch[..], 1, total_in).map_err(|e| e.to_string())?;
        let mut dst =
            InterleavedSlice::new_mut(&mut out[..], 1, out_len).map_err(|e| e.to_string())?;

        let (mut consumed, mut produced) = (0usize, 0usize);
        while produced < want {
            let left = total_in - consumed;
            let mut idx = Indexing::new()
                .input_offset(consumed)
                .output_offset(produced);
            if left < inner.input_frames_next() {
                // Past the end: rubato fills the rest of the chunk with zeros (the tail flush).
                idx = idx.partial_len(left);
            }
            let (n_in, n_out) = inner
                .process_into_buffer(&src, &mut dst, Some(&idx))
                .map_err(|e| format!("resampling {from} Hz -> {to} Hz failed: {e}"))?;
            if n_out == 0 && left == 0 {
                // Cannot happen with a fixed input chunk; guards against an endless loop.
                return Err(format!(
                    "resampler {from} Hz -> {to} Hz stopped producing output"
                ));
            }
            consumed = (consumed + n_in).min(total_in);
            produced += n_out;
        }
        let mut result = Vec::with_capacity(keep);
        result.extend_from_slice(&out[*skip..want]);
        result.resize(keep, 0.0);
        Ok(result)
    }
}

/// Length of a clip of `len` frames after resampling, as `librosa.resample` returns it:
/// `ceil(len · to / from)`.
pub fn resampled_len(len: u64, from: u32, to: u32) -> u64 {
    if from == to {
        return len;
    }
    let v = (len as u128 * to as u128).div_ceil(from as u128);
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// soxr's output length: `round(len · to / from)`, halves rounded up.
fn rounded_len(len: u64, from: u32, to: u32) -> u64 {
    if from == to {
        return len;
    }
    let v = (2 * len as u128 * to as u128 + from as u128) / (2 * from as u128);
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// Zeros to prepend (`pad`) and output samples to drop (`skip`) so that output `skip + j` sits
/// at input time `j · from / to`.
///
/// rubato's sinc resampler puts input time `t` at output position `r · (t + delay)` with
/// `r = to / from` and `delay = sinc_len/2 − 1/r − 1/oversampling` input samples (measured; see
/// the module notes). Prepending `p` zeros moves the signal to `r · (t + delay + p)`; `p` is
/// chosen so that `r · (delay + p)` is as close as possible to a whole number. `r · p` steps in
/// units of `1 / (from / gcd)`, so the residual is below `gcd / (2 · from)` output samples
/// (< 0.002 for 16 kHz and 44.1 kHz) when the search covers one period.
fn alignment(from: u32, to: u32, table: &Table) -> (usize, usize) {
    let r = to as f64 / from as f64;
    let delay = table.delay(r);
    let period = (from / gcd(from, to)) as usize;
    let mut best = (0usize, f64::INFINITY);
    for p in 0..period.min(4096) {
        let pos = r * (delay + p as f64);
        let err = (pos - pos.round()).abs();
        if err < best.1 - 1e-12 {
            best = (p, err);
        }
    }
    let p = best.0;
    let skip = (r * (delay + p as f64)).round() as usize;
    (p, skip)
}

/// How the sinc filter is sampled for one rate pair.
///
/// Output sample `k` sits at input time `k · from / to`, whose fractional part is always a
/// multiple of `1 / (to / gcd)`. When that denominator is small (16 kHz → 22,050 Hz: 441), a
/// table with that many phases (or a multiple of it, at least [`OVERSAMPLING`]) holds the exact
/// filter for every output sample: nearest-phase lookup is then exact, one dot product per output
/// sample instead of linear interpolation's two, the same filter at half the cost. Other rate
/// pairs use the measured linear-interpolation configuration.
struct Table {
    oversampling: usize,
    interpolation: SincInterpolationType,
}

/// Largest exact phase table worth building (phases × [`SINC_LEN`] floats).
const MAX_EXACT_PHASES: usize = 2048;

impl Table {
    fn for_rates(from: u32, to: u32) -> Self {
        let phases = (to / gcd(from, to)) as usize;
        if phases <= MAX_EXACT_PHASES {
            Self {
                oversampling: phases * OVERSAMPLING.div_ceil(phases),
                interpolation: SincInterpolationType::Nearest,
            }
        } else {
            Self {
                oversampling: OVERSAMPLING,
                interpolation: SincInterpolationType::Linear,
            }
        }
    }

    /// Filter delay in input samples (see [`alignment`]); measured to hold for both lookups.
    fn delay(&self, r: f64) -> f64 {
        SINC_LEN as f64 / 2.0 - 1.0 / r - 1.0 / self.oversampling as f64
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_librosa() {
        // Checked against soxr 1.x + librosa.resample's fix_length.
        assert_eq!(rounded_len(1000, 16000, 22050), 1378);
        assert_eq!(resampled_len(1000, 16000, 22050), 1379);
        assert_eq!(rounded_len(1001, 44100, 22050), 501); // 500.5 rounds up
        assert_eq!(resampled_len(1001, 44100, 22050), 501);
        assert_eq!(rounded_len(32000, 16000, 22050), 44100);
        assert_eq!(resampled_len(32000, 16000, 22050), 44100);
        assert_eq!(resampled_len(7, 22050, 22050), 7);
    }

    #[test]
    fn alignment_residual_is_small() {
        for (from, to) in [
            (16000, 22050),
            (44100, 22050),
            (8000, 22050),
            (48000, 22050),
        ] {
            let table = Table::for_rates(from, to);
            let (p, s) = alignment(from, to, &table);
            let r = to as f64 / from as f64;
            let d = table.delay(r);
            let resid = (r * (d + p as f64) - s as f64).abs();
            assert!(
                resid < 0.002,
                "{from}->{to}: p {p}, s {s}, residual {resid}"
            );
        }
    }

    #[test]
    fn same_rate_is_a_copy() {
        let mut r = Resampler::new(22050, 22050).unwrap();
        let x = [0.5f32, -0.25, 0.125];
        assert_eq!(r.process(&x).unwrap(), x.to_vec());
    }

    #[test]
    fn rejects_absurd_rates() {
        let e = Resampler::new(1, 22050).unwrap_err().to_string();
        assert!(e.contains("1 Hz"), "{e}");
    }
}
