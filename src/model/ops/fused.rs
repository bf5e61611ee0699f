//! Convolution + bias + ReLU + max-pool as one kernel, for convolutions that go through im2col
//! (few input channels: the networks' first layer, 1 channel).
//!
//! Why: such a layer does little arithmetic per output value (a product depth of `kh·kw·cin + 1`,
//! 26 for the report's 2D model) but has the largest output of the network (32 × 128 × 110 × 128
//! values, 230 MB, for that model), so done op by op its time goes to memory: the conv output
//! written and read back by the pool, and in the backward a dense 230 MB output gradient zeroed,
//! scattered into, summed for the bias and read by the weight-gradient product. Here each image
//! is a task on one thread that works through bands of conv rows small enough to stay in that
//! core's cache:
//! - forward: im2col of the band, one product (bias as a column of ones), then the band's pool
//!   rows with their argmax; only the pooled output and its indices reach memory (band edges
//!   overlap by `kh - sh` conv rows, which are computed twice);
//! - weight gradient: the band's slice of the output gradient rebuilt from the pooled gradient and
//!   the indices, then `im2colᵀ · dy` accumulated; the bias gradient is summed from the pooled
//!   gradient directly.
//!
//! The input gradient is not computed here (the first layer's input needs none); a layer whose
//! input needs it goes through the dense path ([`super::kernels`]). Sums run in a fixed order
//! (images in fixed parts, parts added in order), so results do not depend on the thread count.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::kernels::{
    assume_init, im2col_row, implicit, matmul_in, pool_row, resize_at_least, sum_over_image_parts,
    written, ConvGeom, PoolGeom, CLAMPED,
};

/// Bytes of one band's conv rows: about half of a core's L2 (2 MB here), leaving room for the
/// im2col rows and the weights.
const BAND_BYTES: usize = 1 << 20;

