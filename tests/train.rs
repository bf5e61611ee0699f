//! Training on a small learnable toy (class-dependent means) with tiny models: it learns, is
//! deterministic on the CPU, resumes exactly after an interruption, stops early, keeps the best
//! weights, writes history / checkpoints / the final model, and predicts from the run directory.

use std::fs;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ser::config::{ModelConfig, ModelKind, Monitor, ScheduleKind, Standardize, TrainConfig};
use ser::eval::{argmax_rows, evaluate};
use ser::infer::{self, predict_with};
use ser::rundir::RunDir;
use ser::train::{self, Examples, Standardization, TrainJob, TrainOutcome};

const CLASSES: usize = 3;

/// `n` items of length `len`: class `c` has mean `c - 1` (plus a class-specific bump) and
/// unit-variance noise. `flip` relabels class c as c+1 (mod 3): a validation set that gets
/// worse as the network learns the training mapping.
fn toy(n: usize, shape: &[usize], seed: u64, flip: bool) -> Examples {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let len: usize = shape.iter().product();
    let mut data = Vec::with_capacity(n * len);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % CLASSES;
        for j in 0..len {
            let bump = if j % CLASSES == c { 1.0 } else { 0.0 };
            data.push(c as f32 - 1.0 + bump + rng.random_range(-1.0f32..1.0));
        }
        labels.push(if flip { (c + 1) % CLASSES } else { c });
    }
    Examples::new(shape.to_vec(), data, labels).unwrap()
}

fn classes() -> Vec<String> {
    ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
}

fn job(epochs: usize) -> TrainJob {
    let model = ModelConfig {
        filters: vec![4, 4],
        kernel: 3,
        dense: 8,
        dropout: 0.25,
        ..ModelConfig::default()
    };
    let train = TrainConfig {
        epochs,
        batch_size: 8,
        lr: 1e-2,
        seed: 7,
        ..TrainConfig::default()
    };
    let mut j = TrainJob::new(model, train, classes());
    j.quiet = true;
    j
}

/// History without wall times (the only part that may differ between identical runs).
fn numbers(o: &TrainOutcome) -> Vec<[f64; 5]> {
    o.history
        .iter()
        .map(|r| {
            [
                r.epoch as f64,
                r.loss,
                r.accuracy,
                r.val_loss,
                r.val_accuracy,
            ]
        })
        .collect()
}

/// Every float parameter (and batch-norm statistic) of the trained network, in visiting order.
fn weights(o: &TrainOutcome) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().into_data().iter::<f32>().collect());
        }
    }
    let mut c = Collect(Vec::new());
    o.model.visit(&mut c);
    c.0
}

fn probs(o: &TrainOutcome, x: &Examples) -> Vec<Vec<f32>> {
    predict_with(&o.model, x, 16, &Device::flex())
}

