//! The GPU feature front-end (`--features wgpu`): ZCR, RMS and mel dB of a batch of clips
//! computed by the WGSL kernels in `shaders/`, laid out as [`Extractor`](super::Extractor)
//! lays them out and equal to its values to float tolerance (ZCR/RMS within 1e-4, mel dB within
//! 0.01 dB above -60 dB; `tests/gpu.rs` checks both on lavapipe and on real GPUs).
//!
//! One call of [`GpuExtractor::extract`] uploads the batch as one buffer and records four
//! dispatches in one command buffer, so a batch costs one submission and one read-back:
//!
//! | kernel | one invocation / workgroup computes |
//! |---|---|
//! | `frames.wgsl` | ZCR and RMS of one (clip, frame) |
//! | `spectrum.wgsl` | a workgroup: the windowed power spectrum of one (clip, frame), radix-2 FFT in workgroup memory |
//! | `mel.wgsl` | one (clip, mel, frame) value of the sparse mel projection |
//! | `db.wgsl` | a workgroup: `power_to_db(ref = max, top_db)` of one whole clip |
//!
//! Everything that depends only on the configuration (Hann window, FFT twiddles, mel
//! filterbank) is computed on the CPU in f64 exactly as the CPU path computes it and uploaded
//! once, so the kernels differ from the CPU path only by f32 rounding in the sums.
//!
//! The device is the one Burn trains on: [`crate::base::device::wgpu_runtime`] brings wgpu up
//! once per process through Burn's `init_with_setup` and hands out both Burn's device and the raw
//! handles, so features and training share one adapter, one device and one queue.
//!
//! The GPU path computes in f32 throughout, which stays within 0.01 dB of librosa only while the
//! dB floor hides the quietest bins (`top_db` ≤ 100, the CPU path's own f32 limit); FFT sizes
//! are powers of two up to 2048 (the workgroup-memory FFT). Other configs are refused with an
//! [`Error`] naming the key.

use std::sync::mpsc;

use burn::tensor::wgpu::wgpu;
use wgpu::util::DeviceExt;

use super::{frames, hann_periodic, mel_basis, Dct, FeatureSet, Matrix, AMIN};
use crate::base::{Error, Result};
use crate::config::{FeatureConfig, FeatureKind};

const COMMON: &str = include_str!("../../shaders/common.wgsl");
const FRAMES: &str = include_str!("../../shaders/frames.wgsl");
const SPECTRUM: &str = include_str!("../../shaders/spectrum.wgsl");
const MEL: &str = include_str!("../../shaders/mel.wgsl");
const DB: &str = include_str!("../../shaders/db.wgsl");

/// Clips per dispatch by default: bounds what one batch holds on the device (the spectra of 64
/// report clips are 29 MB) while keeping thousands of workgroups in flight.
const DEFAULT_BATCH: usize = 64;
/// Largest FFT the workgroup-memory kernel holds (`MAX_HALF` in spectrum.wgsl, doubled).
const MAX_N_FFT: usize = 2048;
/// Deepest floor at which f32 keeps every unfloored bin within 0.01 dB (see `features::mod`).
const F32_TOP_DB_LIMIT: f64 = 100.0;
/// Workgroup sizes of the per-value kernels (frames.wgsl, mel.wgsl).
const LINEAR_WG: usize = 64;

/// ZCR, RMS and mel dB of a batch of clips, clip-major.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuBatch {
    /// Number of clips.
    pub clips: usize,
    /// Centred frames per clip (`1 + n / hop`).
    pub frames: usize,
    /// Mel bands.
    pub n_mels: usize,
    /// `[clip][frame]` zero-crossing rates.
    pub zcr: Vec<f32>,
    /// `[clip][frame]` RMS values.
    pub rms: Vec<f32>,
    /// `[clip][mel][frame]`: each clip's `n_mels × frames` matrix as the CPU returns it.
    pub mel_db: Vec<f32>,
    /// `[clip]`: `10 log10(max(amin, clip max power))`, the shift `ref = max` subtracted; adding
    /// it back gives `power_to_db(ref = 1.0)`, the MFCC input.
    pub ref_db: Vec<f32>,
}

