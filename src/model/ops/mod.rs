//! Our own convolution and max-pool kernels (forward and backward) for the CPU backend (`flex`),
//! plugged into Burn through its backend-extension API, so model code stays backend-agnostic.
//!
//! Why: Burn 0.22's flex backend has no convolution backward of its own (a generic fallback
//! computes the weight gradient as hundreds of small products, re-packing a large matrix each
//! time) and a scalar max-pool; together they made a training step 2.5–4× slower than Keras
//! (`../shared/notes/burn-cpu-performance.md`). Here each conv layer is a few large GEMMs (the
//! `gemm` crate, as flex itself uses) in channels-last layout, with the bias added by the product
//! itself, and the max-pool is vectorised over channels and keeps its argmax for the backward.
//!
//! What this module owns:
//! - [`conv1d`], [`conv2d`], [`max_pool1d`], [`max_pool2d`]: what the networks call. They take
//!   Burn's own layer structs and use our kernels when the tensor lives on the flex device, the
//!   layer is one we cover (stride 1, no dilation or groups, padding below the kernel size, a
//!   bias; pools without padding, dilation or ceil mode) and [`own_kernels`] is on; otherwise they
//!   call the layer's own `forward` (wgpu keeps Burn's kernels).
//! - [`conv1d_relu_pool`], [`conv2d_relu_pool`]: conv, ReLU and max-pool as one op (what the
//!   networks call where no batch norm sits between them); for layers with few input channels
//!   the conv output never reaches memory ([`fused`]), and the bias gradient comes from the
//!   pooled gradient.
//! - [`SerKernels`]: the backend extension (`Flex` forward; `Autodiff<Flex>` forward plus our
//!   backward).
//! - [`kernels`]: the slice kernels (im2col GEMMs, pool with indices); [`fused`]: the banded
//!   conv + ReLU + pool kernels.
//!
//! Layout: outputs are channels-last in memory, exposed to Burn as permuted (strided) views of
//! the logical `[batch, channels, ...]` shape, so a conv's output feeds the next pool (and a
//! pool's gradient the conv's backward) without copies. Results are deterministic: see
//! [`kernels`].

pub mod fused;
pub mod kernels;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::TensorMetadata;
use burn::backend::{backend_extension, Autodiff, Dispatch, Flex};
use burn::module::Param;
use burn::nn::conv::{Conv1d, Conv2d};
use burn::nn::pool::{MaxPool1d, MaxPool2d};
use burn::nn::{PaddingConfig1d, PaddingConfig2d};
use burn::tensor::{activation, DType, Device, Shape, Tensor, TensorData};

use kernels::{ConvGeom, PoolGeom};

static OWN_KERNELS: AtomicBool = AtomicBool::new(true);

/// Use our kernels where they apply (the default), or Burn's everywhere (`false`; for
/// comparisons such as `ser bench train --burn-kernels`). Process-wide.
pub fn set_own_kernels(on: bool) {
    OWN_KERNELS.store(on, Ordering::Relaxed);
}

/// Whether our kernels are used where they apply.
pub fn own_kernels() -> bool {
    OWN_KERNELS.load(Ordering::Relaxed)
}

/// Whether a tensor on `device` of `dtype` goes to our kernels.
fn ours(device: &Device, dtype: DType) -> bool {
    own_kernels() && dtype == DType::F32 && device.clone().without_autodiff() == Device::flex()
}

/// Conv1d layer forward.
///
/// # Shapes
/// - `x`: `[batch, cin, len]`
/// - output: `[batch, cout, len_out]`
pub fn conv1d(conv: &Conv1d, x: Tensor<3>) -> Tensor<3> {
    match (conv1d_pads(conv), &conv.bias) {
        (Some(pads), Some(bias)) if ours(&x.device(), x.dtype()) => {
            dispatch_conv(x, &conv.weight, bias, pads, None)
        }
        _ => conv.forward(x),
    }
}

