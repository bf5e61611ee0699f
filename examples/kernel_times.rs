//! Times each of our CPU kernels on the report's 2D (128, 64, 32) and 1D (512, 512, 128)
//! shapes at batch 32: where a training step's time goes, op by op.
//!
//! `cargo run --release --example kernel_times`

use std::time::Instant;

use ser::model::ops::fused;
use ser::model::ops::kernels::{self, ConvGeom, PoolGeom};

// The binary's allocator and its settings (`main`), so buffers are reused as in training.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median_ms(f: &mut dyn FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..5)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[2]
}

fn data(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 500.0)
        .collect()
}

/// Times the ops a training step runs for one conv + ReLU + pool layer and returns their sum.
/// The first layer (few input channels) runs as one fused op (`ops::fused`); its separate ops
/// are shown beside it, in brackets and not counted.
fn layer(name: &str, g: ConvGeom, p: PoolGeom, first: bool) -> f64 {
    let x = data(g.batch * g.h * g.w * g.cin);
    let wm = data(g.k() * g.cout);
    let b = data(g.cout);
    let dy = data(g.rows() * g.cout);
    let y = kernels::conv_forward(&x, &g, &wm, Some(&b));
    let (py, idx) = kernels::pool_forward(&y, &p, true);
    let pdy = data(py.len());
    let mut total = 0.0;
    let mut row = |op: &str, counted: bool, f: &mut dyn FnMut()| {
        let ms = median_ms(f);
        if counted {
            total += ms;
            println!("{name} {op:<12} {ms:8.1} ms");
        } else {
            println!("{name} ({op:<10}) {ms:8.1} ms");
        }
    };
    let separate = !(first && fused::banded(&g));
    row("conv fwd", separate, &mut || {
        drop(kernels::conv_forward(&x, &g, &wm, Some(&b)))
    });
    row("pool fwd", separate, &mut || {
        drop(kernels::pool_forward(&y, &p, true))
    });
    row("pool bwd", separate, &mut || {
        drop(kernels::pool_backward(&pdy, &idx, &p))
    });
    row("w grad", separate, &mut || {
        drop(kernels::conv_weight_grad(&x, &g, &dy))
    });
    row("bias grad", true, &mut || {
        drop(kernels::pooled_bias_grad(&pdy, &idx, g.cout))
    });
    if !separate {
        row("fused fwd", true, &mut || {
            drop(fused::forward(&x, &g, &p, &wm, &b))
        });
        row("fused wgrad", true, &mut || {
            drop(fused::weight_grad(&x, &g, &p, &pdy, &idx))
        });
    }
    // Burn's weight layout to ours (forward; flipped: input gradient) and back (weight gradient).
    let w = data(g.k() * g.cout);
    row("w to matrix", true, &mut || {
        drop(kernels::weight_matrix(&w, &g))
    });
    row("w from matrix", true, &mut || {
        drop(kernels::weight_from_matrix(&w, &g))
    });
    if !first {
        row("w flipped", true, &mut || {
            drop(kernels::weight_matrix_flipped(&w, &g))
        });
    }
    if !first {
        let t = g.transposed();
        let wt = data(t.k() * t.cout);
        row("x grad", true, &mut || {
            drop(kernels::conv_forward(&dy, &t, &wt, None))
        });
    }
    println!("{name} total        {total:8.1} ms");
    total
}

fn conv(batch: usize, cin: usize, h: usize, w: usize, cout: usize, k: [usize; 2]) -> ConvGeom {
    let (ph, pw) = ((k[0] - 1) / 2, (k[1] - 1) / 2);
    ConvGeom {
        batch,
        cin,
        h,
        w,
        cout,
        kh: k[0],
        kw: k[1],
        pad: [ph, k[0] - 1 - ph, pw, k[1] - 1 - pw],
    }
}

fn pool(g: &ConvGeom, k: [usize; 2]) -> PoolGeom {
    PoolGeom {
        batch: g.batch,
        c: g.cout,
        h: g.h,
        w: g.w,
        kh: k[0],
        kw: k[1],
        sh: if k[0] > 1 { 2 } else { 1 },
        sw: 2,
    }
}

fn main() {
    ser::base::device::keep_freed_memory();
    let which = std::env::args().nth(1).unwrap_or_else(|| "both".into());
    if which != "1d" {
        let mut t = 0.0;
        for (i, (cin, h, w, cout)) in [(1, 128, 110, 128), (128, 62, 53, 64), (64, 29, 25, 32)]
            .into_iter()
            .enumerate()
        {
            let g = conv(32, cin, h, w, cout, [5, 5]);
            t += layer(&format!("2d L{}", i + 1), g, pool(&g, [5, 5]), i == 0);
        }
        println!("2d all conv/pool: {t:.1} ms");
    }
    if which != "2d" {
        let mut t = 0.0;
        for (i, (cin, w, cout)) in [(1, 220, 512), (512, 108, 512), (512, 52, 128)]
            .into_iter()
            .enumerate()
        {
            let g = conv(32, cin, 1, w, cout, [1, 5]);
            t += layer(&format!("1d L{}", i + 1), g, pool(&g, [1, 6]), i == 0);
        }
        println!("1d all conv/pool: {t:.1} ms");
    }
}
