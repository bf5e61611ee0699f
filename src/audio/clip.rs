//! The report's fixed clip length: cut long clips, centre-pad short ones with zeros.

/// The report's fixed length: longer clips keep their first `max_samples`; shorter ones get
/// `(max_samples - len) / 2` (floor) zeros in front and the rest behind.
pub fn fit_length(samples: &[f32], max_samples: usize) -> Vec<f32> {
    if samples.len() >= max_samples {
        return samples[..max_samples].to_vec();
    }
    let left = (max_samples - samples.len()) / 2;
    let mut out = vec![0.0f32; max_samples];
    out[left..left + samples.len()].copy_from_slice(samples);
    out
}

/// [`fit_length`] that reuses the vector's allocation where it can.
pub(crate) fn fit_length_vec(mut samples: Vec<f32>, max_samples: usize) -> Vec<f32> {
    if samples.len() >= max_samples {
        samples.truncate(max_samples);
        return samples;
    }
    let left = (max_samples - samples.len()) / 2;
    samples.resize(max_samples, 0.0);
    samples.rotate_right(left);
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_floor_half_in_front() {
        assert_eq!(fit_length(&[1.0, 2.0], 5), vec![0.0, 1.0, 2.0, 0.0, 0.0]);
        assert_eq!(fit_length(&[1.0], 4), vec![0.0, 1.0, 0.0, 0.0]);
        assert_eq!(fit_length(&[], 3), vec![0.0; 3]);
    }

    #[test]
    fn truncates_keeping_the_start() {
        assert_eq!(fit_length(&[1.0, 2.0, 3.0], 2), vec![1.0, 2.0]);
        assert_eq!(fit_length(&[1.0, 2.0], 2), vec![1.0, 2.0]);
    }

    #[test]
    fn vec_variant_agrees() {
        for len in 0..9 {
            let x: Vec<f32> = (1..=len).map(|v| v as f32).collect();
            for max in 1..9 {
                assert_eq!(
                    fit_length_vec(x.clone(), max),
                    fit_length(&x, max),
                    "{len} {max}"
                );
            }
        }
    }
}
