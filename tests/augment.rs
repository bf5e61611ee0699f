//! Regularisation (`train::augment`): the loss with label smoothing, class weights and mixup
//! against hand computations, SpecAugment's masks within their bounds, the config keys' checks,
//! and training with everything on: deterministic, resumed bit-identically, recorded in
//! `training.json`, and a default run's files as before.

use std::fs;
use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ser::config::{
    ClassWeights, Config, ModelConfig, ModelKind, PoolConfig, SpecAugmentConfig, TrainConfig,
};
use ser::infer;
use ser::rundir::RunDir;
use ser::train::augment::{
    balanced_weights, beta, loss_coefficients, mask_bands, mix_items, spec_augment, step_rng,
    weighted_cross_entropy, Regularisation,
};
use ser::train::{self, Examples, TrainJob, TrainOutcome};
use ser::Error;

// --- the loss -----------------------------------------------------------------------------------

fn tensor(values: &[f32], shape: [usize; 2]) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), &Device::flex())
}

fn loss_of(logits: &[f32], coefficients: &[f64]) -> f64 {
    let b = logits.len() / 3;
    let c: Vec<f32> = coefficients.iter().map(|&v| v as f32).collect();
    let loss = weighted_cross_entropy(tensor(logits, [b, 3]), tensor(&c, [b, 3]));
    f64::from(loss.into_scalar::<f32>())
}

#[test]
fn label_smoothing_matches_a_hand_computation() {
    // Two items, three classes, ε = 0.1: targets 0.9 + 0.1/3 on the label, 0.1/3 elsewhere.
    // Item 1, logits (2, 0.5, -1): logsumexp 2.241311, so -log p = (0.241311, 1.741311,
    // 3.241311) and its loss 0.933333·0.241311 + 0.033333·(1.741311 + 3.241311) = 0.391311.
    // Item 2, logits (0, 1, 3): logsumexp 3.169846, -log p = (3.169846, 2.169846, 0.169846),
    // loss 0.933333·2.169846 + 0.033333·(3.169846 + 0.169846) = 2.136513. Mean 1.263912.
    let logits = [2.0, 0.5, -1.0, 0.0, 1.0, 3.0];
    let c = loss_coefficients(&[0, 1], 3, 0.1, None, None);
    let (hi, lo) = ((0.9 + 0.1 / 3.0) / 2.0, 0.1 / 3.0 / 2.0);
    assert_eq!(c.len(), 6);
    for (got, want) in c.iter().zip([hi, lo, lo, lo, hi, lo]) {
        assert!((got - want).abs() < 1e-15, "{c:?}");
    }
    let by_hand = (0.391_311 + 2.136_513) / 2.0;
    assert!(
        (loss_of(&logits, &c) - by_hand).abs() < 2e-5,
        "{}",
        loss_of(&logits, &c)
    );

    // ε = 0 is Burn's cross-entropy
    let plain = loss_of(&logits, &loss_coefficients(&[0, 1], 3, 0.0, None, None));
    let device = Device::flex();
    let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &device);
    let burn = burn::nn::loss::CrossEntropyLossConfig::new()
        .init(&device)
        .forward(tensor(&logits, [2, 3]), y);
    assert!((plain - f64::from(burn.into_scalar::<f32>())).abs() < 1e-6);
}

#[test]
fn class_weights_are_balanced_and_the_batch_mean_is_weighted() {
    // 6 items: 3 of class 0, 2 of class 1, 1 of class 2 → 6 / (3 · count)
    let w = balanced_weights(&[0, 0, 0, 1, 1, 2], 3);
    assert_eq!(w, vec![2.0 / 3.0, 1.0, 2.0]);
    // a class absent from the training part: K counts the present ones, its weight is 0
    assert_eq!(balanced_weights(&[0, 0, 2, 2], 3), vec![1.0, 0.0, 1.0]);
    // a batch [0, 2] weighs its items 2/3 and 2, divided by their sum 8/3 (PyTorch's mean)
    let c = loss_coefficients(&[0, 2], 3, 0.0, Some(&w), None);
    assert_eq!(c, vec![0.25, 0.0, 0.0, 0.0, 0.0, 0.75]);
}

