//! Power to decibels as `librosa.power_to_db` computes it (float32 arithmetic):
//! `10 log10(max(amin, S)) - 10 log10(max(amin, ref))`, then floored at `max - top_db`.

/// librosa's default `amin`: powers below it count as it (-100 dB), so silence stays finite.
pub const AMIN: f32 = 1e-10;

/// The reference power that maps to 0 dB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DbRef {
    /// The largest value of the input (`ref=np.max`): the loudest bin is 0 dB.
    Max,
    /// A fixed power (`ref=1.0` inside `librosa.feature.mfcc`).
    Value(f32),
}

/// `10 log10(max(amin, x))` for every `x`, in place; no reference, no floor.
pub fn log_power_in_place(s: &mut [f32], amin: f32) {
    for x in s.iter_mut() {
        *x = 10.0 * x.max(amin).log10();
    }
}

/// Subtracts `10 log10(max(amin, ref_power))` and floors at `max - top_db`, in place, turning the
/// output of [`log_power_in_place`] into `power_to_db`. `ref_power` is in power units.
pub fn finish_db_in_place(log_s: &mut [f32], ref_power: f32, amin: f32, top_db: Option<f32>) {
    let shift = 10.0 * ref_power.max(amin).log10();
    if shift != 0.0 {
        for x in log_s.iter_mut() {
            *x -= shift;
        }
    }
    if let Some(top_db) = top_db {
        let floor = max_of(log_s) - top_db;
        for x in log_s.iter_mut() {
            *x = x.max(floor);
        }
    }
}

/// `librosa.power_to_db(s, ref, amin, top_db)` into a new vector.
pub fn power_to_db(s: &[f32], reference: DbRef, amin: f32, top_db: Option<f32>) -> Vec<f32> {
    let ref_power = match reference {
        DbRef::Max => max_of(s),
        DbRef::Value(v) => v,
    };
    let mut out = s.to_vec();
    log_power_in_place(&mut out, amin);
    finish_db_in_place(&mut out, ref_power, amin, top_db);
    out
}

/// Largest value, or `-inf` for an empty slice.
pub(crate) fn max_of(s: &[f32]) -> f32 {
    s.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_zero_db_with_ref_max() {
        // All zeros: every bin and the reference are clamped to amin, so 0 dB everywhere.
        let db = power_to_db(&[0.0; 12], DbRef::Max, AMIN, Some(80.0));
        assert!(db.iter().all(|&v| v == 0.0), "{db:?}");
        // With ref = 1 the same silence is amin in dB: -100.
        let db = power_to_db(&[0.0; 3], DbRef::Value(1.0), AMIN, Some(80.0));
        assert_eq!(db, vec![-100.0; 3]);
    }

    #[test]
    fn reference_and_top_db_floor() {
        let s = [1.0, 0.1, 1e-3, 1e-9, 0.0];
        let db = power_to_db(&s, DbRef::Max, AMIN, Some(80.0));
        let want = [0.0, -10.0, -30.0, -80.0, -80.0];
        for (g, w) in db.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{db:?}");
        }
        let db = power_to_db(&[100.0, 1e-12], DbRef::Value(1.0), AMIN, None);
        assert!((db[0] - 20.0).abs() < 1e-5 && (db[1] + 100.0).abs() < 1e-4, "{db:?}");
        let db = power_to_db(&[4.0, 1e-12], DbRef::Value(2.0), AMIN, Some(50.0));
        let half = 10.0 * 2.0f32.log10();
        assert!((db[0] - half).abs() < 1e-5 && (db[1] - (half - 50.0)).abs() < 1e-4);
    }
}
