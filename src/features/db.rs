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
///
/// Uses [`db10`], which the compiler vectorises (libm's `log10f` is one call per value and was
/// a tenth of the mel-dB time); non-finite input takes the exact path so NaN and infinity
/// propagate as in NumPy.
pub fn log_power_in_place(s: &mut [f32], amin: f32) {
    let normal = amin.is_normal() && amin > 0.0 && s.iter().all(|x| x.is_finite());
    if normal {
        for x in s.iter_mut() {
            *x = db10(x.max(amin));
        }
    } else {
        for x in s.iter_mut() {
            // np.maximum propagates NaN (f32::max would drop it).
            let v = if x.is_nan() { *x } else { x.max(amin) };
            *x = 10.0 * v.log10();
        }
    }
}

/// `10 log10(x)` for finite normal `x > 0`, within a few f32 ulps of the exact value (about
/// 1e-5 dB at ±100 dB). Branch-free, so loops over it vectorise.
///
/// `x = 2^e m` with `m` in `[sqrt(1/2), sqrt(2))`; `ln m = 2 atanh(s)` with `s = (m-1)/(m+1)`,
/// `|s| < 0.172`, whose odd series to `s^9` is exact to 1e-9.
#[inline]
pub(crate) fn db10(x: f32) -> f32 {
    const SQRT_HALF_BITS: u32 = 0x3f35_04f3;
    // 10 log10(2) split so that e * DB2_HI is exact for every exponent (13 significant bits).
    const DB2_HI: f32 = 3.010_254;
    const DB2_LO: f32 = 4.605_039e-5;
    const TEN_OVER_LN10: f32 = 4.342_944_8;
    let ix = x.to_bits().wrapping_sub(SQRT_HALF_BITS);
    let e = (ix as i32 >> 23) as f32;
    let m = f32::from_bits((ix & 0x007f_ffff).wrapping_add(SQRT_HALF_BITS));
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let poly = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    // The large exact part is added last, so the result is rounded about once.
    e * DB2_HI + (e * DB2_LO + TEN_OVER_LN10 * (2.0 * s * poly))
}

/// Subtracts `10 log10(max(amin, ref_power))` and floors at `max - top_db`, in place, turning the
/// output of [`log_power_in_place`] into `power_to_db`. `ref_power` is in power units.
pub fn finish_db_in_place(log_s: &mut [f32], ref_power: f32, amin: f32, top_db: Option<f32>) {
    // The same logarithm as the values, so silence (everything at amin) is exactly 0 dB.
    let r = ref_power.max(amin);
    let shift = if r.is_normal() {
        db10(r)
    } else {
        10.0 * r.log10()
    };
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
    fn fast_db_matches_log10() {
        // Error in units of (2e-6 dB + 3e-7 relative): a few ulps of the f32 result.
        let err = |x: f32| {
            let exact = 10.0 * f64::from(x).log10();
            (f64::from(db10(x)) - exact).abs() / (2e-6 + 3e-7 * exact.abs())
        };
        let mut worst = 0.0f64;
        let mut x = 1e-10f32;
        while x < 1e12 {
            worst = worst.max(err(x));
            x *= 1.000_37;
        }
        for x in [
            1.0f32,
            2.0,
            0.5,
            0.707_106_77,
            std::f32::consts::FRAC_1_SQRT_2,
            std::f32::consts::SQRT_2,
            f32::MAX,
            1.2e-38,
        ] {
            worst = worst.max(err(x));
        }
        assert!(worst < 1.0, "worst {worst}");
        assert_eq!(db10(1.0), 0.0);
        // Non-finite powers take the exact path.
        let mut s = [f32::INFINITY, 1.0, f32::NAN];
        log_power_in_place(&mut s, AMIN);
        assert_eq!(s[0], f32::INFINITY);
        assert_eq!(s[1], 0.0);
        assert!(s[2].is_nan());
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
        assert!(
            (db[0] - 20.0).abs() < 1e-5 && (db[1] + 100.0).abs() < 1e-4,
            "{db:?}"
        );
        let db = power_to_db(&[4.0, 1e-12], DbRef::Value(2.0), AMIN, Some(50.0));
        let half = 10.0 * 2.0f32.log10();
        assert!((db[0] - half).abs() < 1e-5 && (db[1] - (half - 50.0)).abs() < 1e-4);
    }
}
