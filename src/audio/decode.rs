//! Decoding audio files (WAV, FLAC, MP3, OGG/Vorbis via symphonia) to mono f32 at the file's rate.
//!
//! Samples are scaled like libsndfile (and so `librosa.load`): 16-bit `x / 32768`, 24-bit
//! `x / 2^23`, 32-bit `x / 2^31`, unsigned 8-bit `(x − 128) / 128`; doubles are rounded to f32.
//! Channels are mixed down by their mean in f32, summed in channel order then divided by the
//! channel count, as `np.mean(y, axis=0)` does.
//!
//! The container is found from the bytes, not the extension (a FLAC named `.wav` decodes as
//! FLAC). Bad input is an [`Error::Decode`] naming the file and the problem: not audio, corrupt,
//! truncated (with the frames the header promises and the frames present), no samples, an
//! impossible header (0 channels, more than a WAV may have, 0 Hz), or non-finite float samples.
//! Nothing is allocated from a header's claimed length beyond what the file's size can hold.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::audio::conv::FromSample;
use symphonia::core::audio::sample::Sample;
use symphonia::core::audio::{Audio, AudioBuffer, GenericAudioBufferRef};
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::base::{Error, Result};

/// Most channels a WAV file may have: as many as symphonia's reader gives positions to.
const WAV_MAX_CHANNELS: usize = 26;

/// A decoded file: mono (mean of channels) f32 samples at the file's own rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Mono samples, one per frame.
    pub samples: Vec<f32>,
    /// The file's sample rate (Hz).
    pub sample_rate: u32,
    /// Channels in the file (before the mix-down).
    pub channels: usize,
}

/// What a file's header says, read without decoding the audio.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    /// Sample rate (Hz).
    pub sample_rate: u32,
    /// Number of channels.
    pub channels: usize,
    /// Frames (samples per channel), when the container states them. Exact for WAV and FLAC;
    /// for MP3 without a Xing/LAME header it may be absent or an estimate.
    pub frames: Option<u64>,
    /// `frames / sample_rate`.
    pub seconds: Option<f64>,
    /// symphonia's short codec name: `pcm_s16le`, `pcm_f32le`, `flac`, `mp3`, `vorbis`, ...
    pub codec: String,
}

/// Reads a file's header: rate, channels, length and codec. Cheap: no audio is decoded.
pub fn probe(path: &Path) -> Result<AudioInfo> {
    guarded(path, || Ok(Source::open(path)?.info()))
}

/// Decodes a whole file to mono f32 at its own rate.
pub fn decode(path: &Path) -> Result<Decoded> {
    guarded(path, || {
        let mut src = Source::open(path)?;
        let (decoded, _) = src.decode(path, None)?;
        Ok(decoded)
    })
}

/// Decodes at least the first `limit(rate)` frames of a file (or all of it), and returns them with
/// the file's total length in frames.
///
/// Only WAV files stop early: their header's frame count is exact and checked against the file's
/// size, so the total is known without decoding the rest. Other formats are decoded entirely.
pub(crate) fn decode_prefix(
    path: &Path,
    limit: impl FnOnce(u32) -> usize,
) -> Result<(Decoded, u64)> {
    guarded(path, || {
        let mut src = Source::open(path)?;
        let want = limit(src.sample_rate);
        src.decode(path, Some(want))
    })
}

/// Runs `f`, turning a panic inside the decoders into an error naming the file, so that one
/// malformed file cannot bring down a corpus run. (None is known; the damaged-file tests look.)
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what =
            crate::base::error::panic_message(&*payload).unwrap_or_else(|| "unknown panic".into());
        Err(Error::decode(
            path,
            format!("the decoder failed on malformed data ({what})"),
        ))
    })
}

/// An opened, probed file with its audio track's parameters checked.
struct Source {
    format: Box<dyn FormatReader + 'static>,
    track_id: u32,
    params: AudioCodecParameters,
    sample_rate: u32,
    channels: usize,
    frames: Option<u64>,
    file_len: u64,
    is_wav: bool,
    codec: String,
}

