//! Whether a batch of a model's activations fits a device: wgpu binds each tensor as one buffer,
//! and an adapter caps a buffer's size ([`BufferCap`]). A layer over the cap would otherwise fail
//! deep inside Burn's kernels ("can't allocate buffer of size ...", or every candidate of the
//! conv autotune failing) after minutes of setup, so it is checked before any work.

use super::{thousands, NetConfig, SummaryRow};
use crate::base::device::BufferCap;
use crate::base::{Error, Result};

/// Checks that each layer's output for a batch of `batch` items fits in one buffer under `cap`
/// (no cap: the CPU); `key` names the setting to lower.
pub fn check_batch_fits(
    model: &NetConfig,
    batch: usize,
    cap: Option<&BufferCap>,
    key: &str,
) -> Result<()> {
    let Some(cap) = cap else { return Ok(()) };
    let (row, per_item) = largest_output(model)?;
    check_output_fits(&row, per_item, batch, cap, key)
}

/// The largest batch, up to `batch`, whose layer outputs fit under `cap` (at least 1: a model
/// that fails even then fails with [`check_batch_fits`]'s message).
pub fn batch_that_fits(model: &NetConfig, batch: usize, cap: Option<&BufferCap>) -> Result<usize> {
    let Some(cap) = cap else { return Ok(batch) };
    let (row, per_item) = largest_output(model)?;
    let fits = usize::try_from(cap.bytes / per_item).unwrap_or(usize::MAX);
    let batch = batch.min(fits).max(1);
    check_output_fits(&row, per_item, batch, cap, "the batch")?;
    Ok(batch)
}

/// [`check_batch_fits`] for a model's largest output `row` of `per_item` bytes an item.
fn check_output_fits(
    row: &SummaryRow,
    per_item: u64,
    batch: usize,
    cap: &BufferCap,
    key: &str,
) -> Result<()> {
    let bytes = per_item * batch as u64;
    if bytes <= cap.bytes {
        return Ok(());
    }
    let fits = cap.bytes / per_item;
    let fix = if fits == 0 {
        "a smaller model (fewer filters, or a larger pool stride)".to_string()
    } else {
        format!("{key} = {fits} or less")
    };
    Err(Error::device(
        cap.device.clone(),
        format!(
            "{key} = {batch}: layer {} outputs {} bytes per batch ({batch} × {:?} f32), more \
             than the {} bytes one buffer may hold on this device; use {fix}, or --backend flex",
            row.layer,
            thousands(bytes as usize),
            row.output,
            thousands(cap.bytes as usize),
        ),
    ))
}

/// The layer with the largest output and its bytes per item (f32).
fn largest_output(model: &NetConfig) -> Result<(SummaryRow, u64)> {
    let summary = model.summary()?;
    let item_bytes = |r: &SummaryRow| r.output.iter().product::<usize>() as u64 * 4;
    let row = summary
        .rows
        .into_iter()
        .max_by_key(item_bytes)
        .ok_or_else(|| Error::Model("the model has no layers".into()))?;
    let bytes = item_bytes(&row).max(1);
    Ok((row, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_over_the_buffer_cap_is_refused_naming_layer_size_and_fix() {
        // The bench's 2D (128, 64, 32) network: the first conv outputs 128×110×128 f32 per
        // item, 7,208,960 bytes; lavapipe caps one buffer at 128 MiB.
        let model = NetConfig::Cnn2d(super::super::Cnn2dConfig::new(
            [128, 110],
            6,
            vec![128, 64, 32],
        ));
        let cap = BufferCap {
            bytes: 128 << 20,
            device: "wgpu:0 (llvmpipe)".into(),
        };
        let e = check_batch_fits(&model, 32, Some(&cap), "--batch").unwrap_err();
        assert_eq!(e.exit_code(), 1);
        let e = e.to_string();
        for part in [
            "--batch = 32",
            "230,686,720 bytes",
            "[128, 110, 128]",
            "134,217,728 bytes",
            "wgpu:0 (llvmpipe)",
            "--batch = 18 or less",
        ] {
            assert!(e.contains(part), "{part:?} not in {e}");
        }
        assert!(e.contains("conv2d"), "{e}");
        check_batch_fits(&model, 18, Some(&cap), "--batch").unwrap();
        check_batch_fits(&model, 4096, None, "--batch").unwrap();
        assert_eq!(batch_that_fits(&model, 32, Some(&cap)).unwrap(), 18);
        assert_eq!(batch_that_fits(&model, 8, Some(&cap)).unwrap(), 8);
        assert_eq!(batch_that_fits(&model, 32, None).unwrap(), 32);
        let tiny = BufferCap {
            bytes: 1 << 20,
            ..cap
        };
        let e = batch_that_fits(&model, 32, Some(&tiny))
            .unwrap_err()
            .to_string();
        assert!(e.contains("a smaller model"), "{e}");
    }
}