#[test]
fn learns_the_toy_and_writes_the_run_directory() {
    let (tr, va, te) = (
        toy(96, &[24], 1, false),
        toy(24, &[24], 2, false),
        toy(30, &[24], 3, false),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = train::train(&job(4), &tr, &va, &RunDir::new(dir.path())).unwrap();
    assert!(out.finished);
    assert_eq!(out.history.len(), 4);
    assert_eq!(out.resumed_from, None);
    assert_eq!(out.backend, "flex");
    let last = out.history.last().unwrap();
    assert!(
        last.val_accuracy >= 0.9,
        "did not learn the toy: {:?}",
        out.history
    );
    assert!(last.loss < out.history[0].loss);

    // history.csv: header and one line per epoch, as the records
    let csv = fs::read_to_string(dir.path().join("history.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,loss,accuracy,val_loss,val_accuracy,val_macro_f1,lr,seconds"
    );
    // the constant rate on every line, the validation macro F1 as the records have it
    assert!(
        out.history.iter().all(|r| r.lr == 1e-2),
        "{:?}",
        out.history
    );
    assert!(lines[4].contains(&format!(",{:.6},1e-2,", last.val_macro_f1)));
    assert_eq!(lines.len(), 5);
    assert!(lines[4].starts_with(&format!("4,{:.6},{:.6},", last.loss, last.accuracy)));

    // checkpoint: the last epoch only, and the state pointing at it
    let state = train::checkpoint::read_state(&dir.path().join("checkpoint"))
        .unwrap()
        .unwrap();
    assert_eq!((state.epoch, state.dir.as_str()), (4, "epoch-0004"));
    let mut names: Vec<String> = fs::read_dir(dir.path().join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["epoch-0004", "state.json"]);
    assert!(dir.path().join("training.json").is_file());
    assert!(out.model_path.is_file());

    // predict from the run directory = the outcome's model; evaluate on the test part
    let from_disk = infer::predict(&RunDir::new(dir.path()), &te).unwrap();
    assert_eq!(from_disk, probs(&out, &te));
    let m = evaluate(&te.labels, &argmax_rows(&from_disk), &classes()).unwrap();
    assert!(m.accuracy >= 0.9, "{}", m.report_text(2));

    // a second call on a finished run trains nothing and gives the same model
    let again = train::train(&job(4), &tr, &va, &RunDir::new(dir.path())).unwrap();
    assert_eq!(again.resumed_from, Some(4));
    assert_eq!(numbers(&again), numbers(&out));
    assert_eq!(probs(&again, &te), probs(&out, &te));
}

#[test]
fn same_seed_same_result_on_cpu() {
    let (tr, va) = (toy(48, &[24], 1, false), toy(12, &[24], 2, false));
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = train::train(&job(2), &tr, &va, &RunDir::new(d1.path())).unwrap();
    let b = train::train(&job(2), &tr, &va, &RunDir::new(d2.path())).unwrap();
    assert_eq!(numbers(&a), numbers(&b));
    assert_eq!(weights(&a), weights(&b));
    assert_eq!(probs(&a, &va), probs(&b, &va));
    // another seed: another run
    let mut other = job(2);
    other.train.seed = 8;
    let d3 = tempfile::tempdir().unwrap();
    let c = train::train(&other, &tr, &va, &RunDir::new(d3.path())).unwrap();
    assert_ne!(numbers(&a), numbers(&c));
}

#[test]
fn an_interrupted_run_resumes_to_the_same_result() {
    let (tr, va) = (toy(48, &[24], 1, false), toy(12, &[24], 2, false));
    let unbroken_dir = tempfile::tempdir().unwrap();
    let unbroken = train::train(&job(3), &tr, &va, &RunDir::new(unbroken_dir.path())).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut first = job(3);
    first.stop_after = Some(2);
    let part = train::train(&first, &tr, &va, &RunDir::new(dir.path())).unwrap();
    assert!(!part.finished);
    assert_eq!(part.history.len(), 2);
    assert!(!dir.path().join("model.bpk").exists());
    // leftovers of a kill after the epoch folder was renamed but before state.json moved on
    fs::create_dir_all(dir.path().join("checkpoint/epoch-0003")).unwrap();
    fs::write(dir.path().join("checkpoint/.state.json.tmp"), "{").unwrap();

    let resumed = train::train(&job(3), &tr, &va, &RunDir::new(dir.path())).unwrap();
    assert_eq!(resumed.resumed_from, Some(2));
    assert!(resumed.finished);
    assert_eq!(numbers(&resumed), numbers(&unbroken));
    assert_eq!(weights(&resumed), weights(&unbroken));
    assert_eq!(probs(&resumed, &va), probs(&unbroken, &va));
    let csv = fs::read_to_string(dir.path().join("history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);

    // a finished run can be extended: 3 + 1 epochs = 4 unbroken epochs
    let longer = train::train(&job(4), &tr, &va, &RunDir::new(dir.path())).unwrap();
    let d4 = tempfile::tempdir().unwrap();
    let four = train::train(&job(4), &tr, &va, &RunDir::new(d4.path())).unwrap();
    assert_eq!(longer.resumed_from, Some(3));
    assert_eq!(numbers(&longer), numbers(&four));
    assert_eq!(weights(&longer), weights(&four));
    assert_eq!(probs(&longer, &va), probs(&four, &va));
}

#[test]
fn a_checkpoint_of_another_config_is_refused() {
    let (tr, va) = (toy(24, &[24], 1, false), toy(6, &[24], 2, false));
    let dir = tempfile::tempdir().unwrap();
    let mut j = job(2);
    j.stop_after = Some(1);
    train::train(&j, &tr, &va, &RunDir::new(dir.path())).unwrap();
    let mut other = job(2);
    other.train.seed = 99;
    let e = train::train(&other, &tr, &va, &RunDir::new(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("another config or other data"), "{e}");
    let other_data = toy(24, &[24], 5, false);
    let e = train::train(&job(2), &other_data, &va, &RunDir::new(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("another config or other data"), "{e}");
}

#[test]
fn early_stopping_and_keep_best() {
    // The validation labels are shifted: the better the network learns the training mapping,
    // the worse the validation loss, so epoch 1 is the best and patience 1 stops after epoch 2.
    let (tr, va) = (toy(96, &[24], 1, false), toy(24, &[24], 2, true));
    let dir = tempfile::tempdir().unwrap();
    let mut j = job(10);
    j.train.patience = Some(1);
    j.train.keep_best = true;
    let out = train::train(&j, &tr, &va, &RunDir::new(dir.path())).unwrap();
    assert!(out.stopped_early, "{:?}", out.history);
    assert_eq!(out.history.len(), 2);
    assert_eq!(out.best_epoch, 1);
    assert!(out.history[1].val_loss >= out.history[0].val_loss);

    // the final model is epoch 1's: the same as a 1-epoch run of the same job
    let one_dir = tempfile::tempdir().unwrap();
    let one = train::train(&job(1), &tr, &va, &RunDir::new(one_dir.path())).unwrap();
    assert_eq!(probs(&out, &va), probs(&one, &va));
    assert_eq!(
        infer::predict(&RunDir::new(dir.path()), &va).unwrap(),
        probs(&one, &va)
    );
}

#[test]
fn trains_a_tiny_2d_network() {
    let (tr, va) = (toy(24, &[6, 8], 1, false), toy(6, &[6, 8], 2, false));
    let mut j = job(2);
    j.model = ModelConfig {
        kind: ModelKind::Cnn2d,
        filters: vec![3],
        kernel: 3,
        dense: 6,
        batch_norm: true,
        pool: ser::config::PoolConfig {
            size: Some(2),
            ..Default::default()
        },
        ..ModelConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let out = train::train(&j, &tr, &va, &RunDir::new(dir.path())).unwrap();
    assert_eq!(out.history.len(), 2);
    assert!(out.history.iter().all(|r| r.loss.is_finite()));
    let p = infer::predict(&RunDir::new(dir.path()), &va).unwrap();
    assert_eq!(p.len(), 6);
    assert_eq!(p, probs(&out, &va));
}

/// A tiny CRNN over 6 × 8 matrices: one conv layer, 2×2 pools (4 frames), `rnn` of 6 units.
fn crnn_job(epochs: usize, rnn: ser::config::RnnKind) -> TrainJob {
    let mut j = job(epochs);
    j.model = ModelConfig {
        kind: ModelKind::Crnn,
        filters: vec![4],
        kernel: 3,
        dense: 8,
        rnn,
        rnn_units: 6,
        pool: ser::config::PoolConfig {
            size: Some(2),
            ..Default::default()
        },
        ..ModelConfig::default()
    };
    j
}

#[test]
fn trains_a_tiny_crnn_deterministically_and_reloads_it() {
    use ser::config::RnnKind;
    let (tr, va) = (toy(48, &[6, 8], 1, false), toy(12, &[6, 8], 2, false));
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = train::train(
        &crnn_job(2, RnnKind::Bigru),
        &tr,
        &va,
        &RunDir::new(d1.path()),
    )
    .unwrap();
    assert!(a.finished);
    assert_eq!(a.history.len(), 2);
    assert!(
        a.history[1].loss < a.history[0].loss,
        "the loss did not fall: {:?}",
        a.history
    );
    // the same seed on the CPU: the same run, to the bit
    let b = train::train(
        &crnn_job(2, RnnKind::Bigru),
        &tr,
        &va,
        &RunDir::new(d2.path()),
    )
    .unwrap();
    assert_eq!(numbers(&a), numbers(&b));
    assert_eq!(weights(&a), weights(&b));
    // the saved model (model.json + weights) predicts as the trained one
    let p = infer::predict(&RunDir::new(d1.path()), &va).unwrap();
    assert_eq!(p.len(), 12);
    assert_eq!(p, probs(&a, &va));
    // an LSTM trains too, and differs
    let d3 = tempfile::tempdir().unwrap();
    let c = train::train(
        &crnn_job(2, RnnKind::Lstm),
        &tr,
        &va,
        &RunDir::new(d3.path()),
    )
    .unwrap();
    assert!(c.history.iter().all(|r| r.loss.is_finite()));
    assert_ne!(numbers(&a), numbers(&c));
    assert_eq!(
        infer::predict(&RunDir::new(d3.path()), &va).unwrap(),
        probs(&c, &va)
    );
}

#[test]
fn an_interrupted_crnn_run_resumes_to_the_same_result() {
    use ser::config::RnnKind;
    let (tr, va) = (toy(24, &[6, 8], 1, false), toy(6, &[6, 8], 2, false));
    let unbroken_dir = tempfile::tempdir().unwrap();
    let job = crnn_job(2, RnnKind::Bigru);
    let unbroken = train::train(&job, &tr, &va, &RunDir::new(unbroken_dir.path())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut first = crnn_job(2, RnnKind::Bigru);
    first.stop_after = Some(1);
    train::train(&first, &tr, &va, &RunDir::new(dir.path())).unwrap();
    let resumed = train::train(&job, &tr, &va, &RunDir::new(dir.path())).unwrap();
    assert_eq!(resumed.resumed_from, Some(1));
    assert_eq!(numbers(&resumed), numbers(&unbroken));
    assert_eq!(weights(&resumed), weights(&unbroken));
}

#[test]
fn bad_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tr = toy(12, &[24], 1, false);
    // labels beyond the classes
    let mut bad = tr.clone();
    bad.labels[3] = 5;
    let e = train::train(&job(1), &bad, &tr, &RunDir::new(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("training item 3 has label 5"), "{e}");
    // a network that does not fit the input
    let e = train::train(
        &job(1),
        &toy(12, &[4], 1, false),
        &tr,
        &RunDir::new(dir.path()),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cnn1d layer 1 of 2"), "{e}");
    // keep_best without validation
    let mut j = job(1);
    j.train.keep_best = true;
    let empty = Examples::new(vec![24], vec![], vec![]).unwrap();
    let e = train::train(&j, &tr, &empty, &RunDir::new(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("need a validation part"), "{e}");
    // predicting from a directory with no run
    let e = infer::predict(&RunDir::new("/nonexistent/run"), &tr)
        .unwrap_err()
        .to_string();
    assert!(e.contains("training.json"), "{e}");
}

#[test]
fn no_validation_part_still_trains() {
    let dir = tempfile::tempdir().unwrap();
    let tr = toy(12, &[24], 1, false);
    let empty = Examples::new(vec![24], vec![], vec![]).unwrap();
    let out = train::train(&job(2), &tr, &empty, &RunDir::new(dir.path())).unwrap();
    assert!(out.history.iter().all(|r| r.val_loss.is_nan()));
    assert_eq!(out.best_epoch, 2);
    // NaN survives the checkpoint round trip (as null)
    let again = train::train(&job(2), &tr, &empty, &RunDir::new(dir.path())).unwrap();
    assert!(again.history[1].val_loss.is_nan());
}

/// The GPU path, where the build has it and the machine has an adapter: trains the toy and
/// agrees with the CPU run to float tolerance (GPU reductions are not ordered, so not bit-exact).
#[cfg(feature = "wgpu")]
#[test]
fn wgpu_trains_like_flex_where_an_adapter_exists() {
    use ser::config::BackendKind;
    if let Err(e) = ser::base::device::device(BackendKind::Wgpu, 0) {
        eprintln!("skipping the wgpu test: {e}");
        return;
    }
    let (tr, va) = (toy(48, &[24], 1, false), toy(12, &[24], 2, false));
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cpu = train::train(&job(2), &tr, &va, &RunDir::new(d1.path())).unwrap();
    let mut j = job(2);
    j.train.backend = BackendKind::Wgpu;
    let gpu = train::train(&j, &tr, &va, &RunDir::new(d2.path())).unwrap();
    assert_eq!(gpu.backend, "wgpu:0");
    for (a, b) in cpu.history.iter().zip(&gpu.history) {
        assert!((a.loss - b.loss).abs() < 1e-3, "{a:?} vs {b:?}");
        assert!((a.val_loss - b.val_loss).abs() < 1e-3, "{a:?} vs {b:?}");
    }
}

/// The adapter's buffer cap is read and a batch one item over it is refused before any work,
/// naming the layer and the batch that fits (lavapipe: 128 MiB).
#[cfg(feature = "wgpu")]
#[test]
fn wgpu_refuses_a_batch_over_the_adapters_buffer_cap() {
    use ser::config::BackendKind;
    let cap = match ser::base::device::buffer_cap(BackendKind::Wgpu, 0) {
        Ok(cap) => cap.expect("wgpu has a buffer cap"),
        Err(e) => {
            eprintln!("skipping the wgpu test: {e}");
            return;
        }
    };
    println!(
        "{}: one buffer holds at most {} bytes",
        cap.device, cap.bytes
    );
    assert!(cap.device.starts_with("wgpu:0 ("), "{cap:?}");
    // The toy's largest output is its first conv: frames × 4 filters × 4 bytes an item. Enough
    // frames that the batch that fits stays under the batch-size limit (lavapipe's 128 MiB would
    // fit 349,525 items of 24 frames, and train.batch_size above 65,536 is refused first).
    let frames = usize::try_from(cap.bytes / (16 * 60_000)).unwrap().max(24);
    let item = 16 * frames as u64;
    let fits = cap.bytes / item;
    assert!(fits < ser::config::MAX_BATCH_SIZE as u64, "{fits}");
    let (tr, va) = (toy(48, &[frames], 1, false), toy(12, &[frames], 2, false));
    let mut j = job(1);
    j.train.backend = BackendKind::Wgpu;
    j.train.batch_size = usize::try_from(fits + 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = train::train(&j, &tr, &va, &RunDir::new(dir.path()))
        .unwrap_err()
        .to_string();
    let fix = format!("use train.batch_size = {fits} or less");
    assert!(e.contains(&fix) && e.contains("conv1d_1 (Conv1D)"), "{e}");
    assert!(!dir.path().join("metrics.json").exists());
}

#[test]
fn fused_adam_steps_and_records_exactly_as_burns() {
    // Same parameters bit for bit over several steps (the first one included), and the same
    // record: a state saved by one loads into the other and steps on identically.
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{AdamConfig, GradientsParams};
    let device = Device::flex().autodiff();
    let config = AdamConfig::new().with_epsilon(1e-7);
    let init = LinearConfig::new(37, 5).init(&device);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let batches: Vec<Tensor<2>> = (0..6)
        .map(|_| {
            let v: Vec<f32> = (0..4 * 37).map(|_| rng.random_range(-1.0..1.0)).collect();
            Tensor::from_data(burn::tensor::TensorData::new(v, [4, 37]), &device)
        })
        .collect();
    let run = |fused: bool, from: usize, to: usize, model: Linear, record| {
        let mut optim = if fused {
            train::adam::init(&config)
        } else {
            config.init()
        };
        if let Some(record) = record {
            optim = optim.load_record(record);
        }
        let mut model = model;
        for x in &batches[from..to] {
            let y = model.forward(x.clone());
            let loss = (y.clone() * y).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        (model, optim.to_record())
    };
    let values = |m: &Linear| -> Vec<f32> {
        let mut v: Vec<f32> = m.weight.val().into_data().iter::<f32>().collect();
        v.extend(m.bias.as_ref().unwrap().val().into_data().iter::<f32>());
        v
    };
    assert!(train::adam::FusedAdam::new(&config).is_some());
    let (burn, _) = run(false, 0, 6, init.clone(), None);
    let (ours, _) = run(true, 0, 6, init.clone(), None);
    assert_eq!(values(&ours), values(&burn), "6 steps");
    // Halfway, each optimizer's record continued by the other.
    let (half, record) = run(true, 0, 3, init.clone(), None);
    let (ours_then_burn, _) = run(false, 3, 6, half, Some(record));
    let (half, record) = run(false, 0, 3, init, None);
    let (burn_then_ours, _) = run(true, 3, 6, half, Some(record));
    assert_eq!(values(&ours_then_burn), values(&burn));
    assert_eq!(values(&burn_then_ours), values(&burn));
    // Variants it does not cover fall back to Burn's own.
    assert!(train::adam::FusedAdam::new(&config.clone().with_amsgrad(true)).is_none());
}

/// Model selection (early stopping, keep-best) reads the validation part only: the same job on a
/// copy of the corpus whose test clips hold other audio trains the same model, epoch for epoch,
/// and picks the same epoch; only what is measured on the test part may differ.
#[test]
fn the_test_part_cannot_influence_training() {
    use ser::cache::CacheOptions;
    use ser::job::{self, JobOptions};

    let source = crate::runner::corpus();
    let dir = tempfile::tempdir().unwrap();
    let copy = |name: &str| {
        let to = dir.path().join(name);
        fs::create_dir_all(&to).unwrap();
        for entry in fs::read_dir(source).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "wav") {
                fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
            }
        }
        to
    };
    let (a, b) = (copy("a"), copy("b"));
    let config = |path: &std::path::Path| {
        let text = format!(
            "[data]\ncorpus = \"crema-d\"\npath = \"{}\"\n[audio]\nmax_samples = 8000\n\
             [split]\ntest = 0.3\nvalid = 0.2\n\
             [model]\nfilters = [4]\nkernel = 3\ndense = 8\n\
             [train]\nepochs = 5\nbatch_size = 16\nlr = 1e-2\npatience = 2\nkeep_best = true\n",
            path.display()
        );
        ser::Config::from_toml(&text, std::path::Path::new("isolation.toml")).unwrap()
    };
    let opts = JobOptions {
        cache: CacheOptions {
            dir: dir.path().join("cache"),
            skip_bad: false,
            gpu: None,
        },
        quiet: true,
        label: None,
    };
    let (run_a, run_b) = (dir.path().join("run-a"), dir.path().join("run-b"));
    let first = job::run(&config(&a), &run_a, &opts).unwrap();
    // Every test clip of b: other audio under the same name (so the split is the same).
    let tests = fs::read_to_string(run_a.join("split/test.txt")).unwrap();
    assert!(tests.lines().count() > 10, "{tests}");
    for line in tests.lines() {
        let name = line.split('\t').next().unwrap();
        crate::common::write_sine_wav(&b.join(name), 16_000, 0.8);
    }
    let second = job::run(&config(&b), &run_b, &opts).unwrap();

    for list in ["split/train.txt", "split/valid.txt", "split/test.txt"] {
        assert_eq!(
            fs::read_to_string(run_a.join(list)).unwrap(),
            fs::read_to_string(run_b.join(list)).unwrap(),
            "{list}"
        );
    }
    let history = |run: &std::path::Path| -> Vec<String> {
        fs::read_to_string(run.join("history.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(history(&run_a), history(&run_b));
    assert_eq!(first.best_epoch, second.best_epoch);
    // Same final weights: the same probabilities for any input.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = Examples::unlabelled(
        vec![32],
        (0..5 * 32).map(|_| rng.random_range(0.0f32..0.3)).collect(),
    )
    .unwrap();
    assert_eq!(
        infer::predict(&RunDir::new(&run_a), &x).unwrap(),
        infer::predict(&RunDir::new(&run_b), &x).unwrap()
    );
    // ... while the test part itself was different data: other features, in another cache entry.
    let cache_of =
        |run: &std::path::Path| RunDir::new(run).read_run_info().unwrap()["feature_cache"].clone();
    assert_ne!(cache_of(&run_a), cache_of(&run_b));
}

// --- Issue 21: standardisation, schedules, macro-F1 monitor, AdamW ---

/// Standardisation is fitted on the training part only, written beside the model, applied to
/// the validation part in training and to every input read back from the run directory.
#[test]
fn per_feature_standardization_from_the_training_part() {
    // Two feature rows of 12 values (as zcr+rms), offset and scaled far from unit variance.
    let scale = |x: Examples| {
        let data = x
            .data
            .chunks(12)
            .enumerate()
            .flat_map(|(i, row)| {
                let (a, b) = if i % 2 == 0 {
                    (50.0, 0.01)
                } else {
                    (-3.0, 20.0)
                };
                row.iter().map(move |v| a + b * v).collect::<Vec<f32>>()
            })
            .collect();
        Examples::new(x.shape, data, x.labels).unwrap()
    };
    let (tr, va, te) = (
        scale(toy(48, &[24], 1, false)),
        scale(toy(12, &[24], 2, false)),
        scale(toy(15, &[24], 3, false)),
    );
    let mut j = job(2);
    j.train.standardize = Standardize::PerFeature;
    j.feature_rows = 2;
    let dir = tempfile::tempdir().unwrap();
    let out = train::train(&j, &tr, &va, &RunDir::new(dir.path())).unwrap();
    let s = Standardization::fit(&tr, 2).unwrap();
    assert_eq!(out.standardize.as_ref(), Some(&s));
    let file = RunDir::new(dir.path()).standardize_file();
    assert_eq!(Standardization::read(&file).unwrap(), s);
    assert_eq!(s.mean.len(), 2);
    // The same job without it, on data standardised beforehand, trains the same network: the
    // validation part was standardised with the training part's values too.
    let plain_dir = tempfile::tempdir().unwrap();
    let (str_, sva, ste) = (
        s.apply(&tr).unwrap(),
        s.apply(&va).unwrap(),
        s.apply(&te).unwrap(),
    );
    let plain = train::train(&job(2), &str_, &sva, &RunDir::new(plain_dir.path())).unwrap();
    assert_eq!(numbers(&out), numbers(&plain));
    assert_eq!(weights(&out), weights(&plain));
    // Read back from the run directory, the model standardises raw input itself.
    let from_disk = infer::predict(&RunDir::new(dir.path()), &te).unwrap();
    assert_eq!(from_disk, probs(&out, &ste));
    assert_ne!(from_disk, probs(&out, &te));
    // A run that needs its statistics and lost them says so.
    fs::remove_file(dir.path().join("standardize.json")).unwrap();
    let e = infer::predict(&RunDir::new(dir.path()), &te)
        .unwrap_err()
        .to_string();
    assert!(e.contains("standardize.json"), "{e}");
}

/// A job using every issue-21 key resumes bit for bit; the rate of each epoch is recorded;
/// a schedule spanning the run makes its length part of the checkpoint's identity.
#[test]
fn schedule_monitor_and_weight_decay_resume_exactly() {
    let (tr, va) = (toy(48, &[24], 1, false), toy(12, &[24], 2, false));
    let recipe = |epochs| {
        let mut j = job(epochs);
        j.train.schedule = ScheduleKind::Cosine;
        j.train.warmup_epochs = 1;
        j.train.min_lr = 1e-4;
        j.train.monitor = Monitor::ValMacroF1;
        j.train.keep_best = true;
        j.train.patience = Some(5);
        j.train.weight_decay = 0.1;
        j.train.standardize = Standardize::PerFeature;
        j
    };
    let unbroken_dir = tempfile::tempdir().unwrap();
    let unbroken = train::train(&recipe(3), &tr, &va, &RunDir::new(unbroken_dir.path())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut first = recipe(3);
    first.stop_after = Some(1);
    let part = train::train(&first, &tr, &va, &RunDir::new(dir.path())).unwrap();
    assert!(!part.finished);
    let resumed = train::train(&recipe(3), &tr, &va, &RunDir::new(dir.path())).unwrap();
    assert_eq!(resumed.resumed_from, Some(1));
    assert_eq!(numbers(&resumed), numbers(&unbroken));
    assert_eq!(weights(&resumed), weights(&unbroken));
    assert_eq!(resumed.best_epoch, unbroken.best_epoch);
    // 6 steps an epoch: the rate of each epoch's last step, as the schedule gives it.
    let config = recipe(3).training_config(&[24]).unwrap();
    let lrs: Vec<f64> = unbroken.history.iter().map(|r| r.lr).collect();
    assert_eq!(
        lrs,
        [1, 2, 3].map(|e| config.lr_at(e, 5, 6)).to_vec(),
        "{lrs:?}"
    );
    assert_eq!(lrs[0], 1e-2);
    assert!(lrs[1] < 1e-2 && lrs[2] < lrs[1] && lrs[2] > 1e-4);
    // Without weight decay the same job trains another network.
    let mut no_decay = recipe(3);
    no_decay.train.weight_decay = 0.0;
    let nd_dir = tempfile::tempdir().unwrap();
    let nd = train::train(&no_decay, &tr, &va, &RunDir::new(nd_dir.path())).unwrap();
    assert_ne!(weights(&nd), weights(&unbroken));
    // More epochs would change every step's rate: not an extension but another run.
    let e = train::train(&recipe(4), &tr, &va, &RunDir::new(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("another config or other data"), "{e}");
    assert!(recipe(3).train.depends_on_total_epochs());
    assert!(!job(3).train.depends_on_total_epochs());
}

/// With `train.monitor = "val_macro_f1"`, keep-best restores the weights of the epoch with the
/// highest validation macro F1 (the earlier of a tie), and early stopping counts from it.
#[test]
fn keep_best_on_validation_macro_f1() {
    // Shifted validation labels: validation gets worse as the network learns.
    let (tr, va) = (toy(96, &[24], 1, false), toy(24, &[24], 2, true));
    let mut j = job(4);
    j.train.monitor = Monitor::ValMacroF1;
    j.train.keep_best = true;
    let dir = tempfile::tempdir().unwrap();
    let out = train::train(&j, &tr, &va, &RunDir::new(dir.path())).unwrap();
    let f1: Vec<f64> = out.history.iter().map(|r| r.val_macro_f1).collect();
    let best =
        f1.iter().enumerate().fold(
            (0, f64::NEG_INFINITY),
            |b, (i, &v)| if v > b.1 { (i + 1, v) } else { b },
        );
    assert_eq!(out.best_epoch, best.0, "{f1:?}");
    assert!(out.best_epoch < 4, "{f1:?}");
    // The final model is that epoch's: its validation macro F1 is the recorded one, and it is
    // the model of a run of that many epochs.
    let p = argmax_rows(&probs(&out, &va));
    let m = evaluate(&va.labels, &p, &classes()).unwrap();
    assert_eq!(m.macro_avg.f1, best.1);
    let short_dir = tempfile::tempdir().unwrap();
    let mut short = j.clone();
    short.train.epochs = out.best_epoch;
    short.train.keep_best = false;
    let s = train::train(&short, &tr, &va, &RunDir::new(short_dir.path())).unwrap();
    assert_eq!(probs(&out, &va), probs(&s, &va));
}

#[test]
fn fused_adamw_steps_as_burns_adamw() {
    // Decoupled weight decay against Burn's AdamW, step for step. Not bit for bit: Burn's
    // AdamW divides each moment by its bias correction and adds ε to the corrected root, where
    // Adam's (Keras') form, which the fused step keeps so that weight_decay = 0 is Adam bit for
    // bit, folds both corrections into one factor and scales ε: equal in exact arithmetic, a
    // few ulps apart in f32.
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{AdamConfig, AdamWConfig, GradientsParams};
    let device = Device::flex().autodiff();
    let (wd, eps) = (0.25f32, 1e-7f32);
    let init = LinearConfig::new(37, 5).init(&device);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let batches: Vec<Tensor<2>> = (0..8)
        .map(|_| {
            let v: Vec<f32> = (0..4 * 37).map(|_| rng.random_range(-1.0..1.0)).collect();
            Tensor::from_data(burn::tensor::TensorData::new(v, [4, 37]), &device)
        })
        .collect();
    let values = |m: &Linear| -> Vec<f32> {
        let mut v: Vec<f32> = m.weight.val().into_data().iter::<f32>().collect();
        v.extend(m.bias.as_ref().unwrap().val().into_data().iter::<f32>());
        v
    };
    let run = |mut optim: burn::optim::ModuleOptimizer| {
        let mut model = init.clone();
        let mut out = Vec::new();
        for (i, x) in batches.iter().enumerate() {
            let y = model.forward(x.clone());
            let loss = (y.clone() * y).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            // a changing rate, as a schedule gives
            model = optim.step(1e-2 / (1 + i) as f64, model, grads);
            out.push(values(&model));
        }
        out
    };
    let adam = AdamConfig::new().with_epsilon(eps);
    let ours = run(train::adam::init_decoupled(&adam, f64::from(wd)));
    let burns = run(AdamWConfig::new()
        .with_epsilon(eps)
        .with_weight_decay(wd)
        .init());
    let plain = run(train::adam::init(&adam));
    for (step, (o, b)) in ours.iter().zip(&burns).enumerate() {
        let worst = o
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "step {step}: {worst}");
    }
    // The decay shows: plain Adam ends elsewhere, by more than the tolerance.
    let moved = ours[7]
        .iter()
        .zip(&plain[7])
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(moved > 1e-4, "{moved}");
    // weight_decay = 0 is plain Adam, bit for bit.
    assert_eq!(run(train::adam::init_decoupled(&adam, 0.0)), plain);
}
