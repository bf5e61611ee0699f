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
    let (ho, wo, k, c) = (g.ho(), g.wo(), g.k(), g.cin);
    assert!(stride == k || stride == k + 1);
    let (pt, pl) = (g.pad[0] as isize, g.pad[2] as isize);
    let min_len = (4096 / stride).max(1);
    out.par_chunks_mut(stride)
        .with_min_len(min_len)
        .enumerate()
        .for_each(|(i, row)| {
            let r = r0 + i;
            let b = r / (ho * wo);
            let oh = (r / wo) % ho;
            let ow = r % wo;
            if stride > k {
                row[k] = 1.0;
            }
            // Kernel columns whose input column is inside the image: j in j0..j1.
            let j0 = (pl - ow as isize).max(0) as usize;
            let j1 =
                ((g.w as isize + pl - ow as isize).min(g.kw as isize)).max(j0 as isize) as usize;
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
        });
}

/// `dst (m×n) = [dst +] lhs (m×k) · rhs (k×n)`, strides as (row, column).
#[allow(clippy::too_many_arguments)]
fn matmul(
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
    let parallelism = if m * n * k >= 1 << 18 {
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
        matmul(
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
            matmul(
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
        matmul(k, co, rows, &mut dw, (co, 1), false, x, (1, k), dy, (co, 1));
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
            matmul(
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

/// Input channels from which a convolution skips im2col (see [`implicit_forward`]). Below it
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
    let mut xp = vec![0.0f32; g.batch * v.hp * v.wp * c];
    let (pt, pl) = (g.pad[0], g.pad[2]);
    xp.par_chunks_mut(v.wp * c)
        .with_min_len(16)
        .enumerate()
        .for_each(|(row, dst)| {
            let (b, ih) = (row / v.hp, row % v.hp);
            if ih < pt || ih >= pt + g.h {
                return;
            }
            let src = ((b * g.h + ih - pt) * g.w) * c;
            dst[pl * c..(pl + g.w) * c].copy_from_slice(&x[src..src + g.w * c]);
        });
    xp
}

/// [`conv_forward`] without im2col (see [`Virtual`]): `kh` GEMMs per group of images into a
/// virtual-row buffer, then the valid rows copied out with the bias added.
fn implicit_forward(x: &[f32], g: &ConvGeom, wm: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let total = g.rows() * g.cout;
    // Every value is written once below, so no zero-fill first.
    let mut y: Vec<f32> = Vec::with_capacity(total);
    let v = Virtual::new(g);
    let (ci, co, ho, wo) = (g.cin, g.cout, g.ho(), g.wo());
    let kr = g.kw * ci;
    let xp = pad_input(x, g, &v);
    let image = v.hp * v.wp;
    SCRATCH.with(|s| {
        let mut yv = s.borrow_mut();
        let need = v.len(g, v.group) * co;
        if yv.len() < need {
            yv.resize(need, 0.0);
        }
        for b0 in (0..g.batch).step_by(v.group) {
            let n = v.group.min(g.batch - b0);
            let len = v.len(g, n);
            let yv = &mut yv[..len * co];
            for i in 0..g.kh {
                let start = (b0 * image + i * v.wp) * ci;
                matmul(
                    len,
                    co,
                    kr,
                    yv,
                    (co, 1),
                    i > 0,
                    &xp[start..],
                    (ci, 1),
                    &wm[i * kr * co..(i + 1) * kr * co],
                    (co, 1),
                );
            }
            // Valid rows out, bias added: one output row (`wo · co` values) per task.
            let out = &mut y.spare_capacity_mut()[b0 * ho * wo * co..(b0 + n) * ho * wo * co];
            let yv = &*yv;
            out.par_chunks_mut(wo * co)
                .with_min_len(4)
                .enumerate()
                .for_each(|(row, dst)| {
                    let (b, oh) = (row / ho, row % ho);
                    let src = &yv[(b * image + oh * v.wp) * co..][..wo * co];
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
                });
        }
    });
    // SAFETY: the groups cover all `batch` images and each writes all `ho · wo · co` values of
    // its images (every `dst` element above), so the first `total` elements are initialised.
    unsafe { y.set_len(total) };
    y
}

/// [`conv_weight_grad`] without im2col (see [`Virtual`]): `dy` is spread onto the virtual rows
/// (zeros on the discarded ones, so they add nothing), then per group and kernel row one GEMM
/// `window(i)ᵀ · dy` accumulates into that kernel row's block of the weight matrix. Groups
/// are summed in order.
fn implicit_weight_grad(x: &[f32], g: &ConvGeom, dy: &[f32], dw: &mut [f32]) {
    let v = Virtual::new(g);
    let (ci, co, ho, wo) = (g.cin, g.cout, g.ho(), g.wo());
    let kr = g.kw * ci;
    let xp = pad_input(x, g, &v);
    let image = v.hp * v.wp;
    SCRATCH.with(|s| {
        let mut dyv = s.borrow_mut();
        let need = v.len(g, v.group) * co;
        // Zeros on the discarded rows; the valid ones are overwritten for each group.
        dyv.clear();
        dyv.resize(need, 0.0);
        for b0 in (0..g.batch).step_by(v.group) {
            let n = v.group.min(g.batch - b0);
            let len = v.len(g, n);
            let src = &dy[b0 * ho * wo * co..(b0 + n) * ho * wo * co];
            // Group rows (b, oh) go to virtual rows `b·image + oh·wp`; spread row by row.
            {
                let dyv = &mut dyv[..len * co];
                for (row, s) in src.chunks_exact(wo * co).enumerate() {
                    let (b, oh) = (row / ho, row % ho);
                    let at = (b * image + oh * v.wp) * co;
                    dyv[at..at + wo * co].copy_from_slice(s);
                }
            }
            for i in 0..g.kh {
                let start = (b0 * image + i * v.wp) * ci;
                matmul(
                    kr,
                    co,
                    len,
                    &mut dw[i * kr * co..(i + 1) * kr * co],
                    (co, 1),
                    b0 > 0,
                    &xp[start..],
                    (1, ci),
                    &dyv[..len * co],
                    (co, 1),
                );
            }
        }
    });
}

/// Column sums of `dy` (`[rows, c]`): the bias gradient. Fixed blocks of rows, summed in order.
pub fn bias_grad(dy: &[f32], c: usize) -> Vec<f32> {
    const BLOCK_ROWS: usize = 1024;
    let partials: Vec<Vec<f32>> = dy
        .par_chunks(BLOCK_ROWS * c)
        .map(|block| {
            let mut acc = vec![0.0f32; c];
            for row in block.chunks_exact(c) {
                for (a, v) in acc.iter_mut().zip(row) {
                    *a += v;
                }
            }
            acc
        })
        .collect();
    let mut total = vec![0.0f32; c];
    for p in partials {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// `src` (`rows × cols`, row-major) transposed, in cache-sized tiles.
fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const T: usize = 32;
    for r0 in (0..rows).step_by(T) {
        for c0 in (0..cols).step_by(T) {
            for r in r0..(r0 + T).min(rows) {
                for c in c0..(c0 + T).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// Burn's weight `[cout, cin, kh, kw]` with each output channel's block as `[kh·kw, cin]`.
fn taps_major(w: &[f32], g: &ConvGeom) -> Vec<f32> {
    let (ci, taps) = (g.cin, g.kh * g.kw);
    let mut u = vec![0.0f32; w.len()];
    if taps == 1 {
        u.copy_from_slice(w);
    } else {
        for (src, dst) in w.chunks_exact(ci * taps).zip(u.chunks_exact_mut(ci * taps)) {
            transpose_into(src, ci, taps, dst);
        }
    }
    u
}

/// Burn's weight `[cout, cin, kh, kw]` as the matrix `[(i, j, c), cout]`.
pub fn weight_matrix(w: &[f32], g: &ConvGeom) -> Vec<f32> {
    let u = taps_major(w, g);
    let mut m = vec![0.0f32; w.len()];
    transpose_into(&u, g.cout, g.k(), &mut m);
    m
}

/// The weight matrix of [`ConvGeom::transposed`]: flipped kernel, `[(i, j, cout), cin]`.
pub fn weight_matrix_flipped(w: &[f32], g: &ConvGeom) -> Vec<f32> {
    let (ci, co, taps) = (g.cin, g.cout, g.kh * g.kw);
    let u = taps_major(w, g);
    let mut m = vec![0.0f32; w.len()];
    // Row (t', o) of the result is tap t = taps - 1 - t' (both axes flipped) of channel o.
    for (row, dst) in m.chunks_exact_mut(ci).enumerate() {
        let (tf, o) = (row / co, row % co);
        let t = taps - 1 - tf;
        dst.copy_from_slice(&u[(o * taps + t) * ci..(o * taps + t + 1) * ci]);
    }
    m
}

/// The weight matrix `[(i, j, c), cout]` back in Burn's `[cout, cin, kh, kw]`.
pub fn weight_from_matrix(m: &[f32], g: &ConvGeom) -> Vec<f32> {
    let (ci, taps) = (g.cin, g.kh * g.kw);
    let mut u = vec![0.0f32; m.len()];
    transpose_into(m, g.k(), g.cout, &mut u);
    if taps == 1 {
        return u;
    }
    let mut w = vec![0.0f32; m.len()];
    for (src, dst) in u.chunks_exact(ci * taps).zip(w.chunks_exact_mut(ci * taps)) {
        transpose_into(src, taps, ci, dst);
    }
    w
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
    let mut out = vec![0.0f32; g.batch * ho * wo * c];
    let mut idx = vec![0u32; out.len()];
    out.par_chunks_mut(wo * c)
        .zip(idx.par_chunks_mut(wo * c))
        .enumerate()
        .for_each(|(r, (orow, irow))| {
            let (b, oh) = (r / ho, r % ho);
            let image = &x[b * g.h * g.w * c..(b + 1) * g.h * g.w * c];
            pool_row(image, g, oh, orow, irow, relu);
        });
    (out, idx)
}

/// One output row `oh` of one image: values and argmax positions.
fn pool_row(
    image: &[f32],
    g: &PoolGeom,
    oh: usize,
    orow: &mut [f32],
    irow: &mut [u32],
    relu: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { pool_row_avx2(image, g, oh, orow, irow, relu) };
        return;
    }
    pool_row_body(image, g, oh, orow, irow, relu);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pool_row_avx2(
    image: &[f32],
    g: &PoolGeom,
    oh: usize,
    orow: &mut [f32],
    irow: &mut [u32],
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
    orow: &mut [f32],
    irow: &mut [u32],
    relu: bool,
) {
    let c = g.c;
    for ow in 0..g.wo() {
        let o = &mut orow[ow * c..(ow + 1) * c];
        let id = &mut irow[ow * c..(ow + 1) * c];
        let (ih0, iw0) = (oh * g.sh, ow * g.sw);
        let first = ih0 * g.w + iw0;
        o.copy_from_slice(&image[first * c..(first + 1) * c]);
        id.fill(first as u32);
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