impl Source {
    fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::io(
                path,
                std::io::Error::new(
                    ErrorKind::IsADirectory,
                    "is a directory, expected an audio file",
                ),
            ));
        }
        let file_len = meta.len();
        if file_len == 0 {
            return Err(Error::decode(path, "empty file (0 bytes)"));
        }
        // symphonia's WAV reader takes 1 to 26 channels, but multiplies the count in 16 bits
        // before it checks it (a build with overflow checks panics on 16,384 or more): a count
        // past what it takes is refused here, by name.
        if let Some(fmt) = wav_layout(path, file_len).and_then(|l| l.fmt) {
            if usize::from(fmt.channels) > WAV_MAX_CHANNELS {
                return Err(Error::decode(
                    path,
                    format!(
                        "impossible header: {} channels (a WAV file may have 1 to \
                         {WAV_MAX_CHANNELS})",
                        fmt.channels
                    ),
                ));
            }
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        // The extension is only a hint for the order of guesses; the content decides.
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| {
                Error::decode(
                    path,
                    match e {
                        SymError::Unsupported(_) => match wav_header_problem(path, file_len) {
                            Some(p) => format!("unsupported WAV ({p}): {e}"),
                            None => format!(
                                "not a recognised audio file (expected WAV, FLAC, MP3 or \
                                 OGG/Vorbis): {e}"
                            ),
                        },
                        SymError::IoError(ref io) if io.kind() == ErrorKind::UnexpectedEof => {
                            format!(
                                "truncated: the file ({file_len} bytes) ends while its container \
                                 structure is being read ({e})"
                            )
                        }
                        // symphonia's words are terse; a WAV's fmt fields say what is wrong.
                        _ => match wav_header_problem(path, file_len) {
                            Some(p) if p.starts_with("impossible") => format!("{p} ({e})"),
                            Some(p) => format!("unreadable header ({p}): {e}"),
                            None => format!("unreadable header: {e}"),
                        },
                    },
                )
            })?;
        let is_wav = format.format_info().short_name == "wave";
        let track = format
            .default_track(TrackType::Audio)
            .ok_or_else(|| Error::decode(path, "no audio track"))?;
        let track_id = track.id;
        let frames = track.num_frames;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .cloned()
            .ok_or_else(|| Error::decode(path, "the audio track has no codec parameters"))?;
        let sample_rate = match params.sample_rate {
            Some(0) => return Err(Error::decode(path, "impossible header: sample rate 0 Hz")),
            None => return Err(Error::decode(path, "header gives no sample rate")),
            Some(r) => r,
        };
        let channels = params.channels.as_ref().map_or(0, |c| c.count());
        if channels == 0 {
            return Err(Error::decode(path, "impossible header: 0 channels"));
        }
        let codec = symphonia::default::get_codecs()
            .get_audio_decoder(params.codec)
            .map(|d| d.codec.info.short_name.to_string())
            .unwrap_or_else(|| format!("unsupported codec {:?}", params.codec));
        Ok(Self {
            format,
            track_id,
            params,
            sample_rate,
            channels,
            frames,
            file_len,
            is_wav,
            codec,
        })
    }

    fn info(&self) -> AudioInfo {
        AudioInfo {
            sample_rate: self.sample_rate,
            channels: self.channels,
            frames: self.frames,
            seconds: self.frames.map(|f| f as f64 / self.sample_rate as f64),
            codec: self.codec.clone(),
        }
    }

    /// Decodes the track, all of it or (WAV only) its first `want` frames; returns the samples and
    /// the file's length in frames.
    fn decode(&mut self, path: &Path, want: Option<usize>) -> Result<(Decoded, u64)> {
        let mut decoder: Box<dyn AudioDecoder> = symphonia::default::get_codecs()
            .make_audio_decoder(&self.params, &AudioDecoderOptions::default())
            .map_err(|e| Error::decode(path, format!("no decoder for {}: {e}", self.codec)))?;
        // WAV headers state the exact length, so a long file need not be read past `want`.
        let stop_at = match (want, self.frames) {
            (Some(w), Some(_)) if self.is_wav => Some(w),
            _ => None,
        };
        // Reserve no more than the file could hold (a header may lie): every codec here spends at
        // least a byte per frame except lossless/lossy compression, which then grows the vector.
        let hint = self
            .frames
            .unwrap_or(0)
            .min(self.file_len)
            .min(stop_at.map_or(u64::MAX, |w| w as u64));
        let mut samples: Vec<f32> = Vec::with_capacity(hint as usize);
        let mut truncated_by: Option<String> = None;
        let mut stopped_early = false;
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(SymError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => {
                    truncated_by = Some(e.to_string());
                    break;
                }
                // A chained OGG stream whose parameters change: keep the first stream only.
                Err(SymError::ResetRequired) => break,
                Err(e) => {
                    return Err(Error::decode(
                        path,
                        format!("corrupt data after frame {}: {e}", samples.len()),
                    ))
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let buf = decoder.decode(&packet).map_err(|e| {
                Error::decode(
                    path,
                    format!("corrupt data at frame {}: {e}", samples.len()),
                )
            })?;
            let take = stop_at.map_or(usize::MAX, |w| w.saturating_sub(samples.len()));
            append_mono(&buf, &mut samples, take, self.channels)
                .map_err(|m| Error::decode(path, m))?;
            if stop_at.is_some_and(|w| samples.len() >= w) {
                stopped_early = true;
                break;
            }
        }
        let decoded_frames = samples.len() as u64;

        let total = if stopped_early {
            // The rest was not read: check the file is long enough to hold what the header says.
            let expected = self.frames.unwrap_or(decoded_frames);
            if let Some(found) = wav_frames_present(path, self.file_len) {
                if found < expected {
                    return Err(truncated(path, expected, found, self.sample_rate, true));
                }
            }
            expected
        } else {
            // Only WAV and FLAC state exact lengths; MP3's may be an estimate.
            let exact = self.is_wav || self.codec == "flac";
            match self.frames {
                Some(expected) if exact && decoded_frames < expected => {
                    let found = if self.is_wav {
                        wav_frames_present(path, self.file_len).unwrap_or(decoded_frames)
                    } else {
                        decoded_frames
                    };
                    return Err(truncated(
                        path,
                        expected,
                        found.min(expected),
                        self.sample_rate,
                        self.is_wav,
                    ));
                }
                _ => {}
            }
            // A streamed WAV (no data length) is read until the file ends, which symphonia
            // reports as an unexpected end; it is complete if every whole frame was decoded.
            let streamed_complete = self.is_wav
                && self.frames.is_none()
                && wav_frames_present(path, self.file_len) == Some(decoded_frames);
            if let Some(why) = truncated_by.filter(|_| !streamed_complete) {
                let message = if self.is_wav && self.frames.is_none() {
                    format!(
                        "WAV header gives no data length (a streamed file) and reading stopped \
                         after {decoded_frames} frames ({why}): rewrite the file with a complete \
                         header (e.g. `sox in.wav out.wav`)"
                    )
                } else {
                    format!(
                        "truncated: the data ends mid-packet after {decoded_frames} frames ({why})"
                    )
                };
                return Err(Error::decode(path, message));
            }
            decoded_frames
        };
        if total == 0 {
            return Err(Error::decode(
                path,
                "contains no audio samples (0 frames); silence must still have samples",
            ));
        }
        Ok((
            Decoded {
                samples,
                sample_rate: self.sample_rate,
                channels: self.channels,
            },
            total,
        ))
    }
}