/// Our conv (with `pool`: conv + ReLU + pool) of `x`, through the backend extension.
fn dispatch_conv<const D: usize>(
    x: Tensor<D>,
    weight: &Param<Tensor<D>>,
    bias: &Param<Tensor<1>>,
    pads: [usize; 4],
    pool: Option<([usize; 2], [usize; 2])>,
) -> Tensor<D> {
    let (x, w, b) = (
        x.into_dispatch(),
        weight.val().into_dispatch(),
        bias.val().into_dispatch(),
    );
    Tensor::from_dispatch(match pool {
        None => <Dispatch as SerKernels>::ser_conv(x, w, b, pads),
        Some((kernel, stride)) => {
            <Dispatch as SerKernels>::ser_conv_relu_pool(x, w, b, pads, kernel, stride)
        }
    })
}

/// Output size of a stride-1 conv with kernel `k` and `pads` on an `h × w` input, if any.
fn conv_out([h, w]: [usize; 2], [kh, kw]: [usize; 2], p: [usize; 4]) -> Option<[usize; 2]> {
    Some([
        (h + p[0] + p[1] + 1).checked_sub(kh)?,
        (w + p[2] + p[3] + 1).checked_sub(kw)?,
    ])
}

/// The pads (top, bottom, left, right) of a conv1d layer our kernels cover: stride 1, no
/// dilation or groups, padding below the kernel size; `None` for any other.
fn conv1d_pads(conv: &Conv1d) -> Option<[usize; 4]> {
    let k = conv.kernel_size;
    let (left, right) = match conv.padding {
        PaddingConfig1d::Valid => (0, 0),
        PaddingConfig1d::Same => same_padding(k),
        PaddingConfig1d::Explicit(l, r) => (l, r),
    };
    let simple = conv.stride == 1 && conv.dilation == 1 && conv.groups == 1;
    (simple && left < k && right < k).then_some([0, 0, left, right])
}

/// Burn's `Same` padding at stride 1: `(start, end)`, the odd one at the end.
fn same_padding(kernel: usize) -> (usize, usize) {
    let total = kernel.saturating_sub(1);
    (total / 2, total - total / 2)
}

/// Conv2d layer forward.
///
/// # Shapes
/// - `x`: `[batch, cin, h, w]`
/// - output: `[batch, cout, h_out, w_out]`
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match (conv2d_pads(conv), &conv.bias) {
        (Some(pads), Some(bias)) if ours(&x.device(), x.dtype()) => {
            dispatch_conv(x, &conv.weight, bias, pads, None)
        }
        _ => conv.forward(x),
    }
}

/// [`conv1d_pads`] for a conv2d layer.
fn conv2d_pads(conv: &Conv2d) -> Option<[usize; 4]> {
    let [kh, kw] = conv.kernel_size;
    let p = match conv.padding {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Same => {
            let ((t, b), (l, r)) = (same_padding(kh), same_padding(kw));
            [t, b, l, r]
        }
        PaddingConfig2d::Explicit(t, l, b, r) => [t, b, l, r],
    };
    let simple = conv.stride == [1, 1] && conv.dilation == [1, 1] && conv.groups == 1;
    (simple && p[0] < kh && p[1] < kh && p[2] < kw && p[3] < kw).then_some(p)
}

/// `relu(max_pool1d(pool, conv1d(conv, x)))` as one op: with our kernels the conv output of a
/// layer with few input channels never reaches memory (see [`fused`]), and the bias gradient
/// comes from the pooled gradient. Same values as the three ops one after the other.
///
/// # Shapes
/// - `x`: `[batch, cin, len]`
/// - output: `[batch, cout, pooled_len]`
pub fn conv1d_relu_pool(conv: &Conv1d, pool: &MaxPool1d, x: Tensor<3>) -> Tensor<3> {
    let [_, _, len] = x.dims();
    match (conv1d_pads(conv), &conv.bias) {
        (Some(pads), Some(bias))
            if ours(&x.device(), x.dtype())
                && conv_out([1, len], [1, conv.kernel_size], pads)
                    .is_some_and(|[_, l]| pool1d_ours(pool, l)) =>
        {
            let window = ([1, pool.kernel_size], [1, pool.stride]);
            dispatch_conv(x, &conv.weight, bias, pads, Some(window))
        }
        _ => max_pool1d_relu(pool, conv1d(conv, x)),
    }
}