thread_local! {
    /// Per thread: a band's im2col rows and its conv output (or output gradient) rows.
    static BAND: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Whether conv `g` followed by ReLU and a pool takes this module's banded path: the conv is one
/// that goes through im2col (see [`implicit`]).
pub fn banded(g: &ConvGeom) -> bool {
    !implicit(g)
}

/// Panics unless pool `p` reads the output of conv `g` and its window fits.
fn check(g: &ConvGeom, p: &PoolGeom) {
    assert_eq!(
        (p.batch, p.c, p.h, p.w),
        (g.batch, g.cout, g.ho(), g.wo()),
        "pool geometry {p:?} does not match the output of conv {g:?}"
    );
    assert!(
        p.h >= p.kh && p.w >= p.kw,
        "pool window larger than its input: {p:?}"
    );
}

/// Conv rows per band: [`BAND_BYTES`] of them, at least one pool window high.
fn band_rows(g: &ConvGeom, p: &PoolGeom) -> usize {
    (BAND_BYTES / (4 * g.wo() * g.cout).max(1)).max(p.kh)
}

/// `relu(max_pool(conv(x) + bias))` of channels-last `x`: the channels-last pooled output and
/// its argmax indices, as [`super::kernels::pool_forward`] with `relu` returns them for the conv
/// output (position `ih·wo + iw` in the image, [`CLAMPED`] where the ReLU cut).
pub fn forward(
    x: &[f32],
    g: &ConvGeom,
    p: &PoolGeom,
    wm: &[f32],
    bias: &[f32],
) -> (Vec<f32>, Vec<u32>) {
    check(g, p);
    let (k, co) = (g.k(), g.cout);
    assert_eq!(x.len(), g.batch * g.h * g.w * g.cin);
    assert_eq!((wm.len(), bias.len()), (k * co, co));
    // The bias as one more im2col column of ones (as in `conv_forward`).
    let kb = k + 1;
    let mut wmb = Vec::with_capacity(kb * co);
    wmb.extend_from_slice(wm);
    wmb.extend_from_slice(bias);
    let (pho, pwo) = (p.ho(), p.wo());
    let per_out = pho * pwo * co;
    // Pool rows per band, so that its conv rows ((n - 1)·sh + kh) fit in `band_rows`.
    let band = ((band_rows(g, p) - p.kh) / p.sh + 1).min(pho);
    let len = g.batch * per_out;
    let mut idx = Vec::with_capacity(len);
    // SAFETY: the bands' pool rows cover every row of each image, and `pool_row` writes every
    // value of a row and of its index row.
    let out = unsafe {
        written(len, |out| {
            out.par_chunks_mut(per_out)
                .zip(idx.spare_capacity_mut()[..len].par_chunks_mut(per_out))
                .enumerate()
                .for_each(|(b, (out, idx))| forward_image(x, g, p, &wmb, band, b, out, idx));
        })
    };
    // SAFETY: written whole above, with `out`.
    unsafe { idx.set_len(len) };
    (out, idx)
}

/// [`forward`] of image `b`: its pooled rows and indices (every value of `out` and `idx`
/// written), band by band of `band` pool rows.
#[allow(clippy::too_many_arguments)]
fn forward_image(
    x: &[f32],
    g: &ConvGeom,
    p: &PoolGeom,
    wmb: &[f32],
    band: usize,
    b: usize,
    out: &mut [MaybeUninit<f32>],
    idx: &mut [MaybeUninit<u32>],
) {
    let (kb, co, wo) = (g.k() + 1, g.cout, g.wo());
    let row_len = p.wo() * co;
    BAND.with(|s| {
        let (col, conv) = &mut *s.borrow_mut();
        for oh0 in (0..p.ho()).step_by(band) {
            let oh1 = (oh0 + band).min(p.ho());
            let (r0, r1) = (oh0 * p.sh, (oh1 - 1) * p.sh + p.kh);
            let n = (r1 - r0) * wo;
            resize_at_least(col, n * kb);
            resize_at_least(conv, n * co);
            let (col, conv) = (&mut col[..n * kb], &mut conv[..n * co]);
            let first = (b * g.ho() + r0) * wo;
            for (i, row) in col.chunks_exact_mut(kb).enumerate() {
                im2col_row(x, g, first + i, row, kb);
            }
            matmul_in(
                false,
                n,
                co,
                kb,
                conv,
                (co, 1),
                false,
                col,
                (kb, 1),
                wmb,
                (co, 1),
            );
            // The band as an image of its own; indices then move to the whole image's.
            let bp = PoolGeom {
                batch: 1,
                h: r1 - r0,
                ..*p
            };
            let shift = (r0 * p.w) as u32;
            let rows = out[oh0 * row_len..oh1 * row_len].chunks_exact_mut(row_len);
            let irows = idx[oh0 * row_len..oh1 * row_len].chunks_exact_mut(row_len);
            for (i, (orow, irow)) in rows.zip(irows).enumerate() {
                pool_row(conv, &bp, i, orow, irow, true);
                // SAFETY: `pool_row` wrote the whole index row.
                let irow = unsafe { assume_init(irow) };
                for v in irow.iter_mut().filter(|v| **v != CLAMPED) {
                    *v += shift;
                }
            }
        }
    })
}

/// Gradient of the weight matrix (`[kh·kw·cin, cout]`) of [`forward`], given its input `x`,
/// the gradient `dp` of its pooled output and the indices `idx` it returned.
pub fn weight_grad(x: &[f32], g: &ConvGeom, p: &PoolGeom, dp: &[f32], idx: &[u32]) -> Vec<f32> {
    check(g, p);
    let (k, co, wo) = (g.k(), g.cout, g.wo());
    let (pho, pwo) = (p.ho(), p.wo());
    let per_out = pho * pwo * co;
    assert_eq!(
        (dp.len(), idx.len()),
        (g.batch * per_out, g.batch * per_out)
    );
    // Conv rows the pool reads; the rest get no gradient.
    let used = (pho - 1) * p.sh + p.kh;
    let band = band_rows(g, p).min(used);
    sum_over_image_parts(g.batch, k * co, |images, acc| {
        BAND.with(|s| {
            let (col, dy) = &mut *s.borrow_mut();
            let mut more = false;
            for b in images {
                let dpb = &dp[b * per_out..(b + 1) * per_out];
                let ib = &idx[b * per_out..(b + 1) * per_out];
                for r0 in (0..used).step_by(band) {
                    let r1 = (r0 + band).min(used);
                    let n = (r1 - r0) * wo;
                    dy.clear();
                    dy.resize(n * co, 0.0);
                    scatter_band(dpb, ib, p, r0, r1, dy);
                    resize_at_least(col, n * k);
                    let col = &mut col[..n * k];
                    let start = (b * g.ho() + r0) * wo;
                    for (i, row) in col.chunks_exact_mut(k).enumerate() {
                        im2col_row(x, g, start + i, row, k);
                    }
                    matmul_in(
                        false,
                        k,
                        co,
                        n,
                        acc,
                        (co, 1),
                        more,
                        col,
                        (1, k),
                        dy,
                        (co, 1),
                    );
                    more = true;
                }
            }
        })
    })
}

/// The conv-output gradient of conv rows `r0..r1` of one image (`dy`, zeroed, `[(r1 - r0)·w,
/// c]`): each pooled gradient whose argmax lies in those rows, added there. Only pool rows whose
/// window overlaps the band are read.
fn scatter_band(dp: &[f32], idx: &[u32], p: &PoolGeom, r0: usize, r1: usize, dy: &mut [f32]) {
    let (c, pwo) = (p.c, p.wo());
    let (lo, hi) = ((r0 * p.w) as u32, (r1 * p.w) as u32);
    let oh_lo = (r0 + 1).saturating_sub(p.kh).div_ceil(p.sh);
    let oh_hi = ((r1 - 1) / p.sh + 1).min(p.ho());
    for oh in oh_lo..oh_hi {
        let d = &dp[oh * pwo * c..(oh + 1) * pwo * c];
        let id = &idx[oh * pwo * c..(oh + 1) * pwo * c];
        for (d, id) in d.chunks_exact(c).zip(id.chunks_exact(c)) {
            for (ch, (&v, &pos)) in d.iter().zip(id).enumerate() {
                // CLAMPED (u32::MAX) is never inside a band.
                if (lo..hi).contains(&pos) {
                    dy[(pos - lo) as usize * c + ch] += v;
                }
            }
        }
    }
}
