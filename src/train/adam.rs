//! Burn's Adam as one pass per parameter on the CPU backend: the same formula (Keras' form, ε
//! scaled by the bias correction), the same state type and so the same checkpoint record, the
//! same values bit for bit (tested).
//!
//! Why: Burn's Adam is about a dozen element-wise tensor ops per parameter, each a pass over the
//! parameter with a fresh allocation; for the report's 1D network (2.4 M parameters) that was
//! 14 ms of a 190 ms training step (`examples/step_parts.rs`). Here one parallel pass reads the
//! parameter, its gradient and the two moments once and writes the three results.
//!
//! [`init`] builds the optimizer of a training run: this one for plain Adam, Burn's own for the
//! variants it does not cover (AMSGrad, Burn's L2 weight decay, gradient clipping). Tensors off
//! the flex device (wgpu) go through Burn's Adam step as well.
//!
//! Decoupled weight decay (AdamW, Loshchilov & Hutter; `train.weight_decay`, [`init_decoupled`]):
//! each step first scales the parameter by `1 − lr_t · wd` (as Burn's `AdamW` does, the factor
//! rounded to f32 once), then subtracts the Adam update. With `wd = 0` nothing is scaled, so
//! the step is plain Adam's bit for bit. Burn's `AdamW` agrees to rounding only: it divides the
//! moments by their bias corrections one by one, where Adam (and so this) folds both into one
//! factor and scales ε (equal in exact arithmetic).

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Flex, TensorMetadata};
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

/// The optimizer `config` describes: [`FusedAdam`] when it is plain Adam, else Burn's.
pub fn init(config: &AdamConfig) -> ModuleOptimizer {
    init_decoupled(config, 0.0)
}

/// [`init`] with decoupled weight decay `weight_decay` (AdamW); Burn's own variants (which
/// [`FusedAdam`] does not cover) get none.
pub fn init_decoupled(config: &AdamConfig, weight_decay: f64) -> ModuleOptimizer {
    match FusedAdam::new(config) {
        Some(fused) => ModuleOptimizer::from(fused.with_weight_decay(weight_decay)),
        None => config.init(),
    }
}

/// Adam with Burn's formula and state, stepped by `adam_kernel` on flex.
#[derive(Clone)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// Decoupled weight decay (0: plain Adam).
    weight_decay: f64,
    /// Burn's Adam of the same config, for tensors not on flex.
    burn: Adam,
}

impl FusedAdam {
    /// `None` for the variants Burn's Adam has and this one does not.
    pub fn new(config: &AdamConfig) -> Option<Self> {
        // The fields are private to Burn; its config serialises them by name.
        let v = serde_json::to_value(config).ok()?;
        let plain =
            v["amsgrad"] == false && v["weight_decay"].is_null() && v["grad_clipping"].is_null();
        let f = |key: &str| v[key].as_f64().map(|x| x as f32);
        Some(Self {
            beta_1: f("beta_1")?,
            beta_2: f("beta_2")?,
            epsilon: f("epsilon")?,
            weight_decay: 0.0,
            burn: config.build(),
        })
        .filter(|_| plain)
    }