/// [`conv1d_relu_pool`] for 2D layers.
///
/// # Shapes
/// - `x`: `[batch, cin, h, w]`
/// - output: `[batch, cout, pooled_h, pooled_w]`
pub fn conv2d_relu_pool(conv: &Conv2d, pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    match (conv2d_pads(conv), &conv.bias) {
        (Some(pads), Some(bias))
            if ours(&x.device(), x.dtype())
                && conv_out([h, w], conv.kernel_size, pads)
                    .is_some_and(|[ho, wo]| pool2d_ours(pool, ho, wo)) =>
        {
            let window = (pool.kernel_size, pool.stride);
            dispatch_conv(x, &conv.weight, bias, pads, Some(window))
        }
        _ => max_pool2d_relu(pool, conv2d(conv, x)),
    }
}

/// MaxPool1d layer forward.
///
/// # Shapes
/// - `x`: `[batch, c, len]`
/// - output: `[batch, c, len_out]`
pub fn max_pool1d(pool: &MaxPool1d, x: Tensor<3>) -> Tensor<3> {
    max_pool1d_with(pool, x, false)
}

/// `relu(max_pool1d(pool, x))` in one pass (ReLU and max-pool commute, both being monotone);
/// with our kernels the ReLU costs no pass of its own, forward or backward.
///
/// # Shapes
/// - `x`: `[batch, c, len]`
/// - output: `[batch, c, len_out]`
pub fn max_pool1d_relu(pool: &MaxPool1d, x: Tensor<3>) -> Tensor<3> {
    max_pool1d_with(pool, x, true)
}

/// Whether our pool kernel covers `pool` on inputs of length `len`: no padding, dilation or
/// ceil mode, a window that fits.
fn pool1d_ours(pool: &MaxPool1d, len: usize) -> bool {
    matches!(pool.padding, PaddingConfig1d::Valid)
        && pool.dilation == 1
        && !pool.ceil_mode
        && len >= pool.kernel_size
}

fn max_pool1d_with(pool: &MaxPool1d, x: Tensor<3>, relu: bool) -> Tensor<3> {
    let [_, _, len] = x.dims();
    if pool1d_ours(pool, len) && ours(&x.device(), x.dtype()) {
        Tensor::from_dispatch(<Dispatch as SerKernels>::ser_max_pool(
            x.into_dispatch(),
            [1, pool.kernel_size],
            [1, pool.stride],
            relu,
        ))
    } else if relu {
        activation::relu(pool.forward(x))
    } else {
        pool.forward(x)
    }
}

/// MaxPool2d layer forward.
///
/// # Shapes
/// - `x`: `[batch, c, h, w]`
/// - output: `[batch, c, h_out, w_out]`
pub fn max_pool2d(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    max_pool2d_with(pool, x, false)
}

/// `relu(max_pool2d(pool, x))` in one pass; see [`max_pool1d_relu`].
///
/// # Shapes
/// - `x`: `[batch, c, h, w]`
/// - output: `[batch, c, h_out, w_out]`
pub fn max_pool2d_relu(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    max_pool2d_with(pool, x, true)
}

/// [`pool1d_ours`] for 2D pools on `h × w` inputs.
fn pool2d_ours(pool: &MaxPool2d, h: usize, w: usize) -> bool {
    matches!(pool.padding, PaddingConfig2d::Valid)
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
        && h >= pool.kernel_size[0]
        && w >= pool.kernel_size[1]
}

fn max_pool2d_with(pool: &MaxPool2d, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if pool2d_ours(pool, h, w) && ours(&x.device(), x.dtype()) {
        Tensor::from_dispatch(<Dispatch as SerKernels>::ser_max_pool(
            x.into_dispatch(),
            pool.kernel_size,
            pool.stride,
            relu,
        ))
    } else if relu {
        activation::relu(pool.forward(x))
    } else {
        pool.forward(x)
    }
}

/// Our kernels as a Burn backend extension, for flex with and without autodiff.
///
/// Tensors are `[batch, channels, len]` (a 1D layer: `pads[0..2]` and `kernel[0]`, `stride[0]`
/// must be 0, 1, 1) or `[batch, channels, h, w]`.
#[backend_extension(Flex, Autodiff)]
pub trait SerKernels: burn::backend::Backend {
    /// Stride-1 convolution plus bias; `pads`: top, bottom, left, right.
    fn ser_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pads: [usize; 4],
    ) -> FloatTensor<Self>;

    /// Max-pool without padding, followed by a ReLU when `relu`.
    fn ser_max_pool(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        relu: bool,
    ) -> FloatTensor<Self>;

    /// `ser_max_pool(ser_conv(x, weight, bias, pads), kernel, stride, true)` as one op.
    fn ser_conv_relu_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pads: [usize; 4],
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FloatTensor<Self>;
}