/// `found` counts whole frames in the file (`counted`, WAV) or frames that decoded (others).
fn truncated(path: &Path, expected: u64, found: u64, rate: u32, counted: bool) -> Error {
    let secs = expected as f64 / rate as f64;
    let tail = if counted {
        format!("the file holds {found}")
    } else {
        format!("only {found} decode before the file ends")
    };
    Error::decode(
        path,
        format!("truncated: the header promises {expected} frames ({secs:.3} s) but {tail}"),
    )
}

/// Appends up to `take` frames of `buf`, mixed to mono, to `out`. Float samples must be finite.
fn append_mono(
    buf: &GenericAudioBufferRef<'_>,
    out: &mut Vec<f32>,
    take: usize,
    channels: usize,
) -> std::result::Result<(), String> {
    let first = out.len();
    match buf {
        GenericAudioBufferRef::U8(b) => mix(b, out, take),
        GenericAudioBufferRef::U16(b) => mix(b, out, take),
        GenericAudioBufferRef::U24(b) => mix(b, out, take),
        GenericAudioBufferRef::U32(b) => mix(b, out, take),
        GenericAudioBufferRef::S8(b) => mix(b, out, take),
        GenericAudioBufferRef::S16(b) => mix(b, out, take),
        GenericAudioBufferRef::S24(b) => mix(b, out, take),
        GenericAudioBufferRef::S32(b) => mix(b, out, take),
        GenericAudioBufferRef::F32(b) => {
            check_finite(b, take, first, |s| s.is_finite(), |s| s.to_string())?;
            mix(b, out, take)
        }
        GenericAudioBufferRef::F64(b) => {
            check_finite(b, take, first, |s| s.is_finite(), |s| s.to_string())?;
            mix(b, out, take)
        }
    }
    if buf.num_planes() != channels {
        return Err(format!(
            "the decoder returned {} channels where the header says {channels}",
            buf.num_planes()
        ));
    }
    Ok(())
}