impl GpuBatch {
    /// ZCR of clip `i` (as [`Extractor::zcr`](super::Extractor::zcr)).
    pub fn zcr(&self, i: usize) -> &[f32] {
        &self.zcr[i * self.frames..(i + 1) * self.frames]
    }

    /// RMS of clip `i` (as [`Extractor::rms`](super::Extractor::rms)).
    pub fn rms(&self, i: usize) -> &[f32] {
        &self.rms[i * self.frames..(i + 1) * self.frames]
    }

    /// Mel dB of clip `i` (as [`Extractor::mel_db`](super::Extractor::mel_db)).
    pub fn mel_db(&self, i: usize) -> Matrix {
        let n = self.n_mels * self.frames;
        Matrix {
            rows: self.n_mels,
            cols: self.frames,
            data: self.mel_db[i * n..(i + 1) * n].to_vec(),
        }
    }
}

/// The compiled kernels, the constant buffers and the device they live on.
pub struct GpuExtractor {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    kind: FeatureKind,
    frame_length: usize,
    hop: usize,
    n_fft: usize,
    n_mels: usize,
    top_db: f32,
    batch: usize,
    dct: Dct,
    frames_k: wgpu::ComputePipeline,
    spectrum_k: wgpu::ComputePipeline,
    mel_k: wgpu::ComputePipeline,
    db_k: wgpu::ComputePipeline,
    window: wgpu::Buffer,
    twiddle: wgpu::Buffer,
    mel_start: wgpu::Buffer,
    mel_offset: wgpu::Buffer,
    mel_weight: wgpu::Buffer,
}

impl std::fmt::Debug for GpuExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuExtractor")
            .field("adapter", &self.adapter.name)
            .field("kind", &self.kind)
            .field("n_fft", &self.n_fft)
            .field("n_mels", &self.n_mels)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

fn bad(key: &str, message: impl std::fmt::Display) -> Error {
    Error::device(
        "wgpu",
        format!("the GPU features cannot do features.{key}: {message} (use --backend flex)"),
    )
}

fn gpu_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::device("wgpu", format!("GPU features: {what}: {e}"))
}

impl GpuExtractor {
    /// Checks `cfg` (as [`Extractor::new`](super::Extractor::new) does, plus the GPU path's own
    /// limits), brings up wgpu adapter `device_index` (0: the best one; see
    /// [`crate::base::device::device`]) and compiles the kernels.
    pub fn new(cfg: &FeatureConfig, sample_rate: u32, device_index: usize) -> Result<Self> {
        check_config(cfg, sample_rate)?;
        let (_, setup) = crate::base::device::wgpu_runtime(device_index)?;
        Self::on(setup.device, setup.queue, &setup.adapter, cfg, sample_rate)
    }