/// `t` (logical `[b, c, len]` or `[b, c, h, w]`) as a contiguous channels-last tensor; no copy
/// when it already is one underneath.
fn channels_last(t: &FlexTensor) -> FlexTensor {
    let p = match t.shape().num_dims() {
        3 => t.permute(&[0, 2, 1]),
        4 => t.permute(&[0, 2, 3, 1]),
        n => panic!("ser kernels take rank 3 or 4 tensors, got rank {n}"),
    };
    if p.is_contiguous() {
        p
    } else {
        p.to_contiguous()
    }
}

fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("ser kernels: a contiguous f32 tensor")
}

fn contiguous(t: &FlexTensor) -> FlexTensor {
    if t.is_contiguous() {
        t.clone()
    } else {
        t.to_contiguous()
    }
}

/// Channels-last `data` (`[b, (h,) w, c]`) as a tensor of logical shape `[b, c, (h,) w]`.
fn from_channels_last(data: Vec<f32>, rank: usize, [b, c, h, w]: [usize; 4]) -> FlexTensor {
    if rank == 3 {
        FlexTensor::from_data(TensorData::new(data, [b, w, c])).permute(&[0, 2, 1])
    } else {
        FlexTensor::from_data(TensorData::new(data, [b, h, w, c])).permute(&[0, 3, 1, 2])
    }
}

/// `(rank, [b, c, h, w])` of a rank-3 (`h = 1`) or rank-4 tensor.
fn dims4(t: &FlexTensor) -> (usize, [usize; 4]) {
    let s = t.shape();
    match s.num_dims() {
        3 => (3, [s[0], s[1], 1, s[2]]),
        4 => (4, [s[0], s[1], s[2], s[3]]),
        n => panic!("ser kernels take rank 3 or 4 tensors, got rank {n}"),
    }
}

fn conv_geom(x: &FlexTensor, w: &FlexTensor, pads: [usize; 4]) -> (usize, ConvGeom) {
    let (rank, [batch, cin, h, width]) = dims4(x);
    let (_, [cout, wcin, kh, kw]) = dims4(w);
    assert_eq!(
        cin, wcin,
        "ser_conv: input has {cin} channels, weight {wcin}"
    );
    (
        rank,
        ConvGeom {
            batch,
            cin,
            h,
            w: width,
            cout,
            kh,
            kw,
            pad: pads,
        },
    )
}

fn conv_forward(x: &FlexTensor, w: &FlexTensor, bias: &FlexTensor, pads: [usize; 4]) -> FlexTensor {
    let (rank, g) = conv_geom(x, w, pads);
    let xs = channels_last(x);
    let wc = contiguous(w);
    let bc = contiguous(bias);
    let wm = kernels::weight_matrix(f32s(&wc), &g);
    let y = kernels::conv_forward(f32s(&xs), &g, &wm, Some(f32s(&bc)));
    from_channels_last(y, rank, [g.batch, g.cout, g.ho(), g.wo()])
}

fn pool_geom(x: &FlexTensor, kernel: [usize; 2], stride: [usize; 2]) -> (usize, PoolGeom) {
    let (rank, [batch, c, h, w]) = dims4(x);
    (
        rank,
        PoolGeom {
            batch,
            c,
            h,
            w,
            kh: kernel[0],
            kw: kernel[1],
            sh: stride[0],
            sw: stride[1],
        },
    )
}

fn pool_forward(
    x: &FlexTensor,
    kernel: [usize; 2],
    stride: [usize; 2],
    relu: bool,
) -> (FlexTensor, Vec<u32>, usize, PoolGeom) {
    let (rank, g) = pool_geom(x, kernel, stride);
    let xs = channels_last(x);
    let (y, idx) = kernels::pool_forward(f32s(&xs), &g, relu);
    (
        from_channels_last(y, rank, [g.batch, g.c, g.ho(), g.wo()]),
        idx,
        rank,
        g,
    )
}