#[test]
fn mixup_shares_inputs_and_loss_between_both_labels() {
    let c = loss_coefficients(&[0, 1], 2, 0.0, None, Some((0.75, &[1, 0])));
    assert_eq!(c, vec![0.375, 0.125, 0.125, 0.375]);
    let mut data = vec![1.0f32, 2.0, 10.0, 20.0];
    mix_items(&mut data, 2, &[1, 0], 0.75);
    assert_eq!(data, vec![3.25, 6.5, 7.75, 15.5]);
}

#[test]
fn beta_draws_are_seeded_and_shaped_by_alpha() {
    let draw = |seed| beta(&mut step_rng(seed, 1, 0), 0.2);
    assert_eq!(draw(3), draw(3));
    assert_ne!(draw(3), draw(4));
    assert_ne!(
        beta(&mut step_rng(3, 1, 0), 0.2),
        beta(&mut step_rng(3, 1, 1), 0.2)
    );
    let mut rng = step_rng(0, 1, 0);
    let xs: Vec<f64> = (0..4000).map(|_| beta(&mut rng, 0.2)).collect();
    assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
    // symmetric, mean 1/2; α = 0.2 puts most draws near 0 or 1
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    assert!((mean - 0.5).abs() < 0.03, "{mean}");
    let ends = xs.iter().filter(|x| !(0.1..=0.9).contains(*x)).count();
    assert!(ends > xs.len() / 2, "{ends}");
    // α = 2: most draws in the middle
    let mid = (0..4000)
        .filter(|_| (0.1..=0.9).contains(&beta(&mut rng, 2.0)))
        .count();
    assert!(mid > 3400, "{mid}");
    // a tiny α neither underflows nor leaves [0, 1]
    assert!((0.0..=1.0).contains(&beta(&mut rng, 1e-4)));
}

#[test]
fn spec_augment_masks_bands_within_the_bounds() {
    let cfg = SpecAugmentConfig {
        freq_masks: 2,
        freq_width: 3,
        time_masks: 1,
        time_width: 4,
    };
    let (rows, cols) = (8, 10);
    let mut masked_somewhere = false;
    for seed in 0..50 {
        let mut rng = step_rng(seed, 1, 0);
        // values 1..=80: the mean 40.5 is none of them
        let mut item: Vec<f32> = (1..=rows * cols).map(|v| v as f32).collect();
        let (freq, time) = {
            let mut r = rng.clone();
            (
                mask_bands(&mut r, 2, 3, rows),
                mask_bands(&mut r, 1, 4, cols),
            )
        };
        spec_augment(&mut item, rows, cols, &cfg, &mut rng);
        assert_eq!((freq.len(), time.len()), (2, 1));
        assert!(freq.iter().all(|&(s, w)| w <= 3 && s + w <= rows));
        assert!(time.iter().all(|&(s, w)| w <= 4 && s + w <= cols));
        for r in 0..rows {
            for c in 0..cols {
                let masked = freq.iter().any(|&(s, w)| (s..s + w).contains(&r))
                    || time.iter().any(|&(s, w)| (s..s + w).contains(&c));
                masked_somewhere |= masked;
                assert_eq!(item[r * cols + c] == 40.5, masked, "seed {seed} at {r},{c}");
            }
        }
    }
    assert!(masked_somewhere);
    // a width past the axis is cut to it
    let mut rng = step_rng(0, 1, 0);
    assert!(mask_bands(&mut rng, 20, 50, 4)
        .iter()
        .all(|&(s, w)| s + w <= 4));
}

// --- config keys --------------------------------------------------------------------------------

fn parse(text: &str) -> ser::Result<Config> {
    Config::from_toml(text, Path::new("exp.toml"))
}

#[test]
fn regularisation_keys_parse_and_stay_out_of_the_resolved_config_when_off() {
    let text = toml::to_string(&parse("").unwrap()).unwrap();
    for key in [
        "label_smoothing",
        "class_weights",
        "mixup",
        "spec_augment",
        "conv_dropout",
    ] {
        assert!(!text.contains(key), "{key} in\n{text}");
    }
    let c = parse(
        r#"
[features]
kind = "mel-db"
[model]
kind = "cnn2d"
conv_dropout = 0.2
[train]
label_smoothing = 0.1
class_weights = "balanced"
mixup = 0.2
spec_augment = { freq_masks = 2, freq_width = 8, time_masks = 2, time_width = 10 }
"#,
    )
    .unwrap();
    assert_eq!(c.model.conv_dropout, 0.2);
    assert_eq!(c.train.label_smoothing, 0.1);
    assert_eq!(c.train.class_weights, ClassWeights::Balanced);
    assert_eq!(c.train.mixup, 0.2);
    assert_eq!(c.train.spec_augment.time_width, 10);
    assert_eq!(parse(&toml::to_string(&c).unwrap()).unwrap(), c);
}