    /// Builds the extractor on an existing device (checked config, see [`GpuExtractor::new`]).
    fn on(
        device: wgpu::Device,
        queue: wgpu::Queue,
        adapter: &wgpu::Adapter,
        cfg: &FeatureConfig,
        sample_rate: u32,
    ) -> Result<Self> {
        let sr = f64::from(sample_rate);
        let n_fft = cfg.n_fft;
        let limits = device.limits();
        // The FFT workgroup is 256 invocations and 8 KiB of workgroup memory: WebGPU's
        // guaranteed minimums, but say so clearly on a device that offers less.
        if limits.max_compute_invocations_per_workgroup < 256
            || limits.max_compute_workgroup_storage_size < 8192
        {
            return Err(gpu_error(
                "adapter too small",
                format!(
                    "{} allows {} invocations and {} bytes of workgroup memory; the FFT needs \
                     256 and 8192",
                    adapter.get_info().name,
                    limits.max_compute_invocations_per_workgroup,
                    limits.max_compute_workgroup_storage_size
                ),
            ));
        }

        let window: Vec<f32> = hann_periodic(n_fft).into_iter().map(|w| w as f32).collect();
        let twiddle: Vec<f32> = (0..n_fft / 2)
            .flat_map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / n_fft as f64;
                [a.cos() as f32, a.sin() as f32]
            })
            .collect();
        let fmax = cfg.fmax.unwrap_or(sr / 2.0);
        let basis = mel_basis(sr, n_fft, cfg.n_mels, cfg.fmin, fmax);
        // Each filter's non-zero bin range only, as the CPU's MelBank keeps it.
        let (mut starts, mut offsets, mut weights) = (Vec::new(), vec![0u32], Vec::new());
        for row in basis.data.chunks_exact(basis.cols) {
            let first = row.iter().position(|&w| w != 0.0);
            let last = row.iter().rposition(|&w| w != 0.0);
            match (first, last) {
                (Some(a), Some(b)) => {
                    starts.push(a as u32);
                    weights.extend_from_slice(&row[a..=b]);
                }
                _ => starts.push(0),
            }
            offsets.push(weights.len() as u32);
        }
        if weights.is_empty() {
            // A zero-size binding is invalid; one unused weight keeps the layout legal.
            weights.push(0.0);
        }

        let scope_mem = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let constant = |label: &str, bytes: &[u8]| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let window = constant("window", &f32_bytes(&window));
        let twiddle = constant("twiddle", &f32_bytes(&twiddle));
        let mel_start = constant("mel start", &u32_bytes(&starts));
        let mel_offset = constant("mel offset", &u32_bytes(&offsets));
        let mel_weight = constant("mel weight", &f32_bytes(&weights));
        let kernel = |name: &str, body: &str| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(format!("{COMMON}\n{body}").into()),
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let frames_k = kernel("frames.wgsl", FRAMES);
        let spectrum_k = kernel("spectrum.wgsl", SPECTRUM);
        let mel_k = kernel("mel.wgsl", MEL);
        let db_k = kernel("db.wgsl", DB);
        if let Some(e) = block_on(scope.pop()) {
            return Err(gpu_error("the kernels do not build on this adapter", e));
        }
        if let Some(e) = block_on(scope_mem.pop()) {
            return Err(gpu_error("out of GPU memory for the constant buffers", e));
        }
        Ok(Self {
            adapter: adapter.get_info(),
            limits,
            device,
            queue,
            kind: cfg.kind,
            frame_length: cfg.frame_length,
            hop: cfg.hop_length,
            n_fft,
            n_mels: cfg.n_mels,
            top_db: cfg.top_db.unwrap_or(F32_TOP_DB_LIMIT) as f32,
            batch: DEFAULT_BATCH,
            dct: Dct::new(cfg.n_mfcc, cfg.n_mels),
            frames_k,
            spectrum_k,
            mel_k,
            db_k,
            window,
            twiddle,
            mel_start,
            mel_offset,
            mel_weight,
        })
    }

    /// The adapter the kernels run on, e.g. `llvmpipe (LLVM 19.1.7, 256 bits) (Vulkan, Cpu;
    /// driver llvmpipe, Mesa 25.0.7)`.
    pub fn adapter(&self) -> String {
        let a = &self.adapter;
        format!(
            "{} ({:?}, {:?}; driver {}, {})",
            a.name, a.backend, a.device_type, a.driver, a.driver_info
        )
    }

    /// The feature kind [`GpuExtractor::model_input`] produces.
    pub fn kind(&self) -> FeatureKind {
        self.kind
    }

    /// Most clips per dispatch (default 64); a larger batch is split into dispatches of at most
    /// this many, and the adapter's buffer limits may lower it further.
    pub fn set_batch_limit(&mut self, clips: usize) {
        self.batch = clips.max(1);
    }

    /// Clips of `n_samples` that fit one dispatch: the configured batch, lowered to what the
    /// adapter's storage-buffer and dispatch limits allow; an error when not even one clip does.
    fn clips_per_dispatch(&self, n_samples: usize) -> Result<usize> {
        let frames = 1 + n_samples / self.hop;
        let bins = self.n_fft / 2 + 1;
        let biggest = (4 * n_samples)
            .max(4 * frames * bins)
            .max(4 * self.n_mels * frames) as u64;
        let limit = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        let max_groups = self.limits.max_compute_workgroups_per_dimension as usize;
        let groups = frames.max((self.n_mels * frames).div_ceil(LINEAR_WG));
        if biggest > limit || groups > max_groups {
            return Err(gpu_error(
                "clip too long for this adapter",
                format!(
                    "a clip of {n_samples} samples needs a {biggest}-byte buffer and {groups} \
                     workgroups per dimension; {} allows {limit} bytes and {max_groups}; shorten \
                     [audio] max_samples or use --backend flex",
                    self.adapter.name
                ),
            ));
        }
        Ok(self
            .batch
            .min((limit / biggest) as usize)
            .min(max_groups)
            .max(1))
    }

    /// ZCR, RMS and mel dB of every signal; all must have the same length (padded clips).
    pub fn extract(&self, signals: &[&[f32]]) -> Result<GpuBatch> {
        let n = signals.first().map_or(0, |s| s.len());
        if let Some((i, s)) = signals.iter().enumerate().find(|(_, s)| s.len() != n) {
            return Err(Error::Data(format!(
                "GPU features: a batch needs clips of one length (pad them first): clip {i} has \
                 {} samples, clip 0 has {n}",
                s.len()
            )));
        }
        let frames = 1 + n / self.hop;
        let mut out = GpuBatch {
            clips: 0,
            frames,
            n_mels: self.n_mels,
            zcr: Vec::with_capacity(signals.len() * frames),
            rms: Vec::with_capacity(signals.len() * frames),
            mel_db: Vec::with_capacity(signals.len() * frames * self.n_mels),
            ref_db: Vec::with_capacity(signals.len()),
        };
        if signals.is_empty() {
            return Ok(out);
        }
        let per = self.clips_per_dispatch(n)?;
        for chunk in signals.chunks(per) {
            self.run(chunk, n, &mut out)?;
        }
        Ok(out)
    }

    /// The model input of every signal for the configured kind, flattened row-major as
    /// [`Extractor::model_input`](super::Extractor::model_input) returns it. Energy and MFCC
    /// finish on the CPU (energy is a sum of squares, the MFCC a small DCT of the GPU's dB).
    pub fn model_input(&self, signals: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        if !self.kind.has_gpu_kernels() {
            return Err(bad("kind", format!("`{}` has no GPU kernels", self.kind)));
        }
        if self.kind == FeatureKind::Energy {
            return Ok(signals
                .iter()
                .map(|y| frames::energy(y, self.frame_length, self.hop))
                .collect());
        }
        let b = self.extract(signals)?;
        Ok((0..b.clips)
            .map(|i| match self.kind {
                FeatureKind::ZcrRms => [b.zcr(i), b.rms(i)].concat(),
                FeatureKind::Zcr => b.zcr(i).to_vec(),
                FeatureKind::Rms => b.rms(i).to_vec(),
                FeatureKind::MelDb => b.mel_db(i).data,
                FeatureKind::Mfcc => self.mfcc(&b, i).data,
                FeatureKind::Energy => frames::energy(signals[i], self.frame_length, self.hop),
                // Refused above (no kernels).
                FeatureKind::MfccDeltas
                | FeatureKind::Spectral
                | FeatureKind::ZcrRmsSpectral
                | FeatureKind::Chroma => Vec::new(),
            })
            .collect())
    }

    /// Every feature of every signal, as [`Extractor::all`](super::Extractor::all) computes
    /// them: ZCR, RMS and mel dB from the kernels, MFCCs from the kernels' dB, energy (a sum of
    /// squares) on the CPU.
    pub fn all(&self, signals: &[&[f32]]) -> Result<Vec<FeatureSet>> {
        let b = self.extract(signals)?;
        Ok((0..b.clips)
            .map(|i| FeatureSet {
                zcr: b.zcr(i).to_vec(),
                rms: b.rms(i).to_vec(),
                energy: frames::energy(signals[i], self.frame_length, self.hop),
                mel_db: b.mel_db(i),
                mfcc: self.mfcc(&b, i),
            })
            .collect())
    }

    /// MFCCs of clip `i` of `batch`: the DCT of `power_to_db(ref = 1.0)`, which is the GPU's
    /// `ref = max` dB plus the clip's shift (both floors sit `top_db` below the clip's maximum).
    pub fn mfcc(&self, batch: &GpuBatch, i: usize) -> Matrix {
        let mut m = batch.mel_db(i);
        let shift = batch.ref_db[i];
        for v in &mut m.data {
            *v += shift;
        }
        self.dct.apply(&m)
    }

    /// One dispatch of `chunk` (clips of `n` samples), appended to `out`.
    fn run(&self, chunk: &[&[f32]], n: usize, out: &mut GpuBatch) -> Result<()> {
        let d = &self.device;
        let clips = chunk.len();
        let frames = out.frames;
        let bins = self.n_fft / 2 + 1;
        let params = u32_bytes(&[
            clips as u32,
            n as u32,
            frames as u32,
            self.frame_length as u32,
            self.hop as u32,
            self.n_fft as u32,
            (self.n_fft / 2).trailing_zeros(),
            bins as u32,
            self.n_mels as u32,
            self.top_db.to_bits(),
            AMIN.to_bits(),
            0,
        ]);
        let mut signal = Vec::with_capacity(4 * (clips * n).max(1));
        for y in chunk {
            signal.extend(y.iter().flat_map(|v| v.to_le_bytes()));
        }
        if signal.is_empty() {
            // Empty clips: a zero-size binding is invalid, and no sample is read anyway.
            signal.extend([0; 4]);
        }

        let scope_mem = d.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let scope = d.push_error_scope(wgpu::ErrorFilter::Validation);
        let params = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: &params,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let signal = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("signal"),
            contents: &signal,
            usage: wgpu::BufferUsages::STORAGE,
        });
        let storage = |label: &str, values: usize| {
            d.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 4 * values as u64,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        };
        let (n_zcr, n_mel) = (clips * frames, clips * self.n_mels * frames);
        let zcr = storage("zcr", n_zcr);
        let rms = storage("rms", n_zcr);
        let power = storage("power", clips * frames * bins);
        let mel = storage("mel", n_mel);
        let ref_db = storage("ref_db", clips);
        let total = 4 * (2 * n_zcr + n_mel + clips) as u64;
        let staging = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: total,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let group = |pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]| {
            let entries: Vec<wgpu::BindGroupEntry> = buffers
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource: b.as_entire_binding(),
                })
                .collect();
            d.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
        };
        let g_frames = group(&self.frames_k, &[&params, &signal, &zcr, &rms]);
        let g_spectrum = group(
            &self.spectrum_k,
            &[&params, &signal, &self.window, &self.twiddle, &power],
        );
        let g_mel = group(
            &self.mel_k,
            &[
                &params,
                &power,
                &self.mel_start,
                &self.mel_offset,
                &self.mel_weight,
                &mel,
            ],
        );
        let g_db = group(&self.db_k, &[&params, &mel, &ref_db]);

        let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("features"),
                timestamp_writes: None,
            });
            let c = clips as u32;
            pass.set_pipeline(&self.frames_k);
            pass.set_bind_group(0, &g_frames, &[]);
            pass.dispatch_workgroups(frames.div_ceil(LINEAR_WG) as u32, c, 1);
            pass.set_pipeline(&self.spectrum_k);
            pass.set_bind_group(0, &g_spectrum, &[]);
            pass.dispatch_workgroups(frames as u32, c, 1);
            pass.set_pipeline(&self.mel_k);
            pass.set_bind_group(0, &g_mel, &[]);
            pass.dispatch_workgroups((self.n_mels * frames).div_ceil(LINEAR_WG) as u32, c, 1);
            pass.set_pipeline(&self.db_k);
            pass.set_bind_group(0, &g_db, &[]);
            pass.dispatch_workgroups(c, 1, 1);
        }
        let mut at = 0;
        for (buf, values) in [
            (&zcr, n_zcr),
            (&rms, n_zcr),
            (&mel, n_mel),
            (&ref_db, clips),
        ] {
            let bytes = 4 * values as u64;
            enc.copy_buffer_to_buffer(buf, 0, &staging, at, bytes);
            at += bytes;
        }
        self.queue.submit([enc.finish()]);
        if let Some(e) = block_on(scope.pop()) {
            return Err(gpu_error("the feature dispatch was rejected", e));
        }
        if let Some(e) = block_on(scope_mem.pop()) {
            return Err(gpu_error("out of GPU memory", e));
        }

        let (tx, rx) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        d.poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| gpu_error("waiting for the GPU", e))?;
        rx.recv()
            .map_err(|e| gpu_error("reading the features back", e))?
            .map_err(|e| gpu_error("reading the features back", e))?;
        {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| gpu_error("reading the features back", e))?;
            let values: Vec<f32> = view
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let (z, rest) = values.split_at(n_zcr);
            let (r, rest) = rest.split_at(n_zcr);
            let (m, refs) = rest.split_at(n_mel);
            out.zcr.extend_from_slice(z);
            out.rms.extend_from_slice(r);
            out.mel_db.extend_from_slice(m);
            out.ref_db.extend_from_slice(refs);
        }
        staging.unmap();
        out.clips += clips;
        Ok(())
    }
}