    /// This optimizer with decoupled weight decay `weight_decay` (AdamW).
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

/// The extension that reaches flex's raw tensors (the optimizer works on tensors without
/// autodiff, so flex is the only backend it needs).
#[backend_extension(Flex)]
pub trait SerAdam: burn::backend::Backend {
    /// One Adam step: the new parameter and moments. `scalars`: beta 1, beta 2, the combined
    /// bias correction, ε times the second one's square root, the learning rate, 1.0 on the
    /// first step (when `moment_1` and `moment_2` are placeholders, read as zeros), and the
    /// decay factor `1 − lr · wd` the parameter is scaled by first (1.0: none).
    fn ser_adam(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        scalars: [f32; 7],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl SerAdam for Flex {
    fn ser_adam(
        param: FlexTensor,
        grad: FlexTensor,
        moment_1: FlexTensor,
        moment_2: FlexTensor,
        scalars: [f32; 7],
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let shape = param.shape();
        let c = |t: &FlexTensor| {
            if t.is_contiguous() {
                t.clone()
            } else {
                t.to_contiguous()
            }
        };
        let (p, g, m1, m2) = (c(&param), c(&grad), c(&moment_1), c(&moment_2));
        let moments = (scalars[5] != 1.0).then(|| (s(&m1), s(&m2)));
        let (p, m1, m2) = adam_kernel(s(&p), s(&g), moments, scalars);
        let t = |v: Vec<f32>| FlexTensor::from_data(TensorData::new(v, shape.clone()));
        (t(p), t(m1), t(m2))
    }
}

fn s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("an f32 tensor")
}

/// Adam's element-wise update, in the order of Burn's tensor ops so that every value rounds as
/// there: `moments` `None` on the first step. Returns the parameter and the two moments.
fn adam_kernel(
    p: &[f32],
    g: &[f32],
    moments: Option<(&[f32], &[f32])>,
    [b1, b2, combined, eps, lr, _, decay]: [f32; 7],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    const CHUNK: usize = 1 << 14;
    let n = p.len();
    assert_eq!(g.len(), n);
    let (f1, f2) = (1.0 - b1, 1.0 - b2);
    let decays = decay != 1.0;
    // Written whole below, so not zeroed first (three passes more over the parameter).
    let (mut pn, mut m1n, mut m2n) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    pn.spare_capacity_mut()[..n]
        .par_chunks_mut(CHUNK)
        .zip(m1n.spare_capacity_mut()[..n].par_chunks_mut(CHUNK))
        .zip(m2n.spare_capacity_mut()[..n].par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(i, ((pn, m1n), m2n))| {
            let at = i * CHUNK;
            for j in 0..pn.len() {
                let gj = g[at + j];
                let (a, b) = match moments {
                    // Burn: moment.mul_scalar(beta).add(grad.mul_scalar(1 - beta)), and
                    // grad.square() for the second.
                    Some((m1, m2)) => (m1[at + j] * b1 + gj * f1, m2[at + j] * b2 + (gj * gj) * f2),
                    // Burn's first step: grad.mul_scalar(1 - beta), grad.square().mul_scalar(..).
                    None => (gj * f1, (gj * gj) * f2),
                };
                m1n[j].write(a);
                m2n[j].write(b);
                let update = (a * combined) / (b.sqrt() + eps);
                // Burn's AdamW: tensor.mul_scalar(1 - lr * wd) - delta.mul_scalar(lr).
                let pj = if decays { p[at + j] * decay } else { p[at + j] };
                pn[j].write(pj - update * lr);
            }
        });
    // SAFETY: the chunks cover `0..n` and every value of each was written above.
    unsafe {
        pn.set_len(n);
        m1n.set_len(n);
        m2n.set_len(n);
    }
    (pn, m1n, m2n)
}

/// Whether `t` is an f32 tensor on the flex device (without autodiff).
fn on_flex<const D: usize>(t: &Tensor<D>) -> bool {
    t.dtype() == DType::F32 && t.device() == Device::flex()
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let moments_on_flex = state
            .as_ref()
            .is_none_or(|s| on_flex(&s.momentum.moment_1) && on_flex(&s.momentum.moment_2));
        if !(on_flex(&tensor) && on_flex(&grad) && moments_on_flex)
            || state
                .as_ref()
                .is_some_and(|s| s.momentum.max_moment_2.is_some())
        {
            let tensor = if self.weight_decay == 0.0 {
                tensor
            } else {
                tensor.mul_scalar(1.0 - lr * self.weight_decay)
            };
            return self.burn.step(lr, tensor, grad, state);
        }
        let time = state.as_ref().map_or(1, |s| s.momentum.time + 1);
        // As Burn computes them.
        let t = time as i32;
        let bias_correction2_sqrt = (1.0 - self.beta_2.powi(t)).sqrt();
        let combined = bias_correction2_sqrt / (1.0 - self.beta_1.powi(t));
        let first = if state.is_none() { 1.0 } else { 0.0 };
        let scalars = [
            self.beta_1,
            self.beta_2,
            combined,
            self.epsilon * bias_correction2_sqrt,
            lr as f32,
            first,
            // As Burn's AdamW rounds it: 1 − lr · wd in f64, then to f32.
            (1.0 - lr * self.weight_decay) as f32,
        ];
        let (m1, m2) = match state {
            Some(s) => (s.momentum.moment_1, s.momentum.moment_2),
            // Placeholders (see `ser_adam`); a clone shares the gradient's buffer.
            None => (grad.clone(), grad.clone()),
        };
        let (p, m1, m2) = <burn::backend::Dispatch as SerAdam>::ser_adam(
            tensor.into_dispatch(),
            grad.into_dispatch(),
            m1.into_dispatch(),
            m2.into_dispatch(),
            scalars,
        );
        let (m1, m2) = (Tensor::from_dispatch(m1), Tensor::from_dispatch(m2));
        let state = AdamState::new(AdaptiveMomentumState::new(time, m1, m2));
        (Tensor::from_dispatch(p), Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}
