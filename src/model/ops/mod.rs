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
//! - [`SerKernels`]: the backend extension (`Flex` forward; `Autodiff<Flex>` forward plus our
//!   backward).
//! - [`kernels`]: the slice kernels (im2col GEMMs, pool with indices).
//!
//! Layout: outputs are channels-last in memory, exposed to Burn as permuted (strided) views of
//! the logical `[batch, channels, ...]` shape, so a conv's output feeds the next pool (and a
//! pool's gradient the conv's backward) without copies. Results are deterministic: see
//! [`kernels`].

pub mod kernels;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::TensorMetadata;
use burn::backend::{backend_extension, Autodiff, Dispatch, Flex};
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
    let k = conv.kernel_size;
    let (left, right) = match conv.padding {
        PaddingConfig1d::Valid => (0, 0),
        PaddingConfig1d::Same => same_padding(k),
        PaddingConfig1d::Explicit(l, r) => (l, r),
    };
    let simple = conv.stride == 1 && conv.dilation == 1 && conv.groups == 1;
    match &conv.bias {
        Some(bias) if simple && left < k && right < k && ours(&x.device(), x.dtype()) => {
            Tensor::from_dispatch(<Dispatch as SerKernels>::ser_conv(
                x.into_dispatch(),
                conv.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
                [0, 0, left, right],
            ))
        }
        _ => conv.forward(x),
    }
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
    match &conv.bias {
        Some(bias)
            if simple
                && p[0] < kh
                && p[1] < kh
                && p[2] < kw
                && p[3] < kw
                && ours(&x.device(), x.dtype()) =>
        {
            Tensor::from_dispatch(<Dispatch as SerKernels>::ser_conv(
                x.into_dispatch(),
                conv.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
                p,
            ))
        }
        _ => conv.forward(x),
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

fn max_pool1d_with(pool: &MaxPool1d, x: Tensor<3>, relu: bool) -> Tensor<3> {
    let [_, _, len] = x.dims();
    if matches!(pool.padding, PaddingConfig1d::Valid)
        && pool.dilation == 1
        && !pool.ceil_mode
        && len >= pool.kernel_size
        && ours(&x.device(), x.dtype())
    {
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

fn max_pool2d_with(pool: &MaxPool2d, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if matches!(pool.padding, PaddingConfig2d::Valid)
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
        && h >= pool.kernel_size[0]
        && w >= pool.kernel_size[1]
        && ours(&x.device(), x.dtype())
    {
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
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let ConvState { x, weight, pads } = ops.state;
        let (rank, g) = conv_geom(&x, &weight, pads);
        let dys = channels_last(&dy);
        let dy = f32s(&dys);
        if let Some(node) = node_b {
            let db = kernels::bias_grad(dy, g.cout);
            grads.register::<Flex>(
                node.id,
                FlexTensor::from_data(TensorData::new(db, [g.cout])),
            );
        }
        let wc = contiguous(&weight);
        if let Some(node) = node_w {
            let xs = channels_last(&x);
            let dwm = kernels::conv_weight_grad(f32s(&xs), &g, dy);
            let dw = kernels::weight_from_matrix(&dwm, &g);
            let shape: Shape = weight.shape();
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dw, shape)));
        }
        if let Some(node) = node_x {
            let wmf = kernels::weight_matrix_flipped(f32s(&wc), &g);
            let dx = kernels::conv_forward(dy, &g.transposed(), &wmf, None);
            grads.register::<Flex>(
                node.id,
                from_channels_last(dx, rank, [g.batch, g.cin, g.h, g.w]),
            );
        }
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
}
