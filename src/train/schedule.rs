//! The learning rate of each step: a pure function of the step's index in the whole run and the
//! run's step count, so a resumed run steps with exactly the rates of an unbroken one.
//!
//! Shapes (T steps in all, `W = warmup_epochs × steps per epoch`, step `t` 0-based):
//! - warm-up (any kind but `one-cycle`): step `t < W` gets `lr · (t + 1) / W`, a line up from 0
//!   (the first step already moves) that reaches `lr` on the last warm-up step;
//! - `constant`: `lr`;
//! - `cosine`: `min_lr + (lr − min_lr) · (1 + cos(π p)) / 2` with `p = (t − W) / (T − W)`: `lr`
//!   on the first step after warm-up, `min_lr` where the run would take one step more;
//! - `one-cycle` (Smith's 1cycle, PyTorch `OneCycleLR`'s shape): with `U = round(0.3 T)`, a
//!   cosine up from `lr / 25` to `lr` over steps `0..U` (`p = t / U`), then a cosine down from
//!   `lr` to `lr / 1e4` over steps `U..T` (`p = (t − U) / (T − U)`).

use serde::{Deserialize, Serialize};

use crate::config::ScheduleKind;

/// Fraction of the steps that `one-cycle` spends rising (PyTorch's `pct_start`).
pub const ONE_CYCLE_RISE: f64 = 0.3;
/// `one-cycle` starts at `lr / ONE_CYCLE_START_DIV` (PyTorch's `div_factor`).
pub const ONE_CYCLE_START_DIV: f64 = 25.0;
/// `one-cycle` ends at `lr / ONE_CYCLE_END_DIV`.
pub const ONE_CYCLE_END_DIV: f64 = 1e4;

/// A run's schedule as `training.json` records it (absent there: `lr` every step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// The shape after warm-up.
    pub kind: ScheduleKind,
    /// Epochs of linear warm-up.
    pub warmup_epochs: usize,
    /// Where `cosine` ends.
    pub min_lr: f64,
}

impl LrSchedule {
    /// The rate of step `step` (0-based over the whole run) of a run of `epochs` epochs of
    /// `steps_per_epoch` steps, peak rate `lr`.
    pub fn lr(&self, lr: f64, step: usize, steps_per_epoch: usize, epochs: usize) -> f64 {
        let total = (steps_per_epoch * epochs).max(1);
        let warmup = (self.warmup_epochs * steps_per_epoch).min(total - 1);
        if step < warmup && self.kind != ScheduleKind::OneCycle {
            return lr * (step + 1) as f64 / warmup as f64;
        }
        match self.kind {
            ScheduleKind::Constant => lr,
            ScheduleKind::Cosine => {
                let p = (step - warmup) as f64 / (total - warmup) as f64;
                anneal(lr, self.min_lr, p)
            }
            ScheduleKind::OneCycle => {
                let rise = ((ONE_CYCLE_RISE * total as f64).round() as usize).clamp(1, total);
                if step < rise {
                    anneal(lr / ONE_CYCLE_START_DIV, lr, step as f64 / rise as f64)
                } else {
                    let p = (step - rise) as f64 / (total - rise).max(1) as f64;
                    anneal(lr, lr / ONE_CYCLE_END_DIV, p)
                }
            }
        }
    }
}

/// Half a cosine from `from` (`p = 0`, exactly) to `to` (`p = 1`).
fn anneal(from: f64, to: f64, p: f64) -> f64 {
    from + (to - from) * (1.0 - (std::f64::consts::PI * p).cos()) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn s(kind: ScheduleKind, warmup_epochs: usize, min_lr: f64) -> LrSchedule {
        LrSchedule {
            kind,
            warmup_epochs,
            min_lr,
        }
    }

    #[test]
    fn cosine_first_middle_last_step() {
        // 10 epochs × 4 steps, 2 epochs of warm-up: W = 8, T = 40.
        let c = s(ScheduleKind::Cosine, 2, 1e-5);
        let lr = 1e-3;
        let at = |t| c.lr(lr, t, 4, 10);
        assert_eq!(at(0), lr / 8.0);
        assert_eq!(at(3), lr * 4.0 / 8.0);
        assert_eq!(at(7), lr);
        assert_eq!(at(8), lr);
        // halfway through the 32 steps after warm-up
        assert!(
            (at(24) - (1e-5 + (lr - 1e-5) / 2.0)).abs() < 1e-15,
            "{}",
            at(24)
        );
        let last = 1e-5 + (lr - 1e-5) * (1.0 + (PI * 31.0 / 32.0).cos()) / 2.0;
        assert!((at(39) - last).abs() < 1e-15, "{} vs {last}", at(39));
        assert!(at(39) > 1e-5 && at(39) < 1.3e-5);
    }

    #[test]
    fn constant_is_lr_bit_for_bit_and_warms_up() {
        let c = s(ScheduleKind::Constant, 0, 0.0);
        for t in [0, 5, 99] {
            assert_eq!(c.lr(1e-4, t, 10, 10).to_bits(), 1e-4f64.to_bits());
        }
        let w = s(ScheduleKind::Constant, 1, 0.0);
        assert_eq!(w.lr(1e-4, 0, 10, 10), 1e-5);
        assert_eq!(w.lr(1e-4, 10, 10, 10), 1e-4);
    }

    #[test]
    fn one_cycle_rises_then_falls() {
        // T = 100: rise over 30 steps from lr/25, then down to lr/1e4.
        let c = s(ScheduleKind::OneCycle, 0, 0.0);
        let at = |t| c.lr(1.0, t, 10, 10);
        assert_eq!(at(0), 1.0 / 25.0);
        assert!((at(15) - (1.0 / 25.0 + 1.0) / 2.0).abs() < 1e-12);
        assert_eq!(at(30), 1.0);
        assert!((at(65) - (1.0 + 1e-4) / 2.0).abs() < 1e-12);
        let last = 1e-4 + (1.0 - 1e-4) * (1.0 + (PI * 69.0 / 70.0).cos()) / 2.0;
        assert!((at(99) - last).abs() < 1e-15, "{} vs {last}", at(99));
        let v: Vec<f64> = (0..100).map(at).collect();
        assert!(v[..31].windows(2).all(|w| w[0] < w[1]));
        assert!(v[30..].windows(2).all(|w| w[0] > w[1]));
    }
}