/// The first non-finite sample of a float buffer, as an error naming its frame and channel.
fn check_finite<S: Sample>(
    buf: &AudioBuffer<S>,
    take: usize,
    first_frame: usize,
    finite: impl Fn(S) -> bool,
    show: impl Fn(S) -> String,
) -> std::result::Result<(), String> {
    let n = buf.frames().min(take);
    let mut bad: Option<(usize, usize, S)> = None;
    for (ch, plane) in buf.iter_planes().enumerate() {
        if let Some(i) = plane[..n].iter().position(|&s| !finite(s)) {
            if bad.is_none_or(|(j, _, _)| i < j) {
                bad = Some((i, ch, plane[i]));
            }
        }
    }
    match bad {
        None => Ok(()),
        Some((i, ch, s)) => Err(format!(
            "sample {} (frame {}, channel {ch}) is {}: float audio must be finite",
            (first_frame + i) * buf.num_planes() + ch,
            first_frame + i,
            show(s)
        )),
    }
}

/// Converts up to `take` frames to f32 and appends their channel mean.
fn mix<S: Sample>(buf: &AudioBuffer<S>, out: &mut Vec<f32>, take: usize)
where
    f32: FromSample<S>,
{
    let n = buf.frames().min(take);
    let start = out.len();
    let mut planes = buf.iter_planes();
    let Some(first) = planes.next() else { return };
    out.extend(first[..n].iter().map(|&s| f32::from_sample(s)));
    let count = buf.num_planes();
    if count > 1 {
        let acc = &mut out[start..];
        for plane in planes {
            for (a, &s) in acc.iter_mut().zip(&plane[..n]) {
                *a += f32::from_sample(s);
            }
        }
        // Divide (not multiply by 1/count) to round like numpy's mean.
        let c = count as f32;
        acc.iter_mut().for_each(|a| *a /= c);
    }
}

/// The `fmt ` fields of a WAV file that matter for explaining why it cannot be read.
struct WavFmt {
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
}

/// Where a WAV file's audio lies, read from its chunk headers (never trusting a length further
/// than the file's size).
struct WavLayout {
    fmt: Option<WavFmt>,
    /// Offset and stated length of the data chunk, when one was reached.
    data: Option<(u64, u64)>,
}

/// Walks a RIFF/WAVE file's chunk headers up to its data chunk. `None` when it is not RIFF/WAVE.
fn wav_layout(path: &Path, file_len: u64) -> Option<WavLayout> {
    let mut f = File::open(path).ok()?;
    let mut head = [0u8; 12];
    f.read_exact(&mut head).ok()?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let mut layout = WavLayout {
        fmt: None,
        data: None,
    };
    let mut pos = 12u64;
    // Each step moves forward by at least 8 bytes within the file, and the count is capped too.
    for _ in 0..4096 {
        let mut hdr = [0u8; 8];
        if f.seek(SeekFrom::Start(pos)).is_err() || f.read_exact(&mut hdr).is_err() {
            break;
        }
        let len = u64::from(u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]));
        match &hdr[0..4] {
            b"fmt " => {
                let mut b = [0u8; 16];
                if f.read_exact(&mut b).is_ok() {
                    layout.fmt = Some(WavFmt {
                        tag: u16::from_le_bytes([b[0], b[1]]),
                        channels: u16::from_le_bytes([b[2], b[3]]),
                        rate: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
                        bits: u16::from_le_bytes([b[14], b[15]]),
                    });
                }
            }
            b"data" => {
                layout.data = Some((pos + 8, len));
                break;
            }
            _ => {}
        }
        pos = match pos.checked_add(8 + len + (len & 1)) {
            Some(p) if p < file_len => p,
            _ => break,
        };
    }
    Some(layout)
}

/// Whole frames present in a WAV file's data chunk, from its header and the file's size. `None`
/// when the layout cannot be read (then symphonia's own errors stand).
fn wav_frames_present(path: &Path, file_len: u64) -> Option<u64> {
    let layout = wav_layout(path, file_len)?;
    let fmt = layout.fmt?;
    // symphonia reads PCM and float data in frames of channels × bytes per sample.
    let frame_bytes = u64::from(fmt.channels) * u64::from(fmt.bits / 8);
    let (start, len) = layout.data?;
    if frame_bytes == 0 {
        return None;
    }
    Some(file_len.saturating_sub(start).min(len) / frame_bytes)
}

/// A specific reason a WAV header is unusable, when its `fmt ` chunk shows one.
fn wav_header_problem(path: &Path, file_len: u64) -> Option<String> {
    let fmt = wav_layout(path, file_len)?.fmt?;
    let what = if fmt.channels == 0 {
        "0 channels".to_string()
    } else if fmt.rate == 0 {
        "sample rate 0 Hz".to_string()
    } else if fmt.bits == 0 {
        "0 bits per sample".to_string()
    } else {
        return Some(format!(
            "format tag {:#06x}, {} channels, {} Hz, {} bits per sample",
            fmt.tag, fmt.channels, fmt.rate, fmt.bits
        ));
    };
    Some(format!("impossible header: {what}"))
}