#[test]
fn bad_regularisation_values_name_the_key() {
    let two_d = "[features]\nkind = \"mel-db\"\n[model]\nkind = \"cnn2d\"\n";
    for (text, key) in [
        (
            "[model]\nconv_dropout = 1.0".to_string(),
            "model.conv_dropout",
        ),
        (
            "[train]\nlabel_smoothing = 1.0".into(),
            "train.label_smoothing",
        ),
        (
            "[train]\nlabel_smoothing = -0.1".into(),
            "train.label_smoothing",
        ),
        ("[train]\nmixup = -1.0".into(), "train.mixup"),
        ("[train]\nmixup = 11.0".into(), "train.mixup"),
        (
            format!("{two_d}[train]\nspec_augment = {{ freq_masks = 1 }}"),
            "train.spec_augment.freq_width",
        ),
        (
            format!("{two_d}[train]\nspec_augment = {{ time_masks = 65, time_width = 2 }}"),
            "train.spec_augment.time_masks",
        ),
        (
            "[train]\nspec_augment = { time_masks = 1, time_width = 5 }".into(),
            "train.spec_augment",
        ),
    ] {
        match parse(&text).unwrap_err() {
            Error::Config {
                key: k, message, ..
            } => assert_eq!(k, key, "{text}: {message}"),
            other => panic!("{text}: not a config error: {other}"),
        }
    }
    let e = parse("[train]\nspec_augment = { time_masks = 1, time_width = 5 }").unwrap_err();
    assert!(e.to_string().contains("2D feature kind"), "{e}");
    let e = parse("[train]\nclass_weights = \"inverse\"").unwrap_err();
    assert!(e.to_string().contains("inverse"), "{e}");
    let e = parse("[train]\nspec_augment = { freq_mask = 1 }").unwrap_err();
    assert!(e.to_string().contains("freq_mask"), "{e}");
}

// --- training -----------------------------------------------------------------------------------

const CLASSES: usize = 3;

/// `n` learnable items (class-dependent means, as tests/train.rs's toy); classes 0, 1, 2 in the
/// ratio `skew`:1:1 so that balanced weights differ from 1.
fn toy(n: usize, shape: &[usize], seed: u64, skew: usize) -> Examples {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let len: usize = shape.iter().product();
    let (mut data, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let c = (i % (skew + 2)).saturating_sub(skew - 1);
        for j in 0..len {
            let bump = if j % CLASSES == c { 1.0 } else { 0.0 };
            data.push(c as f32 - 1.0 + bump + rng.random_range(-1.0f32..1.0));
        }
        labels.push(c);
    }
    Examples::new(shape.to_vec(), data, labels).unwrap()
}

fn job(epochs: usize, two_d: bool, on: bool) -> TrainJob {
    let mut model = ModelConfig {
        filters: vec![4, 4],
        kernel: 3,
        dense: 8,
        dropout: 0.25,
        ..ModelConfig::default()
    };
    if two_d {
        model.kind = ModelKind::Cnn2d;
        model.filters = vec![3];
        model.pool = PoolConfig {
            size: Some(2),
            ..Default::default()
        };
    }
    let mut train = TrainConfig {
        epochs,
        batch_size: 8,
        lr: 1e-2,
        seed: 7,
        ..TrainConfig::default()
    };
    if on {
        model.conv_dropout = 0.2;
        train.label_smoothing = 0.1;
        train.class_weights = ClassWeights::Balanced;
        train.mixup = 0.4;
        if two_d {
            train.spec_augment = SpecAugmentConfig {
                freq_masks: 1,
                freq_width: 2,
                time_masks: 1,
                time_width: 3,
            };
        }
    }
    let classes = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let mut j = TrainJob::new(model, train, classes);
    j.quiet = true;
    j
}

fn numbers(o: &TrainOutcome) -> Vec<[f64; 4]> {
    o.history
        .iter()
        .map(|r| [r.loss, r.accuracy, r.val_loss, r.val_accuracy])
        .collect()
}

fn run(job: &TrainJob, tr: &Examples, va: &Examples, dir: &Path) -> TrainOutcome {
    train::train(job, tr, va, &RunDir::new(dir)).unwrap()
}

