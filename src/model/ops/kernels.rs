//! The kernels behind [`super`], on plain slices in channels-last layout (`[batch, h, w, c]`; 1D
//! tensors are the `h = 1` case).
//!
//! A convolution is one matrix product per chunk of output positions: the im2col rows of the
//! chunk (`[rows, kh·kw·cin]`, columns ordered `(i, j, c)`, so each kernel row is one copy of
//! contiguous input) times the weight matrix (`[kh·kw·cin, cout]`), written straight into the
//! channels-last output, whose rows the bias pre-fills. The weight gradient is the transposed
//! product accumulated over the same chunks; the input gradient is a convolution of the output
//! gradient with the flipped kernel (no col2im). Chunks keep the im2col buffer around 16 MB, or in
//! one piece when the weights are large enough that re-packing them per chunk would cost more.
//!
//! Every reduction has a fixed order (gemm splits only the output among threads; partial sums
//! over rows use fixed blocks), so results do not depend on the thread count or timing.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use rayon::prelude::*;

/// Shape of a stride-1, dilation-1 convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub batch: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    /// Zero padding: top, bottom, left, right (each below the kernel size on its axis).
    pub pad: [usize; 4],
}

impl ConvGeom {
    /// Output height.
    pub fn ho(&self) -> usize {
        self.h + self.pad[0] + self.pad[1] + 1 - self.kh
    }

    /// Output width.
    pub fn wo(&self) -> usize {
        self.w + self.pad[2] + self.pad[3] + 1 - self.kw
    }

    /// Output positions over the batch (rows of the im2col matrix).
    pub fn rows(&self) -> usize {
        self.batch * self.ho() * self.wo()
    }

    /// Columns of the im2col matrix.
    pub fn k(&self) -> usize {
        self.kh * self.kw * self.cin
    }

    /// The input gradient as a convolution: of the output gradient (`cout` channels) with the
    /// flipped kernel, padded so that the output has the input's size.
    pub fn transposed(&self) -> ConvGeom {
        ConvGeom {
            batch: self.batch,
            cin: self.cout,
            h: self.ho(),
            w: self.wo(),
            cout: self.cin,
            kh: self.kh,
            kw: self.kw,
            pad: [
                self.kh - 1 - self.pad[0],
                self.kh - 1 - self.pad[1],
                self.kw - 1 - self.pad[2],
                self.kw - 1 - self.pad[3],
            ],
        }
    }
}