/// The pool geometry over the output of conv `g`.
fn pool_over(g: &ConvGeom, kernel: [usize; 2], stride: [usize; 2]) -> PoolGeom {
    PoolGeom {
        batch: g.batch,
        c: g.cout,
        h: g.ho(),
        w: g.wo(),
        kh: kernel[0],
        kw: kernel[1],
        sh: stride[0],
        sw: stride[1],
    }
}

/// The fused conv + ReLU + pool forward: pooled output, indices, and the pool geometry.
fn conv_relu_pool_forward(
    x: &FlexTensor,
    w: &FlexTensor,
    bias: &FlexTensor,
    pads: [usize; 4],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> (FlexTensor, Vec<u32>, PoolGeom) {
    let (rank, g) = conv_geom(x, w, pads);
    let p = pool_over(&g, kernel, stride);
    let xs = channels_last(x);
    let (wc, bc) = (contiguous(w), contiguous(bias));
    let wm = kernels::weight_matrix(f32s(&wc), &g);
    let (y, idx) = if fused::banded(&g) {
        fused::forward(f32s(&xs), &g, &p, &wm, f32s(&bc))
    } else {
        let conv = kernels::conv_forward(f32s(&xs), &g, &wm, Some(f32s(&bc)));
        kernels::pool_forward(&conv, &p, true)
    };
    let dims = [g.batch, g.cout, p.ho(), p.wo()];
    (from_channels_last(y, rank, dims), idx, p)
}

impl SerKernels for Flex {
    fn ser_conv(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        pads: [usize; 4],
    ) -> FlexTensor {
        conv_forward(&x, &weight, &bias, pads)
    }

    fn ser_max_pool(
        x: FlexTensor,
        kernel: [usize; 2],
        stride: [usize; 2],
        relu: bool,
    ) -> FlexTensor {
        pool_forward(&x, kernel, stride, relu).0
    }

    fn ser_conv_relu_pool(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        pads: [usize; 4],
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FlexTensor {
        conv_relu_pool_forward(&x, &weight, &bias, pads, kernel, stride).0
    }
}

/// What the conv backward keeps from the forward.
#[derive(Debug, Clone)]
struct ConvState {
    x: FlexTensor,
    weight: FlexTensor,
    pads: [usize; 4],
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents.map(|n| n.map(|n| n.id));
        let dy = grads.consume::<Flex>(&ops.node);
        let ConvState { x, weight, pads } = ops.state;
        let (rank, g) = conv_geom(&x, &weight, pads);
        let dys = channels_last(&dy);
        let dy = f32s(&dys);
        if let Some(id) = node_b {
            register_bias_grad(grads, id, kernels::bias_grad(dy, g.cout));
        }
        conv_input_weight_grads(grads, [node_x, node_w], &x, &weight, (rank, &g), dy);
    }
}

fn register_bias_grad(grads: &mut Gradients, id: NodeId, db: Vec<f32>) {
    let n = db.len();
    grads.register::<Flex>(id, FlexTensor::from_data(TensorData::new(db, [n])));
}

/// The weight gradient as a matrix (`[kh·kw·cin, cout]`) registered in Burn's layout.
fn register_weight_grad(
    grads: &mut Gradients,
    id: NodeId,
    dwm: &[f32],
    g: &ConvGeom,
    weight: &FlexTensor,
) {
    let dw = kernels::weight_from_matrix(dwm, g);
    let shape: Shape = weight.shape();
    grads.register::<Flex>(id, FlexTensor::from_data(TensorData::new(dw, shape)));
}

/// The input and weight gradients of a conv (for the parents that are tracked), from the
/// channels-last output gradient `dy`.
fn conv_input_weight_grads(
    grads: &mut Gradients,
    [node_x, node_w]: [Option<NodeId>; 2],
    x: &FlexTensor,
    weight: &FlexTensor,
    (rank, g): (usize, &ConvGeom),
    dy: &[f32],
) {
    if let Some(id) = node_w {
        let xs = channels_last(x);
        let dwm = kernels::conv_weight_grad(f32s(&xs), g, dy);
        register_weight_grad(grads, id, &dwm, g, weight);
    }
    if let Some(id) = node_x {
        let wc = contiguous(weight);
        let wmf = kernels::weight_matrix_flipped(f32s(&wc), g);
        let dx = kernels::conv_forward(dy, &g.transposed(), &wmf, None);
        grads.register::<Flex>(id, from_channels_last(dx, rank, [g.batch, g.cin, g.h, g.w]));
    }
}

/// What the fused conv + ReLU + pool backward keeps from the forward.
#[derive(Debug, Clone)]
struct ConvPoolState {
    x: FlexTensor,
    weight: FlexTensor,
    pads: [usize; 4],
    idx: std::sync::Arc<Vec<u32>>,
    pool: PoolGeom,
}

#[derive(Debug)]
struct ConvPoolBackward;

impl Backward<Flex, 3> for ConvPoolBackward {
    type State = ConvPoolState;

    fn backward(self, ops: Ops<ConvPoolState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents.map(|n| n.map(|n| n.id));
        let dp = grads.consume::<Flex>(&ops.node);
        let ConvPoolState {
            x,
            weight,
            pads,
            idx,
            pool,
        } = ops.state;
        let (rank, g) = conv_geom(&x, &weight, pads);
        let dps = channels_last(&dp);
        let dp = f32s(&dps);
        if let Some(id) = node_b {
            register_bias_grad(grads, id, kernels::pooled_bias_grad(dp, &idx, g.cout));
        }
        if node_x.is_none() && fused::banded(&g) {
            if let Some(id) = node_w {
                let xs = channels_last(&x);
                let dwm = fused::weight_grad(f32s(&xs), &g, &pool, dp, &idx);
                register_weight_grad(grads, id, &dwm, &g, &weight);
            }
            return;
        }
        // The input needs a gradient too: through the dense conv-output gradient.
        let dy = kernels::pool_backward(dp, &idx, &pool);
        conv_input_weight_grads(grads, [node_x, node_w], &x, &weight, (rank, &g), &dy);
    }
}

/// What the pool backward keeps from the forward.
#[derive(Debug, Clone)]
struct PoolState {
    idx: std::sync::Arc<Vec<u32>>,
    rank: usize,
    geom: PoolGeom,
}

#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    type State = PoolState;

    fn backward(self, ops: Ops<PoolState, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let PoolState { idx, rank, geom: g } = ops.state;
        if let Some(node) = node_x {
            let dys = channels_last(&dy);
            let dx = kernels::pool_backward(f32s(&dys), &idx, &g);
            grads.register::<Flex>(
                node.id,
                from_channels_last(dx, rank, [g.batch, g.c, g.h, g.w]),
            );
        }
    }
}