#[test]
fn regularised_training_is_deterministic_and_recorded() {
    let (tr, va) = (toy(48, &[24], 1, 2), toy(12, &[24], 2, 1));
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = run(&job(2, false, true), &tr, &va, dirs[0].path());
    let b = run(&job(2, false, true), &tr, &va, dirs[1].path());
    assert_eq!(numbers(&a), numbers(&b));
    assert_eq!(
        infer::predict(&RunDir::new(dirs[0].path()), &va).unwrap(),
        infer::predict(&RunDir::new(dirs[1].path()), &va).unwrap()
    );
    assert!(a.history.iter().all(|r| r.loss.is_finite()));

    // only mixup on: another loss than with it off, from the first step
    let off = run(&job(2, false, false), &tr, &va, dirs[2].path());
    let mut mixup = job(2, false, false);
    mixup.train.mixup = 0.4;
    let d = tempfile::tempdir().unwrap();
    let mixed = run(&mixup, &tr, &va, d.path());
    assert_ne!(mixed.history[0].loss, off.history[0].loss);

    // recorded: the class weights as numbers (labels 24 / 12 / 12 → 2/3, 4/3, 4/3)
    let reg = Regularisation::read(&RunDir::new(dirs[0].path()))
        .unwrap()
        .unwrap();
    assert_eq!(
        reg.class_weights,
        Some(balanced_weights(&tr.labels, CLASSES))
    );
    assert_eq!(
        (reg.label_smoothing, reg.mixup, reg.conv_dropout),
        (0.1, 0.4, 0.2)
    );
    assert_eq!(
        reg.class_weights,
        Some(vec![2.0 / 3.0, 4.0 / 3.0, 4.0 / 3.0])
    );
    // a default run's training.json has no such key (as before these options)
    assert_eq!(
        Regularisation::read(&RunDir::new(dirs[2].path())).unwrap(),
        None
    );
    let text = fs::read_to_string(dirs[2].path().join("training.json")).unwrap();
    assert!(!text.contains("regularisation"), "{text}");
}

#[test]
fn regularised_2d_training_resumes_bit_identically() {
    let (tr, va) = (toy(24, &[6, 8], 1, 2), toy(6, &[6, 8], 2, 1));
    let unbroken_dir = tempfile::tempdir().unwrap();
    let unbroken = run(&job(3, true, true), &tr, &va, unbroken_dir.path());

    let dir = tempfile::tempdir().unwrap();
    let mut first = job(3, true, true);
    first.stop_after = Some(1);
    assert!(!run(&first, &tr, &va, dir.path()).finished);
    let resumed = run(&job(3, true, true), &tr, &va, dir.path());
    assert_eq!(resumed.resumed_from, Some(1));
    assert_eq!(numbers(&resumed), numbers(&unbroken));
    assert_eq!(
        infer::predict(&RunDir::new(dir.path()), &va).unwrap(),
        infer::predict(&RunDir::new(unbroken_dir.path()), &va).unwrap()
    );

    // the checkpoint of a run with other regularisation is refused
    let mut other = job(3, true, true);
    other.train.mixup = 0.2;
    let e = train::train(&other, &tr, &va, &RunDir::new(dir.path())).unwrap_err();
    assert!(e.to_string().contains("another config"), "{e}");

    // conv dropout alone changes training; spec_augment needs 2D items
    let d = tempfile::tempdir().unwrap();
    let plain = run(&job(1, true, false), &tr, &va, d.path());
    let mut conv = job(1, true, false);
    conv.model.conv_dropout = 0.5;
    let d = tempfile::tempdir().unwrap();
    assert_ne!(numbers(&run(&conv, &tr, &va, d.path())), numbers(&plain));
    let mut one_d = job(1, false, false);
    one_d.train.spec_augment = SpecAugmentConfig {
        time_masks: 1,
        time_width: 3,
        ..Default::default()
    };
    let e = one_d.training_config(&[24]).unwrap_err().to_string();
    assert!(
        e.contains("train.spec_augment") && e.contains("2D feature kind"),
        "{e}"
    );
    let mut wide = job(1, true, true);
    wide.train.spec_augment.time_width = 9;
    let e = wide.training_config(&[6, 8]).unwrap_err().to_string();
    assert!(e.contains("train.spec_augment.time_width"), "{e}");
}
