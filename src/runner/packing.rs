//! `--jobs auto`: how many jobs run side by side and with how many threads each, from the models'
//! sizes and the cores.
//!
//! A small model cannot keep several cores busy within one training step (its matrices are too
//! small for the GEMMs to split well), but two such jobs side by side, one core each, can: on 2
//! cores the report's 1D grid runs 1.4× faster as `--jobs 2 --threads 1` than as `--jobs 1`
//! (`ser bench sweep`). A large model's GEMMs use every core on their own, and two of them at
//! once would only halve each one's share and double the memory. So: jobs side by side when every
//! model of the sweep costs at most [`PACK_MAX_MACS_PER_FRAME`], one thread each; otherwise one job
//! with every core. Results never depend on the packing (each job's random draws are its own).

use crate::config::{BackendKind, Config, ModelKind};
use crate::features::values_per_frame;

/// Largest conv cost per audio frame (multiply-adds of the forward pass) for which jobs run side
/// by side. The report's 1D CNN (512, 512, 128) on ZCR + RMS costs about 1.5 M per frame and
/// packs 1.4× faster on 2 cores (measured); its 2D CNN (512, 512, 128) on the 128-band log-mel
/// spectrogram costs about 100 M and gets every core. The limit sits between them, nearer the
/// measured point.
pub const PACK_MAX_MACS_PER_FRAME: u128 = 8_000_000;

/// Jobs at once and threads per job (`None`: the jobs share the global pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packing {
    pub jobs: usize,
    pub threads: Option<usize>,
    /// Chosen by `--jobs auto` (said in the log), not given.
    pub auto: bool,
}

/// The packing for `configs` (the jobs to run, `units` units of work) on `cores` cores: `jobs`
/// and `threads` as given, or chosen where `jobs` is `None` (`--jobs auto`).
pub fn packing(
    configs: &[Config],
    units: usize,
    cores: usize,
    jobs: Option<usize>,
    threads: Option<usize>,
) -> Packing {
    if let Some(jobs) = jobs {
        return Packing {
            jobs: jobs.max(1),
            threads,
            auto: false,
        };
    }
    // One GPU trains one job at a time; a single unit has nothing to run beside it.
    let gpu = configs.iter().any(|c| c.train.backend != BackendKind::Flex);
    let small = configs
        .iter()
        .all(|c| macs_per_frame(c) <= PACK_MAX_MACS_PER_FRAME);
    let jobs = if gpu || !small || cores < 2 {
        1
    } else {
        // Given threads per job: as many jobs as fill the cores with them.
        (cores / threads.unwrap_or(1).max(1)).min(units).max(1)
    };
    Packing {
        jobs,
        threads: threads.or((jobs > 1).then(|| (cores / jobs).max(1))),
        auto: true,
    }
}

/// The cores of this machine (1 where it cannot say).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Multiply-adds of the conv layers per audio frame of input: each layer's kernel area × input
/// channels × filters at every position it sees, the positions shrinking by the pool stride per
/// layer (per axis: 1D along the vector, 2D along both). Dense and recurrent layers are left out:
/// they are small beside the convs in every model `ser` builds.
pub fn macs_per_frame(config: &Config) -> u128 {
    let m = &config.model;
    let (area, axes) = match m.kind {
        ModelKind::Cnn1d => (m.kernel as u128, 1),
        ModelKind::Cnn2d | ModelKind::Crnn => ((m.kernel * m.kernel) as u128, 2),
    };
    // Positions per frame: a vector kind concatenates its rows along the one axis; a matrix kind
    // has its rows as the second axis.
    let f = &config.features;
    let mut positions = values_per_frame(f.kind, f.n_mels, f.n_mfcc) as f64;
    let shrink = (m.pool.stride.max(1) as f64).powi(axes);
    let (mut cin, mut total) = (1u128, 0f64);
    for &f in &m.filters {
        let f = f as u128;
        total += positions * area.saturating_mul(cin).saturating_mul(f) as f64;
        positions /= shrink;
        cin = f;
    }
    total.min(u128::MAX as f64) as u128
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FeatureKind, ModelConfig};

    fn config(kind: ModelKind, features: FeatureKind, filters: &[usize]) -> Config {
        let mut c = Config::default();
        c.model = ModelConfig {
            kind,
            filters: filters.to_vec(),
            kernel: if kind == ModelKind::Cnn1d { 5 } else { 3 },
            ..c.model
        };
        c.features.kind = features;
        c
    }

    #[test]
    fn the_reports_1d_packs_and_its_2d_gets_every_core() {
        let one_d = config(ModelKind::Cnn1d, FeatureKind::ZcrRms, &[512, 512, 128]);
        // 2·(5·512) + 1·(5·512·512) + 0.5·(5·512·128)
        assert_eq!(macs_per_frame(&one_d), 5_120 + 1_310_720 + 163_840);
        let two_d = config(ModelKind::Cnn2d, FeatureKind::MelDb, &[512, 512, 128]);
        assert!(macs_per_frame(&two_d) > 10 * PACK_MAX_MACS_PER_FRAME);
        let p = packing(std::slice::from_ref(&one_d), 9, 2, None, None);
        assert_eq!((p.jobs, p.threads, p.auto), (2, Some(1), true));
        let p = packing(&[one_d.clone(), two_d.clone()], 9, 2, None, None);
        assert_eq!((p.jobs, p.threads), (1, None));
        // Given values win; one unit or one core runs alone.
        let p = packing(std::slice::from_ref(&one_d), 9, 2, Some(1), None);
        assert_eq!((p.jobs, p.threads, p.auto), (1, None, false));
        assert_eq!(
            packing(std::slice::from_ref(&one_d), 1, 2, None, None).jobs,
            1
        );
        assert_eq!(
            packing(std::slice::from_ref(&one_d), 9, 1, None, None).jobs,
            1
        );
        let p = packing(&[one_d], 9, 16, None, Some(4));
        assert_eq!((p.jobs, p.threads), (4, Some(4)));
    }
}