thread_local! {
    /// The im2col buffer, reused between calls on a thread (forward and backward run on the
    /// caller's thread).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A vector of `len` values that `fill` writes into uninitialised memory: no zero-fill first,
/// which for the large outputs here was a serial memset of megabytes per call (3–4% of a 1D
/// training step in all, `perf`).
///
/// # Safety
/// `fill` must write every one of the `len` values.
pub(super) unsafe fn written<T>(len: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: the caller's `fill` wrote all `len` values.
    unsafe { v.set_len(len) };
    v
}

/// `s` as initialised values.
///
/// # Safety
/// Every value of `s` must have been written.
pub(super) unsafe fn assume_init<T>(s: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, and the caller guarantees every value is init.
    unsafe { &mut *(s as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// `src` into `dst` (same length).
fn write_slice<T: Copy>(dst: &mut [MaybeUninit<T>], src: &[T]) {
    for (d, s) in dst.iter_mut().zip(src) {
        d.write(*s);
    }
}

/// `v` into every value of `dst`.
fn write_fill<T: Copy>(dst: &mut [MaybeUninit<T>], v: T) {
    for d in dst {
        d.write(v);
    }
}

/// Rows per im2col chunk.
fn chunk_rows(g: &ConvGeom) -> usize {
    const TARGET: usize = 16 << 20;
    let row_bytes = 4 * g.k();
    let weight_bytes = 4 * g.k() * g.cout;
    let target = TARGET.max(8 * weight_bytes).min(256 << 20);
    (target / row_bytes).max(64).min(g.rows().max(1))
}

/// Fills `out` (`n` rows of `stride` values) with the im2col rows `r0..r0 + n` of `x` (`k`
/// values each); a `stride` of `k + 1` adds a last column of ones (for the bias).
fn im2col(x: &[f32], g: &ConvGeom, r0: usize, out: &mut [f32], stride: usize) {
    let min_len = (4096 / stride).max(1);
    out.par_chunks_mut(stride)
        .with_min_len(min_len)
        .enumerate()
        .for_each(|(i, row)| im2col_row(x, g, r0 + i, row, stride));
}

/// Im2col row `r` (output position `(b, oh, ow)` of `x`) into `row` (`stride` values, see
/// [`im2col`]).
pub(super) fn im2col_row(x: &[f32], g: &ConvGeom, r: usize, row: &mut [f32], stride: usize) {
    let (ho, wo, k, c) = (g.ho(), g.wo(), g.k(), g.cin);
    debug_assert!(stride == k || stride == k + 1);
    let (pt, pl) = (g.pad[0] as isize, g.pad[2] as isize);
    let b = r / (ho * wo);
    let oh = (r / wo) % ho;
    let ow = r % wo;
    if stride > k {
        row[k] = 1.0;
    }
    // Kernel columns whose input column is inside the image: j in j0..j1.
    let j0 = (pl - ow as isize).max(0) as usize;
    let j1 = ((g.w as isize + pl - ow as isize).min(g.kw as isize)).max(j0 as isize) as usize;
    for ki in 0..g.kh {
        let dst = &mut row[ki * g.kw * c..(ki + 1) * g.kw * c];
        let ih = oh as isize + ki as isize - pt;
        if ih < 0 || ih >= g.h as isize || j0 >= j1 {
            dst.fill(0.0);
            continue;
        }
        dst[..j0 * c].fill(0.0);
        dst[j1 * c..].fill(0.0);
        let iw0 = (ow + j0) as isize - pl;
        let src = ((b * g.h + ih as usize) * g.w + iw0 as usize) * c;
        dst[j0 * c..j1 * c].copy_from_slice(&x[src..src + (j1 - j0) * c]);
    }
}

/// `dst (m×n) = [dst +] lhs (m×k) · rhs (k×n)`, strides as (row, column); gemm's threads when
/// `parallel` (and the product is large enough to gain), else on the calling thread alone.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul_in(
    parallel: bool,
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_strides: (usize, usize),
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |(rs, cs): (usize, usize), r: usize, c: usize| (r - 1) * rs + (c - 1) * cs;
    assert!(k == 0 || last(lhs_strides, m, k) < lhs.len());
    assert!(k == 0 || last(rhs_strides, k, n) < rhs.len());
    assert!(last(dst_strides, m, n) < dst.len());
    let parallelism = if parallel && m * n * k >= 1 << 18 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the assertions above keep every element the strides address inside its slice;
    // `dst` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_strides.1 as isize,
            dst_strides.0 as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_strides.1 as isize,
            lhs_strides.0 as isize,
            rhs.as_ptr(),
            rhs_strides.1 as isize,
            rhs_strides.0 as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Convolution of channels-last `x` with the weight matrix `wm` (`[kh·kw·cin, cout]`, see
/// [`weight_matrix`]) plus `bias`: the channels-last output `[rows, cout]`.
pub fn conv_forward(x: &[f32], g: &ConvGeom, wm: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (rows, k, co) = (g.rows(), g.k(), g.cout);
    assert_eq!(x.len(), g.batch * g.h * g.w * g.cin);
    assert_eq!(wm.len(), k * co);
    if let Some(b) = bias {
        assert_eq!(b.len(), co);
    }
    let direct = g.kh == 1 && g.kw == 1 && g.pad == [0; 4];
    if !direct && implicit(g) && rows > 0 {
        return implicit_forward(x, g, wm, bias);
    }
    let mut y = vec![0.0f32; rows * co];
    if direct {
        // A 1×1 kernel: the input is its own im2col matrix.
        if let Some(b) = bias {
            y.par_chunks_mut(co)
                .with_min_len(64)
                .for_each(|r| r.copy_from_slice(b));
        }
        matmul_in(
            true,
            rows,
            co,
            k,
            &mut y,
            (co, 1),
            bias.is_some(),
            x,
            (k, 1),
            wm,
            (co, 1),
        );
        return y;
    }
    // The bias as one more im2col column (all ones) and weight row: the product writes the
    // output in one pass, where pre-filling it with the bias and accumulating took three.
    let (kb, wmb) = match bias {
        Some(b) => {
            let mut m = Vec::with_capacity((k + 1) * co);
            m.extend_from_slice(wm);
            m.extend_from_slice(b);
            (k + 1, std::borrow::Cow::Owned(m))
        }
        None => (k, std::borrow::Cow::Borrowed(wm)),
    };
    let chunk = chunk_rows(g);
    SCRATCH.with(|s| {
        let mut col = s.borrow_mut();
        if col.len() < chunk * kb {
            col.resize(chunk * kb, 0.0);
        }
        for r0 in (0..rows).step_by(chunk) {
            let n = chunk.min(rows - r0);
            im2col(x, g, r0, &mut col[..n * kb], kb);
            matmul_in(
                true,
                n,
                co,
                kb,
                &mut y[r0 * co..(r0 + n) * co],
                (co, 1),
                false,
                &col[..n * kb],
                (kb, 1),
                &wmb,
                (co, 1),
            );
        }
    });
    y
}

/// Gradient of the weight matrix (`[kh·kw·cin, cout]`) given channels-last `x` and output
/// gradient `dy` (`[rows, cout]`).
pub fn conv_weight_grad(x: &[f32], g: &ConvGeom, dy: &[f32]) -> Vec<f32> {
    let (rows, k, co) = (g.rows(), g.k(), g.cout);
    assert_eq!(dy.len(), rows * co);
    let mut dw = vec![0.0f32; k * co];
    if g.kh == 1 && g.kw == 1 && g.pad == [0; 4] {
        matmul_in(
            true,
            k,
            co,
            rows,
            &mut dw,
            (co, 1),
            false,
            x,
            (1, k),
            dy,
            (co, 1),
        );
        return dw;
    }
    if implicit(g) && rows > 0 {
        implicit_weight_grad(x, g, dy, &mut dw);
        return dw;
    }
    let chunk = chunk_rows(g);
    SCRATCH.with(|s| {
        let mut col = s.borrow_mut();
        if col.len() < chunk * k {
            col.resize(chunk * k, 0.0);
        }
        for r0 in (0..rows).step_by(chunk) {
            let n = chunk.min(rows - r0);
            im2col(x, g, r0, &mut col[..n * k], k);
            matmul_in(
                true,
                k,
                co,
                n,
                &mut dw,
                (co, 1),
                r0 > 0,
                &col[..n * k],
                (1, k),
                &dy[r0 * co..(r0 + n) * co],
                (co, 1),
            );
        }
    });
    dw
}

/// Input channels from which a convolution skips im2col (see `implicit_forward`). Below it
/// (the first layer: 1 channel) a kernel row is only `kw · cin` values long, too short a
/// product depth for the GEMM, so im2col with all `kh · kw` taps in one product stays faster.
pub const IMPLICIT_MIN_CIN: usize = 16;

/// Whether [`conv_forward`] and [`conv_weight_grad`] take the implicit (im2col-free) path.
pub fn implicit(g: &ConvGeom) -> bool {
    g.cin >= IMPLICIT_MIN_CIN && !(g.kh == 1 && g.kw == 1 && g.pad == [0; 4])
}

/// Geometry of the implicit path: the input zero-padded to `[batch, hp, wp, cin]`, output
/// positions numbered on that padded grid (`r = (b·hp + oh)·wp + ow`, valid for `oh < ho`,
/// `ow < wo`). Then the input row of output `r` and tap `(i, j)` is `r + i·wp + j`, so kernel
/// row `i` reads, for output `r`, the `kw · cin` contiguous values from row `r + i·wp` on: an
/// im2col matrix that already exists in memory, with row stride `cin` (rows overlap). A
/// convolution is then `kh` GEMMs over a range of virtual rows, and the rows with `ow ≥ wo`
/// (or `oh ≥ ho`) are computed and thrown away: `wp / wo` extra work instead of writing and
/// reading `kh · kw` copies of the input.
#[derive(Debug, Clone, Copy)]
struct Virtual {
    hp: usize,
    wp: usize,
    /// Images per GEMM: the whole batch when images follow each other without discarded rows
    /// between them (`hp == ho`, the 1D case), else one (so no `hp - ho` discarded rows).
    group: usize,
}

impl Virtual {
    fn new(g: &ConvGeom) -> Self {
        let hp = g.h + g.pad[0] + g.pad[1];
        let wp = g.w + g.pad[2] + g.pad[3];
        let group = if hp == g.ho() { g.batch.max(1) } else { 1 };
        Self { hp, wp, group }
    }

    /// Virtual rows from the first output of a group of `n` images to its last one.
    fn len(&self, g: &ConvGeom, n: usize) -> usize {
        (n - 1) * self.hp * self.wp + (g.ho() - 1) * self.wp + g.wo()
    }
}

/// Channels-last `x` zero-padded to `[batch, hp, wp, cin]`.
fn pad_input(x: &[f32], g: &ConvGeom, v: &Virtual) -> Vec<f32> {
    let c = g.cin;
    let per_in = g.h * g.w * c;
    // SAFETY: `pad_row` writes every value of each padded row, and the rows cover the buffer.
    unsafe {
        written(g.batch * v.hp * v.wp * c, |xp| {
            xp.par_chunks_mut(v.wp * c)
                .with_min_len(16)
                .enumerate()
                .for_each(|(row, dst)| {
                    let (b, ih) = (row / v.hp, row % v.hp);
                    pad_row(&x[b * per_in..(b + 1) * per_in], g, ih, dst);
                });
        })
    }
}

/// Row `ih` of one image `x` (`[h, w, cin]`) zero-padded (`[hp, wp, cin]`): every value of `dst`
/// written.
fn pad_row(x: &[f32], g: &ConvGeom, ih: usize, dst: &mut [MaybeUninit<f32>]) {
    let c = g.cin;
    let (pt, pl) = (g.pad[0], g.pad[2]);
    if ih < pt || ih >= pt + g.h {
        write_fill(dst, 0.0);
        return;
    }
    let src = (ih - pt) * g.w * c;
    write_fill(&mut dst[..pl * c], 0.0);
    write_slice(&mut dst[pl * c..(pl + g.w) * c], &x[src..src + g.w * c]);
    write_fill(&mut dst[(pl + g.w) * c..], 0.0);
}

/// [`conv_forward`] without im2col (see [`Virtual`]): `kh` GEMMs into a virtual-row buffer,
/// then the valid rows copied out with the bias added. Images that chain (1D) are one GEMM
/// per kernel row over the whole batch, parallel inside; otherwise (2D) each image is a task
/// of its own on one thread: its padded copy (~2 MB) and virtual rows stay in that core's
/// cache, and no fork-join per product (`examples/kernel_times.rs`, 2 cores, layer 2 of the
/// report's 2D model at batch 32: forward 223 → 154 ms, weight gradient 265 → 179 ms, input
/// gradient 204 → 151 ms against one parallel GEMM per image and kernel row).
fn implicit_forward(x: &[f32], g: &ConvGeom, wm: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let total = g.rows() * g.cout;
    // Every value is written once below, so no zero-fill first.
    let mut y: Vec<f32> = Vec::with_capacity(total);
    let v = Virtual::new(g);
    let (co, ho, wo) = (g.cout, g.ho(), g.wo());
    let per_out = ho * wo * co;
    if v.group > 1 {
        let xp = pad_input(x, g, &v);
        SCRATCH.with(|s| {
            let mut yv = s.borrow_mut();
            let len = v.len(g, g.batch);
            resize_at_least(&mut yv, len * co);
            let yv = &mut yv[..len * co];
            implicit_products(true, &xp, g, &v, wm, len, yv);
            let yv = &*yv;
            y.spare_capacity_mut()[..total]
                .par_chunks_mut(wo * co)
                .with_min_len(4)
                .enumerate()
                .for_each(|(row, dst)| {
                    let (b, oh) = (row / ho, row % ho);
                    let src = &yv[(b * v.hp * v.wp + oh * v.wp) * co..][..wo * co];
                    write_row(src, dst, co, bias);
                });
        });
    } else {
        let per_in = g.h * g.w * g.cin;
        let len = v.len(g, 1);
        y.spare_capacity_mut()[..total]
            .par_chunks_mut(per_out)
            .zip(x.par_chunks(per_in))
            .for_each(|(out, xi)| {
                IMAGE.with(|s| {
                    let (xp, yv) = &mut *s.borrow_mut();
                    pad_image(xi, g, &v, xp);
                    resize_at_least(yv, len * co);
                    let yv = &mut yv[..len * co];
                    implicit_products(false, xp, g, &v, wm, len, yv);
                    for (oh, dst) in out.chunks_exact_mut(wo * co).enumerate() {
                        write_row(&yv[oh * v.wp * co..][..wo * co], dst, co, bias);
                    }
                });
            });
    }
    // SAFETY: both branches write every one of the first `total` values (each output row of
    // each image, all `wo · co` values of it).
    unsafe { y.set_len(total) };
    y
}

thread_local! {
    /// The per-image buffers of the implicit path on each thread: the padded image and its
    /// virtual rows (of output, or of output gradient).
    static IMAGE: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

pub(super) fn resize_at_least(buf: &mut Vec<f32>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
}

/// One image `x` (`[h, w, cin]`) zero-padded into `xp` (`[hp, wp, cin]`, resized to fit).
fn pad_image(x: &[f32], g: &ConvGeom, v: &Virtual, xp: &mut Vec<f32>) {
    let c = g.cin;
    resize_at_least(xp, v.hp * v.wp * c);
    for (ih, row) in xp[..v.hp * v.wp * c].chunks_exact_mut(v.wp * c).enumerate() {
        // SAFETY: `f32` → `MaybeUninit<f32>` only forgets that the values are initialised.
        let row = unsafe { &mut *(row as *mut [f32] as *mut [MaybeUninit<f32>]) };
        pad_row(x, g, ih, row);
    }
}

/// `yv` (`len` virtual rows × `cout`) `= Σ_i window(i) · W_i` over the padded `xp`: one GEMM
/// per kernel row.
fn implicit_products(
    parallel: bool,
    xp: &[f32],
    g: &ConvGeom,
    v: &Virtual,
    wm: &[f32],
    len: usize,
    yv: &mut [f32],
) {
    let (ci, co, kr) = (g.cin, g.cout, g.kw * g.cin);
    for i in 0..g.kh {
        matmul_in(
            parallel,
            len,
            co,
            kr,
            yv,
            (co, 1),
            i > 0,
            &xp[i * v.wp * ci..],
            (ci, 1),
            &wm[i * kr * co..(i + 1) * kr * co],
            (co, 1),
        );
    }
}

/// One output row: `src` plus the bias (when there is one) into `dst`.
fn write_row(src: &[f32], dst: &mut [std::mem::MaybeUninit<f32>], co: usize, bias: Option<&[f32]>) {
    match bias {
        Some(bias) => {
            for (d, s) in dst.chunks_exact_mut(co).zip(src.chunks_exact(co)) {
                for ((d, s), b) in d.iter_mut().zip(s).zip(bias) {
                    d.write(s + b);
                }
            }
        }
        None => {
            for (d, s) in dst.iter_mut().zip(src) {
                d.write(*s);
            }
        }
    }
}

/// Parts of the per-image weight gradient: each sums its images in order on one thread, then
/// the parts are summed in order, so the result does not depend on the number of threads.
const WEIGHT_GRAD_PARTS: usize = 8;

/// [`conv_weight_grad`] without im2col (see [`Virtual`]): `dy` is spread onto the virtual rows
/// (zeros on the discarded ones, so they add nothing), then per kernel row one GEMM
/// `window(i)ᵀ · dy` accumulates into that kernel row's block of the weight matrix. Chained
/// images (1D) are one product over the batch, parallel inside; otherwise images are summed
/// per part (see [`WEIGHT_GRAD_PARTS`]) on one thread each, as in [`implicit_forward`].
fn implicit_weight_grad(x: &[f32], g: &ConvGeom, dy: &[f32], dw: &mut [f32]) {
    let v = Virtual::new(g);
    let (co, ho, wo) = (g.cout, g.ho(), g.wo());
    let per_out = ho * wo * co;
    if v.group > 1 {
        let xp = pad_input(x, g, &v);
        SCRATCH.with(|s| {
            let mut dyv = s.borrow_mut();
            let len = v.len(g, g.batch);
            spread_rows(dy, g, &v, &mut dyv, len);
            weight_products(true, &xp, g, &v, &dyv[..len * co], len, dw, false);
        });
        return;
    }
    let per_in = g.h * g.w * g.cin;
    let len = v.len(g, 1);
    let sum = sum_over_image_parts(g.batch, dw.len(), |images, acc| {
        IMAGE.with(|s| {
            let (xp, dyv) = &mut *s.borrow_mut();
            for b in images.clone() {
                pad_image(&x[b * per_in..(b + 1) * per_in], g, &v, xp);
                spread_rows(&dy[b * per_out..(b + 1) * per_out], g, &v, dyv, len);
                let more = b > images.start;
                weight_products(false, xp, g, &v, &dyv[..len * co], len, acc, more);
            }
        })
    });
    dw.copy_from_slice(&sum);
}

/// `Σ` of per-image terms of `len` values: images `0..batch` in [`WEIGHT_GRAD_PARTS`] fixed
/// parts, `part(images, acc)` summing one part's images in order into `acc` on one thread (the
/// first may overwrite it: it starts as zeros), then the parts added in order. So the result does
/// not depend on the number of threads.
pub(super) fn sum_over_image_parts(
    batch: usize,
    len: usize,
    part: impl Fn(std::ops::Range<usize>, &mut [f32]) + Sync,
) -> Vec<f32> {
    let per_part = batch.div_ceil(WEIGHT_GRAD_PARTS).max(1);
    let parts: Vec<Vec<f32>> = (0..batch)
        .step_by(per_part)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|b0| {
            let mut acc = vec![0.0f32; len];
            part(b0..(b0 + per_part).min(batch), &mut acc);
            acc
        })
        .collect();
    sum_in_order(parts, len)
}

/// The element-wise sum of `parts` (each `len` long), added in order: a fixed order of
/// reduction whatever thread computed which part.
fn sum_in_order(parts: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let mut total = vec![0.0f32; len];
    for part in parts {
        for (t, v) in total.iter_mut().zip(part) {
            *t += v;
        }
    }
    total
}

/// `dy` rows (`[images, ho, wo, cout]`) onto `len` virtual rows in `dyv`, zeros elsewhere.
fn spread_rows(dy: &[f32], g: &ConvGeom, v: &Virtual, dyv: &mut Vec<f32>, len: usize) {
    let (co, ho, wo) = (g.cout, g.ho(), g.wo());
    dyv.clear();
    dyv.resize(len * co, 0.0);
    for (row, s) in dy.chunks_exact(wo * co).enumerate() {
        let (b, oh) = (row / ho, row % ho);
        let at = (b * v.hp * v.wp + oh * v.wp) * co;
        dyv[at..at + wo * co].copy_from_slice(s);
    }
}

/// `dw_i [+]= window(i)ᵀ · dyv` for each kernel row `i`.
#[allow(clippy::too_many_arguments)]
fn weight_products(
    parallel: bool,
    xp: &[f32],
    g: &ConvGeom,
    v: &Virtual,
    dyv: &[f32],
    len: usize,
    dw: &mut [f32],
    accumulate: bool,
) {
    let (ci, co, kr) = (g.cin, g.cout, g.kw * g.cin);
    for i in 0..g.kh {
        matmul_in(
            parallel,
            kr,
            co,
            len,
            &mut dw[i * kr * co..(i + 1) * kr * co],
            (co, 1),
            accumulate,
            &xp[i * v.wp * ci..],
            (1, ci),
            dyv,
            (co, 1),
        );
    }
}

/// Column sums of `dy` (`[rows, c]`): the bias gradient.
pub fn bias_grad(dy: &[f32], c: usize) -> Vec<f32> {
    column_sums(dy, None, c)
}

/// Bias gradient of a conv followed by ReLU + max-pool, from the pooled gradient `dp` (`[rows,
/// c]`) and the pool's indices ([`pool_forward`] with `relu`): the sum of the gradients that
/// reach the conv output (index not [`CLAMPED`]).
pub fn pooled_bias_grad(dp: &[f32], idx: &[u32], c: usize) -> Vec<f32> {
    assert_eq!(dp.len(), idx.len());
    column_sums(dp, Some(idx), c)
}

/// Column sums of `v` (`[rows, c]`), of the values whose index is not [`CLAMPED`] when `idx` is
/// given. Fixed blocks of rows, summed in order.
fn column_sums(v: &[f32], idx: Option<&[u32]>, c: usize) -> Vec<f32> {
    const BLOCK_ROWS: usize = 1024;
    let block = BLOCK_ROWS * c;
    let partials: Vec<Vec<f32>> = v
        .par_chunks(block)
        .enumerate()
        .map(|(i, rows)| {
            let mut acc = vec![0.0f32; c];
            match idx {
                None => {
                    for row in rows.chunks_exact(c) {
                        for (a, x) in acc.iter_mut().zip(row) {
                            *a += x;
                        }
                    }
                }
                Some(idx) => {
                    let irows = idx[i * block..][..rows.len()].chunks_exact(c);
                    for (row, irow) in rows.chunks_exact(c).zip(irows) {
                        for ((a, x), k) in acc.iter_mut().zip(row).zip(irow) {
                            if *k != CLAMPED {
                                *a += x;
                            }
                        }
                    }
                }
            }
            acc
        })
        .collect();
    sum_in_order(partials, c)
}

// The three weight layouts below are gathers, one pass each, parallel over destination rows:
// for the report's 1D layer 2 (1.3 M weights) the two-pass serial transposes they replace took
// 5.6 + 2.0 + 5.2 ms of every training step (`examples/kernel_times.rs`).

/// Burn's weight `[cout, cin, kh, kw]` as the matrix `[(i, j, c), cout]`.
pub fn weight_matrix(w: &[f32], g: &ConvGeom) -> Vec<f32> {
    let (ci, co, taps) = (g.cin, g.cout, g.kh * g.kw);
    // SAFETY: every row is written whole below, and the rows cover the matrix.
    unsafe {
        written(w.len(), |m| {
            m.par_chunks_mut(co)
                .with_min_len(16)
                .enumerate()
                .for_each(|(r, row)| {
                    let (t, c) = (r / ci, r % ci);
                    for (o, d) in row.iter_mut().enumerate() {
                        d.write(w[(o * ci + c) * taps + t]);
                    }
                });
        })
    }
}

/// The weight matrix of [`ConvGeom::transposed`]: flipped kernel, `[(i, j, cout), cin]`.
pub fn weight_matrix_flipped(w: &[f32], g: &ConvGeom) -> Vec<f32> {
    let (ci, co, taps) = (g.cin, g.cout, g.kh * g.kw);
    // Row (t', o) is tap t = taps - 1 - t' (both axes flipped) of output channel o.
    // SAFETY: every row is written whole below, and the rows cover the matrix.
    unsafe {
        written(w.len(), |m| {
            m.par_chunks_mut(ci)
                .with_min_len(16)
                .enumerate()
                .for_each(|(r, row)| {
                    let (tf, o) = (r / co, r % co);
                    let t = taps - 1 - tf;
                    for (c, d) in row.iter_mut().enumerate() {
                        d.write(w[(o * ci + c) * taps + t]);
                    }
                });
        })
    }
}

/// The weight matrix `[(i, j, c), cout]` back in Burn's `[cout, cin, kh, kw]`.
pub fn weight_from_matrix(m: &[f32], g: &ConvGeom) -> Vec<f32> {
    let (ci, co, taps) = (g.cin, g.cout, g.kh * g.kw);
    let k = ci * taps;
    // 16 output channels per task: each source row is then read 16 values (a cache line) at a
    // time, not one.
    const O: usize = 16;
    // SAFETY: each block of `n` output channels gets all `k` values of each channel below.
    unsafe {
        written(m.len(), |w| {
            w.par_chunks_mut(O * k)
                .enumerate()
                .for_each(|(ob, blocks)| {
                    let o0 = ob * O;
                    let n = blocks.len() / k;
                    for ct in 0..k {
                        let (c, t) = (ct / taps, ct % taps);
                        let src = &m[(t * ci + c) * co + o0..][..n];
                        for (oi, &v) in src.iter().enumerate() {
                            blocks[oi * k + ct].write(v);
                        }
                    }
                });
        })
    }
}

/// Shape of a max-pool without padding or dilation (floor mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeom {
    pub batch: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
}

impl PoolGeom {
    /// Output height.
    pub fn ho(&self) -> usize {
        (self.h - self.kh) / self.sh + 1
    }

    /// Output width.
    pub fn wo(&self) -> usize {
        (self.w - self.kw) / self.sw + 1
    }
}

/// The index [`pool_forward`] stores for an output that its ReLU set to zero: no gradient.
pub const CLAMPED: u32 = u32::MAX;

/// Max-pool of channels-last `x`: the channels-last output and, per output value, the position
/// `ih·w + iw` of its maximum in its image (the first one in window order on ties). With
/// `relu`, the ReLU of that: maxima `≤ 0` become 0 with index [`CLAMPED`] (ReLU's gradient is
/// 0 there), which saves the separate ReLU pass and its backward over the pooled tensor.
pub fn pool_forward(x: &[f32], g: &PoolGeom, relu: bool) -> (Vec<f32>, Vec<u32>) {
    let (ho, wo, c) = (g.ho(), g.wo(), g.c);
    assert_eq!(x.len(), g.batch * g.h * g.w * c);
    let len = g.batch * ho * wo * c;
    let mut idx = Vec::with_capacity(len);
    // SAFETY: `pool_row` writes every value of each output row (and of its index row), and the
    // rows cover both buffers.
    let out = unsafe {
        written(len, |out| {
            out.par_chunks_mut(wo * c)
                .zip(idx.spare_capacity_mut()[..len].par_chunks_mut(wo * c))
                .enumerate()
                .for_each(|(r, (orow, irow))| {
                    let (b, oh) = (r / ho, r % ho);
                    let image = &x[b * g.h * g.w * c..(b + 1) * g.h * g.w * c];
                    pool_row(image, g, oh, orow, irow, relu);
                });
        })
    };
    // SAFETY: written whole above, with `out`.
    unsafe { idx.set_len(len) };
    (out, idx)
}

/// One output row `oh` of one image: values and argmax positions, every value of `orow` and
/// `irow` written.
pub(super) fn pool_row(
    image: &[f32],
    g: &PoolGeom,
    oh: usize,
    orow: &mut [MaybeUninit<f32>],
    irow: &mut [MaybeUninit<u32>],
    relu: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        unsafe { pool_row_avx512(image, g, oh, orow, irow, relu) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { pool_row_avx2(image, g, oh, orow, irow, relu) };
        return;
    }
    pool_row_body(image, g, oh, orow, irow, relu);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pool_row_avx512(
    image: &[f32],
    g: &PoolGeom,
    oh: usize,
    orow: &mut [MaybeUninit<f32>],
    irow: &mut [MaybeUninit<u32>],
    relu: bool,
) {
    pool_row_body(image, g, oh, orow, irow, relu);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pool_row_avx2(
    image: &[f32],
    g: &PoolGeom,
    oh: usize,
    orow: &mut [MaybeUninit<f32>],
    irow: &mut [MaybeUninit<u32>],
    relu: bool,
) {
    pool_row_body(image, g, oh, orow, irow, relu);
}

#[inline(always)]
#[allow(clippy::needless_range_loop)] // indexed: the form LLVM vectorises with blends
fn pool_row_body(
    image: &[f32],
    g: &PoolGeom,
    oh: usize,
    orow: &mut [MaybeUninit<f32>],
    irow: &mut [MaybeUninit<u32>],
    relu: bool,
) {
    let c = g.c;
    for ow in 0..g.wo() {
        let (ih0, iw0) = (oh * g.sh, ow * g.sw);
        let first = ih0 * g.w + iw0;
        let o = &mut orow[ow * c..(ow + 1) * c];
        let id = &mut irow[ow * c..(ow + 1) * c];
        write_slice(o, &image[first * c..(first + 1) * c]);
        write_fill(id, first as u32);
        // SAFETY: both were written whole just above.
        let (o, id) = unsafe { (assume_init(o), assume_init(id)) };
        for i in 0..g.kh {
            for j in 0..g.kw {
                if i == 0 && j == 0 {
                    continue;
                }
                let pos = (ih0 + i) * g.w + iw0 + j;
                let src = &image[pos * c..(pos + 1) * c];
                let p = pos as u32;
                for ch in 0..c {
                    let v = src[ch];
                    let gt = v > o[ch];
                    o[ch] = if gt { v } else { o[ch] };
                    id[ch] = if gt { p } else { id[ch] };
                }
            }
        }
        if relu {
            for ch in 0..c {
                let keep = o[ch] > 0.0;
                o[ch] = if keep { o[ch] } else { 0.0 };
                id[ch] = if keep { id[ch] } else { CLAMPED };
            }
        }
    }
}

/// Gradient of [`pool_forward`]'s input: each output gradient added at its maximum's position.
pub fn pool_backward(dy: &[f32], idx: &[u32], g: &PoolGeom) -> Vec<f32> {
    let (ho, wo, c) = (g.ho(), g.wo(), g.c);
    let per_out = ho * wo * c;
    let per_in = g.h * g.w * c;
    assert_eq!(dy.len(), g.batch * per_out);
    let mut dx = vec![0.0f32; g.batch * per_in];
    dx.par_chunks_mut(per_in)
        .enumerate()
        .for_each(|(b, image)| {
            let dyb = &dy[b * per_out..(b + 1) * per_out];
            let ib = &idx[b * per_out..(b + 1) * per_out];
            for (d, k) in dyb.chunks_exact(c).zip(ib.chunks_exact(c)) {
                for (ch, (&v, &p)) in d.iter().zip(k).enumerate() {
                    if p != CLAMPED {
                        image[p as usize * c + ch] += v;
                    }
                }
            }
        });
    dx
}
