//! Where one training step of the report's networks goes, phase by phase (batch 32, random data,
//! our kernels): dropout mask + forward + loss, backward, gradients collected, Adam.
//!
//! `cargo run --release --example step_parts [1d|2d]`

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ser::model::{Cnn1dConfig, Cnn2dConfig, NetConfig};

// The binary's allocator and its settings (`main`), so buffers are reused as in training.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    ser::base::device::keep_freed_memory();
    let which = std::env::args().nth(1).unwrap_or_else(|| "1d".into());
    let (config, item) = match which.as_str() {
        "2d" => (
            NetConfig::Cnn2d(Cnn2dConfig::new([128, 110], 6, vec![128, 64, 32])),
            128 * 110,
        ),
        _ => (
            NetConfig::Cnn1d(Cnn1dConfig::new(220, 6, vec![512, 512, 128])),
            220,
        ),
    };
    let b = 32;
    let device = Device::flex().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut net = config.init(&device, &mut rng).expect("a valid network");
    let x: Vec<f32> = (0..b * item).map(|_| rng.random_range(-1.0..1.0)).collect();
    let xs = Tensor::<2>::from_data(TensorData::new(x, [b, item]), &device);
    let labels: Vec<i64> = (0..b as i64).map(|i| i % 6).collect();
    let ys = Tensor::<1, Int>::from_data(TensorData::new(labels, [b]), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optim = ser::train::adam::init(&AdamConfig::new().with_epsilon(1e-7));
    let dense = config.dense();
    let mut rows: Vec<[f64; 4]> = Vec::new();
    for _ in 0..std::env::var("STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(13)
    {
        let t0 = Instant::now();
        let mask: Vec<f32> = (0..b * dense)
            .map(|_| {
                if rng.random::<f64>() < 0.6 {
                    1.0 / 0.6
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [b, dense]), &device);
        let loss = loss_fn.forward(net.forward(xs.clone(), Some(mask)), ys.clone());
        std::hint::black_box(loss.clone().detach().into_scalar::<f32>());
        let t1 = Instant::now();
        let grads = loss.backward();
        let t2 = Instant::now();
        let grads = GradientsParams::from_grads(grads, &net);
        let t3 = Instant::now();
        net = optim.step(1e-4, net, grads);
        // Adam's updates are lazy only as far as the backend is; read one value to finish.
        std::hint::black_box(net.num_params());
        let t4 = Instant::now();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        rows.push([ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t3, t4)]);
    }
    let median = |i: usize| {
        let mut v: Vec<f64> = rows[3..].iter().map(|r| r[i]).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let names = ["forward + loss", "backward", "from_grads", "adam"];
    let mut total = 0.0;
    for (i, n) in names.iter().enumerate() {
        total += median(i);
        println!("{which} {n:<15} {:8.1} ms", median(i));
    }
    println!("{which} total           {total:8.1} ms");
}