impl<C: CheckpointStrategy> SerKernels for Autodiff<Flex, C> {
    fn ser_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pads: [usize; 4],
    ) -> FloatTensor<Self> {
        match ConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.primitive().clone(), weight.primitive().clone());
                let y = conv_forward(&xp, &wp, bias.primitive(), pads);
                prep.finish(
                    ConvState {
                        x: xp,
                        weight: wp,
                        pads,
                    },
                    y,
                )
            }
            OpsKind::UnTracked(prep) => prep.finish(conv_forward(
                x.primitive(),
                weight.primitive(),
                bias.primitive(),
                pads,
            )),
        }
    }

    fn ser_max_pool(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
        relu: bool,
    ) -> FloatTensor<Self> {
        match PoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, idx, rank, geom) = pool_forward(x.primitive(), kernel, stride, relu);
                prep.finish(
                    PoolState {
                        idx: std::sync::Arc::new(idx),
                        rank,
                        geom,
                    },
                    y,
                )
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(pool_forward(x.primitive(), kernel, stride, relu).0)
            }
        }
    }

    fn ser_conv_relu_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pads: [usize; 4],
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FloatTensor<Self> {
        match ConvPoolBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.primitive().clone(), weight.primitive().clone());
                let (y, idx, pool) =
                    conv_relu_pool_forward(&xp, &wp, bias.primitive(), pads, kernel, stride);
                let state = ConvPoolState {
                    x: xp,
                    weight: wp,
                    pads,
                    idx: std::sync::Arc::new(idx),
                    pool,
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => {
                let (x, w, b) = (x.primitive(), weight.primitive(), bias.primitive());
                prep.finish(conv_relu_pool_forward(x, w, b, pads, kernel, stride).0)
            }
        }
    }
}