/// The checks of [`Extractor::new`](super::Extractor::new) plus the GPU path's own limits;
/// needs no adapter, so a bad config fails before any device is touched.
fn check_config(cfg: &FeatureConfig, sample_rate: u32) -> Result<()> {
    super::Extractor::new(cfg, sample_rate)?;
    let n = cfg.n_fft;
    if !n.is_power_of_two() || !(16..=MAX_N_FFT).contains(&n) {
        return Err(bad(
            "n_fft",
            format!("the GPU path needs a power of two from 16 to {MAX_N_FFT} (got {n})"),
        ));
    }
    match cfg.top_db {
        Some(t) if t <= F32_TOP_DB_LIMIT => Ok(()),
        other => Err(bad(
            "top_db",
            format!(
                "the GPU path computes in f32, within 0.01 dB of librosa only with a floor of at \
                 most {F32_TOP_DB_LIMIT} dB (got {other:?})"
            ),
        )),
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Drives a wgpu future to completion. On native backends the futures used here (error scopes)
/// are ready when first polled, so this spins at most briefly; it saves a dependency on an
/// executor.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_configs_the_kernels_cannot_match_before_touching_a_device() {
        let base = FeatureConfig::default();
        for (cfg, key) in [
            (
                FeatureConfig {
                    n_fft: 1000,
                    ..base.clone()
                },
                "n_fft",
            ),
            (
                FeatureConfig {
                    n_fft: 4096,
                    ..base.clone()
                },
                "n_fft",
            ),
            (
                FeatureConfig {
                    top_db: None,
                    ..base.clone()
                },
                "top_db",
            ),
            (
                FeatureConfig {
                    top_db: Some(120.0),
                    ..base.clone()
                },
                "top_db",
            ),
            (
                FeatureConfig {
                    hop_length: 0,
                    ..base.clone()
                },
                "hop_length",
            ),
        ] {
            let e = check_config(&cfg, 22_050).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
        check_config(&base, 22_050).unwrap();
    }
}
