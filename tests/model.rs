//! The networks: the report's parameter counts (from the built Burn module and from the
//! summary), layer shapes, shape checks, initialisation, forward shapes, and the `[model]` /
//! `[train]` config sections.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ser::config::{
    BackendKind, Config, ModelConfig, ModelKind, PoolConfig, PoolPadding, RnnKind, TrainConfig,
};
use ser::model::{Net, NetConfig};
use ser::Error;

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(0)
}

fn report_2d() -> ModelConfig {
    ModelConfig {
        kind: ModelKind::Cnn2d,
        ..ModelConfig::default()
    }
}

fn row_params(cfg: &NetConfig) -> Vec<(String, usize)> {
    cfg.summary()
        .unwrap()
        .rows
        .iter()
        .map(|r| (r.layer.clone(), r.params))
        .collect()
}

#[test]
fn report_1d_has_2_430_342_parameters() {
    let cfg = NetConfig::from_section(&ModelConfig::default(), &[220], 6).unwrap();
    let summary = cfg.summary().unwrap();
    assert_eq!(summary.total(), 2_430_342);
    assert_eq!(summary.trainable(), 2_430_342);
    assert_eq!(summary.flatten_len(), Some(3072));
    let shapes: Vec<Vec<usize>> = summary.rows.iter().map(|r| r.output.clone()).collect();
    assert_eq!(
        shapes,
        [
            vec![220, 512],
            vec![108, 512],
            vec![108, 512],
            vec![52, 512],
            vec![52, 128],
            vec![24, 128],
            vec![3072],
            vec![256],
            vec![256],
            vec![6],
        ]
    );
    let params: Vec<usize> = row_params(&cfg).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        params,
        [3_072, 0, 1_311_232, 0, 327_808, 0, 0, 786_688, 0, 1_542]
    );
    let net = cfg.init(&Device::flex(), &mut rng()).unwrap();
    assert_eq!(net.num_params(), 2_430_342);
}

#[test]
fn report_2d_has_12_893_574_parameters() {
    let cfg = NetConfig::from_section(&report_2d(), &[128, 110], 6).unwrap();
    let summary = cfg.summary().unwrap();
    assert_eq!(summary.total(), 12_893_574);
    assert_eq!(summary.flatten_len(), Some(18_304));
    let pooled: Vec<Vec<usize>> = summary
        .rows
        .iter()
        .filter(|r| r.layer.contains("MaxPooling2D"))
        .map(|r| r.output.clone())
        .collect();
    assert_eq!(
        pooled,
        [vec![62, 53, 512], vec![29, 25, 512], vec![13, 11, 128]]
    );
    let params: Vec<usize> = row_params(&cfg)
        .into_iter()
        .map(|(_, p)| p)
        .filter(|&p| p > 0)
        .collect();
    assert_eq!(params, [13_312, 6_554_112, 1_638_528, 4_686_080, 1_542]);
    let net = cfg.init(&Device::flex(), &mut rng()).unwrap();
    assert_eq!(net.num_params(), 12_893_574);
}

#[test]
fn small_2d_matches_the_peer() {
    let m = ModelConfig {
        filters: vec![128, 64, 32],
        ..report_2d()
    };
    let cfg = NetConfig::from_section(&m, &[128, 110], 6).unwrap();
    assert_eq!(cfg.summary().unwrap().total(), 1_432_678);
    assert_eq!(
        cfg.init(&Device::flex(), &mut rng()).unwrap().num_params(),
        1_432_678
    );
}

#[test]
fn summary_text_reads_like_keras() {
    let cfg = NetConfig::from_section(&ModelConfig::default(), &[220], 6).unwrap();
    let text = cfg.summary().unwrap().to_string();
    let expected = r#"Model: "cnn1d"  input (None, 220, 1)
___________________________________________________________
Layer (type)                    Output Shape        Param #
===========================================================
conv1d_1 (Conv1D)               (None, 220, 512)      3,072
max_pooling1d_1 (MaxPooling1D)  (None, 108, 512)          0
conv1d_2 (Conv1D)               (None, 108, 512)  1,311,232
max_pooling1d_2 (MaxPooling1D)  (None, 52, 512)           0
conv1d_3 (Conv1D)               (None, 52, 128)     327,808
max_pooling1d_3 (MaxPooling1D)  (None, 24, 128)           0
flatten (Flatten)               (None, 3072)              0
dense (Dense)                   (None, 256)         786,688
dropout (Dropout)               (None, 256)               0
dense_1 (Dense)                 (None, 6)             1,542
===========================================================
Total params: 2,430,342
Trainable params: 2,430,342
Non-trainable params: 0
___________________________________________________________"#;
    assert_eq!(text, expected, "\n{text}");
}

#[test]
fn batch_norm_adds_keras_counted_parameters() {
    let m = ModelConfig {
        filters: vec![8, 4],
        dense: 16,
        batch_norm: true,
        ..ModelConfig::default()
    };
    let cfg = NetConfig::from_section(&m, &[40], 3).unwrap();
    let s = cfg.summary().unwrap();
    // Keras: 4 per channel, 2 of them (moving mean / variance) not trained.
    assert_eq!(s.non_trainable(), 2 * (8 + 4));
    let without = NetConfig::from_section(
        &ModelConfig {
            batch_norm: false,
            ..m.clone()
        },
        &[40],
        3,
    )
    .unwrap();
    assert_eq!(s.total(), without.summary().unwrap().total() + 4 * (8 + 4));
    // Burn's count includes the running statistics too, like Keras' total.
    let net = cfg.init(&Device::flex(), &mut rng()).unwrap();
    assert_eq!(net.num_params(), s.total());
}

#[test]
fn a_collapsing_stack_names_the_layer_and_length() {
    let m = ModelConfig {
        filters: vec![16; 7],
        ..ModelConfig::default()
    };
    let err = NetConfig::from_section(&m, &[220], 6).unwrap_err();
    assert!(matches!(err, Error::Model(_)));
    let text = err.to_string();
    // 220 -> 108 -> 52 -> 24 -> 10 -> 3 -> (6-window on 3 values: nothing)
    assert!(text.contains("layer 6 of 7"), "{text}");
    assert!(text.contains("on length 3 would reach length 0"), "{text}");
    assert!(text.contains("model.pool.padding"), "{text}");
    assert_eq!(err.exit_code(), 2);

    // `same` pooling keeps the deep stack valid: 220 -> 110 -> 55 -> 28 -> 14 -> 7 -> 4 -> 2.
    let same = ModelConfig {
        pool: ser::config::PoolConfig {
            padding: PoolPadding::Same,
            ..Default::default()
        },
        ..m
    };
    let cfg = NetConfig::from_section(&same, &[220], 6).unwrap();
    assert_eq!(cfg.summary().unwrap().flatten_len(), Some(2 * 16));

    let deep_2d = ModelConfig {
        filters: vec![8; 8],
        ..report_2d()
    };
    let text = NetConfig::from_section(&deep_2d, &[128, 110], 6)
        .unwrap_err()
        .to_string();
    // 128x110 -> 62x53 -> 29x25 -> 13x11 -> 5x4 -> (5-window on 4 columns: nothing)
    assert!(text.contains("cnn2d layer 5 of 8"), "{text}");
    assert!(text.contains("on 5 × 4"), "{text}");
}

#[test]
fn wrong_input_rank_is_an_error() {
    let e = NetConfig::from_section(&ModelConfig::default(), &[128, 110], 6)
        .unwrap_err()
        .to_string();
    assert!(e.contains("use cnn2d"), "{e}");
    let e = NetConfig::from_section(&report_2d(), &[220], 6)
        .unwrap_err()
        .to_string();
    assert!(e.contains("use cnn1d"), "{e}");
    assert!(NetConfig::from_section(&ModelConfig::default(), &[220], 1).is_err());
}

/// Collects every float parameter's values, in visiting order.
struct Collect(Vec<Vec<f32>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().into_data().iter::<f32>().collect());
    }
}

fn weights(net: &Net) -> Vec<Vec<f32>> {
    let mut c = Collect(Vec::new());
    net.visit(&mut c);
    c.0
}

#[test]
fn keras_initialisation_glorot_uniform_and_zero_biases() {
    let m = ModelConfig {
        filters: vec![8, 4],
        dense: 16,
        ..ModelConfig::default()
    };
    let cfg = NetConfig::from_section(&m, &[40], 3).unwrap();
    let net = cfg.init(&Device::flex(), &mut rng()).unwrap();
    let w = weights(&net);
    // conv1 w, conv1 b, conv2 w, conv2 b, hidden w, hidden b, output w, output b
    assert_eq!(w.len(), 8);
    // flatten: 40 -> 18 -> 7 after the pools, times 4 channels = 28
    assert_eq!(cfg.summary().unwrap().flatten_len(), Some(28));
    let limits = [
        (6.0f32 / (5.0 * 1.0 + 5.0 * 8.0)).sqrt(), // conv: fan_in = k * cin, fan_out = k * cout
        (6.0f32 / (5.0 * 8.0 + 5.0 * 4.0)).sqrt(),
        (6.0f32 / (28.0 + 16.0)).sqrt(), // dense: fan_in = in, fan_out = out
        (6.0f32 / (16.0 + 3.0)).sqrt(),
    ];
    for (i, limit) in limits.iter().enumerate() {
        let (weights, bias) = (&w[2 * i], &w[2 * i + 1]);
        assert!(bias.iter().all(|&b| b == 0.0), "bias {i} not zero");
        let max = weights.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(max <= *limit, "layer {i}: {max} > {limit}");
        // uniform on [-l, l]: with this many draws the largest is well past half the limit
        assert!(max > 0.5 * limit, "layer {i}: {max} too small");
    }

    // Same seed, same weights; another seed, other weights.
    let again = weights(&cfg.init(&Device::flex(), &mut rng()).unwrap());
    assert_eq!(w, again);
    let other = weights(
        &cfg.init(&Device::flex(), &mut ChaCha8Rng::seed_from_u64(1))
            .unwrap(),
    );
    assert_ne!(w[0], other[0]);
}

#[test]
fn forward_shapes_and_probabilities() {
    let device = Device::flex();
    let m1 = ModelConfig {
        filters: vec![4, 4],
        kernel: 3,
        dense: 8,
        ..ModelConfig::default()
    };
    let net = NetConfig::from_section(&m1, &[30], 4)
        .unwrap()
        .init(&device, &mut rng())
        .unwrap();
    let x = Tensor::<2>::from_data(
        TensorData::new(
            (0..90).map(|i| i as f32 / 90.0).collect::<Vec<_>>(),
            [3, 30],
        ),
        &device,
    );
    let logits = net.forward(x.clone(), None);
    assert_eq!(logits.dims(), [3, 4]);
    let p: Vec<f32> = net.probabilities(x).into_data().iter::<f32>().collect();
    for row in p.chunks(4) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    let m2 = ModelConfig {
        kind: ModelKind::Cnn2d,
        filters: vec![3],
        kernel: 3,
        dense: 5,
        ..ModelConfig::default()
    };
    let net = NetConfig::from_section(&m2, &[12, 10], 2)
        .unwrap()
        .init(&device, &mut rng())
        .unwrap();
    let x = Tensor::<2>::from_data(TensorData::new(vec![0.5f32; 2 * 120], [2, 120]), &device);
    let mask = Tensor::<2>::from_data(TensorData::new(vec![0.0f32; 2 * 5], [2, 5]), &device);
    let logits = net.forward(x, Some(mask));
    assert_eq!(logits.dims(), [2, 2]);
    // everything dropped: only the output bias (zero) is left
    assert!(logits.into_data().iter::<f32>().all(|v| v == 0.0));
}

fn parse(text: &str) -> ser::Result<Config> {
    Config::from_toml(text, Path::new("exp.toml"))
}

#[test]
fn model_and_train_sections_default_to_the_report() {
    let c = parse("").unwrap();
    assert_eq!(c.model, ModelConfig::default());
    assert_eq!(c.model.filters, [512, 512, 128]);
    assert_eq!(c.model.pool_size(), 6);
    assert_eq!(c.model.pool.stride, 2);
    assert_eq!(c.model.dense, 256);
    assert_eq!(c.model.dropout, 0.4);
    let t = &c.train;
    assert_eq!((t.epochs, t.batch_size, t.lr), (60, 32, 1e-4));
    assert_eq!((t.beta1, t.beta2, t.epsilon), (0.9, 0.999, 1e-7));
    assert_eq!(t.backend, BackendKind::Flex);
    assert_eq!((t.patience, t.keep_best), (None, false));
}

#[test]
fn model_and_train_sections_parse() {
    let c = parse(
        r#"
[features]
kind = "mel-db"
[model]
kind = "cnn2d"
filters = [128, 64, 32]
pool = { stride = 2, padding = "same" }
batch_norm = true
[train]
epochs = 30
patience = 5
keep_best = true
backend = "wgpu"
device = 1
"#,
    )
    .unwrap();
    assert_eq!(c.model.kind, ModelKind::Cnn2d);
    assert_eq!(c.model.pool_size(), 5);
    assert_eq!(c.model.resolved().pool.size, Some(5));
    assert_eq!(c.model.pool.padding, PoolPadding::Same);
    assert!(c.model.batch_norm);
    assert_eq!(c.train.epochs, 30);
    assert_eq!(c.train.patience, Some(5));
    assert_eq!(c.train.backend, BackendKind::Wgpu);
    assert_eq!(c.train.device, 1);
    // the resolved sections round-trip through TOML
    let text = toml::to_string(&c).unwrap();
    assert_eq!(parse(&text).unwrap(), c);
}

fn config_error(text: &str) -> (String, String) {
    match parse(text).unwrap_err() {
        Error::Config { key, message, .. } => (key, message),
        other => panic!("not a config error: {other}"),
    }
}

#[test]
fn bad_model_and_train_values_name_the_key() {
    for (text, key) in [
        ("[model]\nfilters = []", "model.filters"),
        ("[model]\nfilters = [8, 0]", "model.filters"),
        ("[model]\nkernel = 0", "model.kernel"),
        ("[model]\npool = { size = 0 }", "model.pool.size"),
        ("[model]\npool = { stride = 0 }", "model.pool.stride"),
        ("[model]\ndense = 0", "model.dense"),
        ("[model]\ndropout = 1.0", "model.dropout"),
        ("[model]\nkind = \"cnn2d\"", "model.kind"),
        ("[features]\nkind = \"mfcc\"", "model.kind"),
        ("[train]\nepochs = 0", "train.epochs"),
        ("[train]\nbatch_size = 0", "train.batch_size"),
        ("[train]\nlr = -1.0", "train.lr"),
        ("[train]\nbeta2 = 1.0", "train.beta2"),
        ("[train]\nepsilon = 0.0", "train.epsilon"),
        ("[train]\npatience = 0", "train.patience"),
        (
            "[features]\nkind = \"mel-db\"\n[model]\nkind = \"crnn\"\nrnn_units = 0",
            "model.rnn_units",
        ),
        ("[model]\nrnn = \"lstm\"", "model.rnn"),
        ("[model]\nrnn_units = 32", "model.rnn_units"),
        ("[model]\nkind = \"crnn\"", "model.kind"),
        (
            "[train]\nepochs = 5\nwarmup_epochs = 5",
            "train.warmup_epochs",
        ),
        (
            "[train]\nschedule = \"one-cycle\"\nwarmup_epochs = 1",
            "train.warmup_epochs",
        ),
        (
            "[train]\nschedule = \"cosine\"\nmin_lr = 1.0",
            "train.min_lr",
        ),
        ("[train]\nmin_lr = 1e-6", "train.min_lr"),
        ("[train]\nweight_decay = -0.1", "train.weight_decay"),
        ("[train]\nweight_decay = 2.0", "train.weight_decay"),
        ("[train]\nschedule = \"linear\"", "train.schedule"),
        ("[train]\nmonitor = \"val_acc\"", "train.monitor"),
        ("[train]\nstandardize = \"global\"", "train.standardize"),
    ] {
        let (k, message) = config_error(text);
        assert_eq!(k, key, "{text}: {message}");
    }
    let (key, message) = config_error("[model]\nfilter = [1]");
    assert!(message.contains("unknown field"), "{key}: {message}");
    let (_, message) = config_error("[train]\nbackend = \"tpu\"");
    assert!(message.contains("tpu"), "{message}");
    let (_, message) = config_error("[model]\npool = { size = 3, pading = \"same\" }");
    assert!(message.contains("pading"), "{message}");
}

/// Every feature kind parses by its name and pairs with its model kind; the other model kind is
/// refused naming `model.kind` and the kinds that would fit.
#[test]
fn feature_kinds_pair_with_their_model() {
    use ser::config::FeatureKind;
    for kind in FeatureKind::ALL {
        let (fits, other) = if kind.is_2d() {
            ("cnn2d", "cnn1d")
        } else {
            ("cnn1d", "cnn2d")
        };
        let text = format!("[model]\nkind = \"{fits}\"\n[features]\nkind = \"{kind}\"");
        assert_eq!(parse(&text).unwrap().features.kind, kind, "{text}");
        let (key, message) = config_error(&format!(
            "[model]\nkind = \"{other}\"\n[features]\nkind = \"{kind}\""
        ));
        assert_eq!(key, "model.kind", "{kind}: {message}");
        assert!(message.contains(&format!("`{kind}`")), "{message}");
    }
    let (_, message) = config_error("[features]\nkind = \"chroma\"");
    assert!(
        message.contains(
            "use cnn2d or crnn, or zcr+rms / zcr / rms / energy / spectral / zcr+rms+spectral"
        ),
        "{message}"
    );
    let (_, message) = config_error("[model]\nkind = \"cnn2d\"\n[features]\nkind = \"spectral\"");
    assert!(
        message.contains("use cnn1d, or mel-db / mfcc / mfcc+deltas / chroma"),
        "{message}"
    );
    // mfcc+deltas needs the 9-frame delta window: 4,095 samples at hop 512 are 8 frames.
    let short = "[audio]\nmax_samples = 4095\n[model]\nkind = \"cnn2d\"\n[features]\nkind = \"mfcc+deltas\"";
    let (key, message) = config_error(short);
    assert_eq!(key, "audio.max_samples", "{message}");
    assert!(message.contains("max_samples >= 4096"), "{message}");
    assert!(parse(&short.replace("4095", "4096")).is_ok());
}

#[test]
fn crnn_section_parses_and_stays_out_of_other_kinds_ids() {
    let c = parse(
        "[features]\nkind = \"mel-db\"\n[model]\nkind = \"crnn\"\nrnn = \"lstm\"\nrnn_units = 32",
    )
    .unwrap();
    assert_eq!(c.model.kind, ModelKind::Crnn);
    assert_eq!((c.model.rnn, c.model.rnn_units), (RnnKind::Lstm, 32));
    assert_eq!(c.model.pool_size(), 5);
    let text = toml::to_string(&c).unwrap();
    assert_eq!(parse(&text).unwrap(), c);
    // the new keys are left out of the resolved config at their defaults (job ids stay put)
    let report = toml::to_string(&parse("").unwrap().model).unwrap();
    assert!(!report.contains("rnn"), "{report}");
    let (_, message) = config_error("[model]\nkind = \"crnn\"\nrnn = \"transformer\"");
    assert!(message.contains("transformer"), "{message}");
    let (_, message) = config_error("[model]\nrnn_units = 8");
    assert!(
        message.contains("only applies to model.kind = \"crnn\""),
        "{message}"
    );
    let (_, message) =
        config_error("[features]\nkind = \"mel-db\"\n[model]\nkind = \"crnn\"\nrnn_units = 5000");
    assert!(message.contains("between 1 and 4096"), "{message}");
}

// --- The CRNN: conv blocks, recurrent layer, attention pooling ---

/// One 3×3 conv layer of 4 filters, 2×2 pools, a recurrent layer of 5 units, Dense 8.
fn tiny_crnn(rnn: RnnKind) -> ModelConfig {
    ModelConfig {
        kind: ModelKind::Crnn,
        filters: vec![4],
        kernel: 3,
        pool: PoolConfig {
            size: Some(2),
            ..Default::default()
        },
        dense: 8,
        rnn,
        rnn_units: 5,
        ..ModelConfig::default()
    }
}

#[test]
fn crnn_parameters_counted_by_hand_match_the_summary_and_burn() {
    // Input 8 × 12: conv 3·3·1·4 + 4 = 40; pooled 4 × 6 × 4 -> 6 steps of 4·4 = 16 values.
    // A Burn GRU direction: 3 gates × (16·5 + 5·5 + 5 + 5) = 345 (each gate an input and a
    // hidden map, both biased); an LSTM direction: 4 × 115 = 460.
    // Attention over width w: w·5 + 5 + 5; then Dense(w -> 8) and Dense(8 -> 3) = 27.
    for (rnn, layer, rnn_params, width) in [
        (RnnKind::Bigru, "bidirectional (Bidirectional GRU)", 690, 10),
        (RnnKind::Gru, "gru (GRU)", 345, 5),
        (RnnKind::Lstm, "lstm (LSTM)", 460, 5),
        (
            RnnKind::Bilstm,
            "bidirectional (Bidirectional LSTM)",
            920,
            10,
        ),
    ] {
        let attention = width * 5 + 10;
        let dense = width * 8 + 8;
        let total = 40 + rnn_params + attention + dense + 27;
        let section = tiny_crnn(rnn);
        let cfg = NetConfig::from_section(&section, &[8, 12], 3).unwrap();
        let summary = cfg.summary().unwrap();
        let rows: Vec<(&str, Vec<usize>, usize)> = summary
            .rows
            .iter()
            .map(|r| (r.layer.as_str(), r.output.clone(), r.params))
            .collect();
        assert_eq!(
            rows,
            [
                ("conv2d_1 (Conv2D)", vec![8, 12, 4], 40),
                ("max_pooling2d_1 (MaxPooling2D)", vec![4, 6, 4], 0),
                ("reshape (Reshape)", vec![6, 16], 0),
                (layer, vec![6, width], rnn_params),
                ("attention (AttentionPooling)", vec![width], attention),
                ("dense (Dense)", vec![8], dense),
                ("dropout (Dropout)", vec![8], 0),
                ("dense_1 (Dense)", vec![3], 27),
            ],
            "{rnn}"
        );
        assert_eq!(summary.total(), total, "{rnn}");
        assert_eq!(summary.flatten_len(), None);
        let net = cfg.init(&Device::flex(), &mut rng()).unwrap();
        assert_eq!(net.num_params(), total, "{rnn}");
        let size = ser::model::check_size(&section, &[8, 12], 3, 32).unwrap();
        assert_eq!(size.params, total as u128, "{rnn}");
    }
    // with batch norm: gamma, beta (trained) and the moving statistics (not), all in Burn's count
    let bn = ModelConfig {
        batch_norm: true,
        ..tiny_crnn(RnnKind::Bigru)
    };
    let cfg = NetConfig::from_section(&bn, &[8, 12], 3).unwrap();
    let summary = cfg.summary().unwrap();
    assert_eq!(summary.total(), 905 + 16);
    assert_eq!(summary.trainable(), 905 + 8);
    assert_eq!(
        cfg.init(&Device::flex(), &mut rng()).unwrap().num_params(),
        summary.total()
    );
    let size = ser::model::check_size(&bn, &[8, 12], 3, 32).unwrap();
    assert_eq!(size.params, 905 + 16);
}

#[test]
fn crnn_summary_text() {
    let cfg = NetConfig::from_section(&tiny_crnn(RnnKind::Bigru), &[8, 12], 3).unwrap();
    let text = cfg.summary().unwrap().to_string();
    assert!(
        text.starts_with("Model: \"crnn\"  input (None, 8, 12, 1)"),
        "{text}"
    );
    assert!(
        text.contains("bidirectional (Bidirectional GRU)  (None, 6, 10)"),
        "{text}"
    );
    assert!(text.contains("Total params: 905"), "{text}");
}

#[test]
fn crnn_shapes_that_collapse_or_do_not_fit_are_errors() {
    // 2×2 valid pools: 12 frames -> 6 -> 3 -> 1 -> nothing
    let deep = ModelConfig {
        filters: vec![2; 4],
        ..tiny_crnn(RnnKind::Bigru)
    };
    let e = NetConfig::from_section(&deep, &[16, 12], 3).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let text = e.to_string();
    assert!(text.contains("crnn layer 4 of 4"), "{text}");
    assert!(text.contains("on 2 × 1 would reach size 0"), "{text}");
    assert!(text.contains("model.pool.size"), "{text}");
    // `same` pooling keeps one frame
    let same = ModelConfig {
        pool: PoolConfig {
            size: Some(2),
            padding: PoolPadding::Same,
            ..Default::default()
        },
        ..deep
    };
    let cfg = NetConfig::from_section(&same, &[16, 12], 3).unwrap();
    let summary = cfg.summary().unwrap();
    let reshape = summary.rows.iter().find(|r| r.layer.starts_with("reshape"));
    assert_eq!(reshape.unwrap().output, vec![1, 2]);
    // a vector per clip
    let e = NetConfig::from_section(&tiny_crnn(RnnKind::Gru), &[96], 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("crnn takes a matrix [rows, cols]"), "{e}");
    assert!(e.contains("use cnn1d"), "{e}");
    // an empty input
    let e = NetConfig::from_section(&tiny_crnn(RnnKind::Gru), &[0, 12], 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("crnn: the input 0 × 12 is empty"), "{e}");
    // too many parameters in the recurrent layer names its key
    let huge = ModelConfig {
        filters: vec![8],
        rnn_units: 4096,
        ..tiny_crnn(RnnKind::Bilstm)
    };
    let (key, message) = ser::model::check_size(&huge, &[16_384, 12], 3, 1).unwrap_err();
    assert_eq!(key, "model.filters", "{message}");
    let wide = ModelConfig {
        filters: vec![1],
        rnn_units: 4096,
        dense: 1 << 20,
        ..tiny_crnn(RnnKind::Bilstm)
    };
    let (key, message) = ser::model::check_size(&wide, &[4, 4], 3, 1).unwrap_err();
    assert_eq!(key, "model.dense", "{message}");
}

#[test]
fn crnn_batches_over_a_buffer_cap_name_the_largest_layer() {
    use ser::base::device::BufferCap;
    use ser::model::{batch_that_fits, check_batch_fits};
    let cap = |bytes| BufferCap {
        bytes,
        device: "wgpu:0 (test)".into(),
    };
    // the conv output is the largest: 8 × 12 × 4 f32 = 1,536 bytes per item
    let cfg = NetConfig::from_section(&tiny_crnn(RnnKind::Bigru), &[8, 12], 3).unwrap();
    let e = check_batch_fits(&cfg, 32, Some(&cap(15_360)), "--batch")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv2d_1") && e.contains("--batch = 10 or less"),
        "{e}"
    );
    assert_eq!(batch_that_fits(&cfg, 32, Some(&cap(15_360))).unwrap(), 10);
    // one filter and 64 units a direction: the recurrent layer's 6 × 128 states are the largest
    let wide = ModelConfig {
        filters: vec![1],
        rnn_units: 64,
        ..tiny_crnn(RnnKind::Bigru)
    };
    let cfg = NetConfig::from_section(&wide, &[8, 12], 3).unwrap();
    let e = check_batch_fits(&cfg, 32, Some(&cap(3_072 * 4)), "--batch")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bidirectional") && e.contains("--batch = 4 or less"),
        "{e}"
    );
}

#[test]
fn crnn_forward_shapes_probabilities_and_initialisation() {
    let device = Device::flex();
    for rnn in [RnnKind::Bigru, RnnKind::Gru, RnnKind::Lstm, RnnKind::Bilstm] {
        let cfg = NetConfig::from_section(&tiny_crnn(rnn), &[8, 12], 3).unwrap();
        let net = cfg.init(&device, &mut rng()).unwrap();
        // the same seed draws the same weights
        assert_eq!(
            weights(&net),
            weights(&cfg.init(&device, &mut rng()).unwrap())
        );
        let x = Tensor::<2>::from_data(
            TensorData::new(
                (0..2 * 96)
                    .map(|i| (i as f32 / 50.0).sin())
                    .collect::<Vec<_>>(),
                [2, 96],
            ),
            &device,
        );
        assert_eq!(net.forward(x.clone(), None).dims(), [2, 3]);
        let p: Vec<f32> = net
            .probabilities(x.clone())
            .into_data()
            .iter::<f32>()
            .collect();
        for row in p.chunks(3) {
            assert!(
                (row.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                "{rnn}: {row:?}"
            );
        }
        let mask = Tensor::<2>::from_data(TensorData::new(vec![0.0f32; 2 * 8], [2, 8]), &device);
        // everything dropped: only the output bias (zero) is left
        let logits = net.forward(x, Some(mask));
        assert!(logits.into_data().iter::<f32>().all(|v| v == 0.0), "{rnn}");
    }
    // Keras' LSTM forget bias: 1 on the forget gate's input map, 0 elsewhere
    let net = NetConfig::from_section(&tiny_crnn(RnnKind::Lstm), &[8, 12], 3)
        .unwrap()
        .init(&device, &mut rng())
        .unwrap();
    let Net::Crnn(crnn) = &net else {
        panic!("not a crnn")
    };
    let ser::model::Recurrent::Lstm(lstm) = &crnn.rnn else {
        panic!("not an lstm")
    };
    let bias = |l: &burn::nn::Linear| -> Vec<f32> {
        l.bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .iter::<f32>()
            .collect()
    };
    let forget = lstm.forget_gate.as_ref().unwrap();
    assert_eq!(bias(&forget.input_transform), vec![1.0; 5]);
    assert_eq!(bias(&forget.hidden_transform), vec![0.0; 5]);
    assert_eq!(bias(&lstm.input_gate.input_transform), vec![0.0; 5]);
}

#[test]
fn recipe_keys_parse_and_stay_out_of_the_resolved_config_at_their_defaults() {
    use ser::config::{Monitor, ScheduleKind, Standardize};
    let c = Config::from_toml(
        "[train]\nstandardize = \"per-feature\"\nmonitor = \"val_macro_f1\"\n\
         schedule = \"cosine\"\nwarmup_epochs = 2\nmin_lr = 1e-6\nweight_decay = 0.01",
        Path::new("t.toml"),
    )
    .unwrap();
    let t = &c.train;
    assert_eq!(
        (t.standardize, t.monitor, t.schedule),
        (
            Standardize::PerFeature,
            Monitor::ValMacroF1,
            ScheduleKind::Cosine
        )
    );
    assert_eq!((t.warmup_epochs, t.min_lr, t.weight_decay), (2, 1e-6, 0.01));
    assert!(t.depends_on_total_epochs());
    let one_cycle = Config::from_toml("[train]\nschedule = \"one-cycle\"", Path::new("t"));
    assert_eq!(one_cycle.unwrap().train.schedule, ScheduleKind::OneCycle);
    // Defaults: nothing new in the serialised section (job ids do not move).
    let text = toml::to_string(&TrainConfig::default()).unwrap();
    for key in [
        "standardize",
        "monitor",
        "schedule",
        "warmup",
        "min_lr",
        "weight_decay",
    ] {
        assert!(!text.contains(key), "{key} in {text}");
    }
    let d = TrainConfig::default();
    assert!(!d.depends_on_total_epochs());
    // Early stopping reads the epochs run so far, never the total: a run with it can be
    // extended (and continue a shorter job's checkpoint, runner::chain).
    let early = TrainConfig {
        patience: Some(3),
        ..TrainConfig::default()
    };
    assert!(!early.depends_on_total_epochs());
}

#[test]
fn backend_names_parse() {
    assert_eq!("flex".parse::<BackendKind>().unwrap(), BackendKind::Flex);
    assert_eq!("wgpu".parse::<BackendKind>().unwrap(), BackendKind::Wgpu);
    assert!("cuda".parse::<BackendKind>().is_err());
    assert_eq!(TrainConfig::default().backend.to_string(), "flex");
}

// --- Our conv / pool kernels (src/model/ops) against Burn's, forward and gradients ---

mod kernels {
    use burn::module::Param;
    use burn::nn::conv::{Conv1dConfig, Conv2dConfig};
    use burn::nn::pool::{MaxPool1dConfig, MaxPool2dConfig};
    use burn::nn::{PaddingConfig1d, PaddingConfig2d};
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, Tensor, TensorData};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use ser::model::ops;

    fn device() -> Device {
        Device::flex().autodiff()
    }

    fn random<const D: usize>(shape: [usize; D], seed: u64) -> Tensor<D> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        Tensor::from_data(TensorData::new(v, shape), &device())
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    #[track_caller]
    fn assert_close(what: &str, ours: &[f32], burn: &[f32]) {
        assert_eq!(ours.len(), burn.len(), "{what}: lengths");
        let scale = burn.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let worst = ours
            .iter()
            .zip(burn)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-4 * scale,
            "{what}: max difference {worst} (scale {scale})"
        );
    }

    /// Forward values and the gradients of `sum(y * r)` for x, weight and bias, ours vs Burn's.
    fn check_conv1d(cin: usize, cout: usize, len: usize, k: usize, padding: PaddingConfig1d) {
        let mut conv = Conv1dConfig::new(cin, cout, k)
            .with_padding(padding.clone())
            .init(&device());
        conv.weight = Param::from_tensor(random([cout, cin, k], 1).require_grad());
        conv.bias = Some(Param::from_tensor(random([cout], 2).require_grad()));
        let x = random([3, cin, len], 3).require_grad();
        let run = |own: bool| {
            let y = if own {
                ops::conv1d(&conv, x.clone())
            } else {
                conv.forward(x.clone())
            };
            let r = random(y.dims(), 4);
            let grads = (y.clone() * r).sum().backward();
            let gx = x.grad(&grads).unwrap();
            let gw = conv.weight.val().grad(&grads).unwrap();
            let gb = conv.bias.as_ref().unwrap().val().grad(&grads).unwrap();
            (y.dims(), values(y), values(gx), values(gw), values(gb))
        };
        let (ours, burn) = (run(true), run(false));
        let what = format!("conv1d {cin}->{cout} len {len} k {k} {padding:?}");
        assert_eq!(ours.0, burn.0, "{what}: shape");
        assert_close(&format!("{what}: forward"), &ours.1, &burn.1);
        assert_close(&format!("{what}: dx"), &ours.2, &burn.2);
        assert_close(&format!("{what}: dw"), &ours.3, &burn.3);
        assert_close(&format!("{what}: db"), &ours.4, &burn.4);
    }

    #[test]
    fn conv1d_matches_burn() {
        check_conv1d(1, 4, 20, 5, PaddingConfig1d::Same);
        check_conv1d(3, 5, 17, 5, PaddingConfig1d::Same);
        check_conv1d(4, 2, 9, 4, PaddingConfig1d::Same); // even kernel: padding (1, 2)
        check_conv1d(2, 3, 12, 3, PaddingConfig1d::Valid);
        check_conv1d(2, 3, 12, 3, PaddingConfig1d::Explicit(2, 0));
        check_conv1d(6, 3, 8, 1, PaddingConfig1d::Valid); // 1×1: no im2col
    }

    #[test]
    fn conv1d_without_im2col_matches_burn() {
        // From IMPLICIT_MIN_CIN input channels on, the product reads the padded input in place
        // and discards the rows that straddle two items; odd sizes and every padding kind.
        let c = ops::kernels::IMPLICIT_MIN_CIN;
        check_conv1d(c, 5, 13, 5, PaddingConfig1d::Same);
        check_conv1d(c + 3, 4, 9, 4, PaddingConfig1d::Same);
        check_conv1d(c + 1, 3, 12, 3, PaddingConfig1d::Valid);
        check_conv1d(c, 2, 7, 3, PaddingConfig1d::Explicit(2, 0));
        check_conv1d(c, 3, 5, 5, PaddingConfig1d::Valid); // one output per item
    }

    fn check_conv2d(
        [cin, cout]: [usize; 2],
        [h, w]: [usize; 2],
        kernel: [usize; 2],
        padding: PaddingConfig2d,
        batch: usize,
    ) {
        let mut conv = Conv2dConfig::new([cin, cout], kernel)
            .with_padding(padding.clone())
            .init(&device());
        let [kh, kw] = kernel;
        conv.weight = Param::from_tensor(random([cout, cin, kh, kw], 5).require_grad());
        conv.bias = Some(Param::from_tensor(random([cout], 6).require_grad()));
        let x = random([batch, cin, h, w], 7).require_grad();
        let run = |own: bool| {
            let y = if own {
                ops::conv2d(&conv, x.clone())
            } else {
                conv.forward(x.clone())
            };
            let r = random(y.dims(), 8);
            let grads = (y.clone() * r).sum().backward();
            let gx = x.grad(&grads).unwrap();
            let gw = conv.weight.val().grad(&grads).unwrap();
            let gb = conv.bias.as_ref().unwrap().val().grad(&grads).unwrap();
            (y.dims(), values(y), values(gx), values(gw), values(gb))
        };
        let (ours, burn) = (run(true), run(false));
        let what = format!("conv2d {cin}->{cout} {h}x{w} k {kernel:?} {padding:?}");
        assert_eq!(ours.0, burn.0, "{what}: shape");
        assert_close(&format!("{what}: forward"), &ours.1, &burn.1);
        assert_close(&format!("{what}: dx"), &ours.2, &burn.2);
        assert_close(&format!("{what}: dw"), &ours.3, &burn.3);
        assert_close(&format!("{what}: db"), &ours.4, &burn.4);
    }

    #[test]
    fn conv2d_matches_burn() {
        check_conv2d([1, 4], [9, 8], [5, 5], PaddingConfig2d::Same, 2);
        check_conv2d([3, 2], [7, 6], [3, 5], PaddingConfig2d::Same, 2);
        check_conv2d([2, 3], [6, 7], [2, 4], PaddingConfig2d::Same, 2); // asymmetric padding
        check_conv2d([2, 3], [6, 7], [3, 3], PaddingConfig2d::Valid, 2);
        check_conv2d(
            [2, 2],
            [5, 6],
            [3, 3],
            PaddingConfig2d::Explicit(1, 0, 2, 1),
            1,
        );
    }

    #[test]
    fn conv2d_without_im2col_matches_burn() {
        // One product per item and kernel row over the padded input, rows past the output's
        // width discarded, each item a task; odd sizes, asymmetric and explicit padding, several
        // items.
        let c = ops::kernels::IMPLICIT_MIN_CIN;
        check_conv2d([c + 1, 5], [9, 7], [5, 5], PaddingConfig2d::Same, 3);
        check_conv2d([c, 3], [6, 8], [3, 5], PaddingConfig2d::Same, 2);
        check_conv2d([c, 3], [6, 7], [2, 4], PaddingConfig2d::Same, 2); // asymmetric padding
        check_conv2d([c + 2, 2], [6, 7], [3, 3], PaddingConfig2d::Valid, 2);
        check_conv2d(
            [c, 2],
            [5, 6],
            [3, 3],
            PaddingConfig2d::Explicit(1, 0, 2, 1),
            2,
        );
        check_conv2d([c, 2], [4, 3], [1, 3], PaddingConfig2d::Same, 3); // kh = 1: one product
                                                                        // More items than weight-gradient parts: parts of two items, the last one of one.
        check_conv2d([c, 2], [5, 4], [3, 3], PaddingConfig2d::Same, 11);
    }

    #[test]
    fn conv2d_gradients_do_not_depend_on_the_thread_count() {
        // Items run as tasks on whatever threads there are; the weight gradient is summed in
        // fixed parts, so 1 and 3 threads give the same bits.
        use ops::kernels::{conv_forward, conv_weight_grad, ConvGeom};
        let g = ConvGeom {
            batch: 13,
            cin: ops::kernels::IMPLICIT_MIN_CIN + 3,
            h: 7,
            w: 6,
            cout: 5,
            kh: 3,
            kw: 3,
            pad: [1, 1, 1, 1],
        };
        let data = |n: usize, seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0 - 1.0)
                .collect()
        };
        let x = data(g.batch * g.h * g.w * g.cin, 1);
        let wm = data(g.k() * g.cout, 2);
        let dy = data(g.rows() * g.cout, 3);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                (
                    conv_forward(&x, &g, &wm, None),
                    conv_weight_grad(&x, &g, &dy),
                )
            })
        };
        let (one, three) = (run(1), run(3));
        assert!(ops::kernels::implicit(&g));
        assert_eq!(one.0, three.0, "forward");
        assert_eq!(one.1, three.1, "weight gradient");
    }

    #[test]
    fn conv2d_in_several_im2col_chunks_matches_burn() {
        // Below IMPLICIT_MIN_CIN channels im2col is used, in chunks of about 16 MB: 3·96·96 =
        // 27,648 output rows of 25·8 columns are 22 MB, two chunks.
        const { assert!(8 < ops::kernels::IMPLICIT_MIN_CIN) };
        check_conv2d([8, 4], [96, 96], [5, 5], PaddingConfig2d::Same, 3);
    }

    #[test]
    fn max_pool_matches_burn() {
        let x = random([2, 3, 20], 9).require_grad();
        let pool = MaxPool1dConfig::new(6).with_stride(2).init();
        let run = |own: bool| {
            let y = if own {
                ops::max_pool1d(&pool, x.clone())
            } else {
                pool.forward(x.clone())
            };
            let r = random(y.dims(), 10);
            let grads = (y.clone() * r).sum().backward();
            (y.dims(), values(y), values(x.grad(&grads).unwrap()))
        };
        let (ours, burn) = (run(true), run(false));
        assert_eq!(ours.0, burn.0);
        assert_eq!(ours.1, burn.1, "max_pool1d forward");
        assert_close("max_pool1d dx", &ours.2, &burn.2);

        let x = random([2, 3, 13, 12], 11).require_grad();
        let pool = MaxPool2dConfig::new([5, 5]).with_strides([2, 2]).init();
        let run = |own: bool| {
            let y = if own {
                ops::max_pool2d(&pool, x.clone())
            } else {
                pool.forward(x.clone())
            };
            let r = random(y.dims(), 12);
            let grads = (y.clone() * r).sum().backward();
            (y.dims(), values(y), values(x.grad(&grads).unwrap()))
        };
        let (ours, burn) = (run(true), run(false));
        assert_eq!(ours.0, burn.0);
        assert_eq!(ours.1, burn.1, "max_pool2d forward");
        assert_close("max_pool2d dx", &ours.2, &burn.2);
    }

    #[test]
    fn fused_max_pool_relu_matches_burn() {
        // Windows whose maximum is negative (clamped to 0, no gradient) and positive ones.
        let x1 = random([2, 3, 20], 23).require_grad();
        let p1 = MaxPool1dConfig::new(2).with_stride(2).init();
        let x2 = random([2, 3, 9, 8], 24).require_grad();
        let p2 = MaxPool2dConfig::new([2, 2]).with_strides([2, 1]).init();
        let run = |own: bool| {
            let (y1, y2) = if own {
                (
                    ops::max_pool1d_relu(&p1, x1.clone()),
                    ops::max_pool2d_relu(&p2, x2.clone()),
                )
            } else {
                (relu(p1.forward(x1.clone())), relu(p2.forward(x2.clone())))
            };
            let (r1, r2) = (random(y1.dims(), 25), random(y2.dims(), 26));
            let grads = ((y1.clone() * r1).sum() + (y2.clone() * r2).sum()).backward();
            (
                values(y1),
                values(y2),
                values(x1.grad(&grads).unwrap()),
                values(x2.grad(&grads).unwrap()),
            )
        };
        let (ours, burn) = (run(true), run(false));
        assert!(
            burn.0.contains(&0.0) && burn.1.contains(&0.0),
            "some windows clamp"
        );
        assert_close("pool1d+relu forward", &ours.0, &burn.0);
        assert_close("pool2d+relu forward", &ours.1, &burn.1);
        assert_close("pool1d+relu dx", &ours.2, &burn.2);
        assert_close("pool2d+relu dx", &ours.3, &burn.3);
    }

    #[test]
    fn max_pool_indices_agree_with_burn() {
        // The argmax positions themselves, through Burn's max_pool2d_with_indices: the gradient
        // of our pool is 1 exactly at the positions Burn's indices name.
        use burn::tensor::module::max_pool2d_with_indices;
        use burn::tensor::ops::MaxPoolOptions;
        let x = random([1, 2, 9, 8], 13).require_grad();
        let pool = MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init();
        let grads = ops::max_pool2d(&pool, x.clone()).sum().backward();
        let ours = values(x.grad(&grads).unwrap());
        let (_, idx) = max_pool2d_with_indices(
            x.clone().inner(),
            MaxPoolOptions::new([3, 3]).with_stride([2, 2]),
        );
        let mut expected = vec![0.0f32; 2 * 9 * 8];
        let idx: Vec<i64> = idx.into_data().iter::<i64>().collect();
        let per_channel = idx.len() / 2;
        for (i, &p) in idx.iter().enumerate() {
            expected[(i / per_channel) * 72 + p as usize] += 1.0;
        }
        assert_eq!(ours, expected);
    }

    #[test]
    fn a_conv_pool_relu_chain_matches_burn() {
        // Channels-last views flow from one op into the next, forward and backward.
        let d = device();
        let mut c1 = Conv2dConfig::new([1, 4], [5, 5])
            .with_padding(PaddingConfig2d::Same)
            .init(&d);
        c1.weight = Param::from_tensor(random([4, 1, 5, 5], 14).require_grad());
        c1.bias = Some(Param::from_tensor(random([4], 15).require_grad()));
        // Enough channels for the second and third conv to skip im2col.
        let c = ops::kernels::IMPLICIT_MIN_CIN;
        let mut c2 = Conv2dConfig::new([4, c], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(&d);
        c2.weight = Param::from_tensor(random([c, 4, 3, 3], 16).require_grad());
        c2.bias = Some(Param::from_tensor(random([c], 17).require_grad()));
        let mut c3 = Conv2dConfig::new([c, 3], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(&d);
        c3.weight = Param::from_tensor(random([3, c, 3, 3], 27).require_grad());
        c3.bias = Some(Param::from_tensor(random([3], 28).require_grad()));
        let pool = MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init();
        let x = random([2, 1, 30, 26], 18);
        let run = |own: bool| {
            let h = if own {
                let h = relu(ops::max_pool2d(&pool, ops::conv2d(&c1, x.clone())));
                let h = ops::max_pool2d_relu(&pool, ops::conv2d(&c2, h));
                ops::max_pool2d_relu(&pool, ops::conv2d(&c3, h))
            } else {
                let h = relu(pool.forward(c1.forward(x.clone())));
                let h = relu(pool.forward(c2.forward(h)));
                relu(pool.forward(c3.forward(h)))
            };
            let flat: Tensor<2> = h.flatten(1, 3);
            let r = random(flat.dims(), 19);
            let grads = (flat.clone() * r).sum().backward();
            (
                values(flat),
                values(c1.weight.val().grad(&grads).unwrap()),
                values(c2.weight.val().grad(&grads).unwrap()),
                values(c3.weight.val().grad(&grads).unwrap()),
            )
        };
        let (ours, burn) = (run(true), run(false));
        assert_close("chain forward", &ours.0, &burn.0);
        assert_close("chain dw1", &ours.1, &burn.1);
        assert_close("chain dw2", &ours.2, &burn.2);
        assert_close("chain dw3", &ours.3, &burn.3);
    }

    /// `relu(pool(conv(x)))` as one op vs Burn's three, forward and the gradients of
    /// `sum(y * r)`; `dx` only where `x` needs one (the banded path computes none).
    fn check_conv2d_relu_pool(
        [cin, cout]: [usize; 2],
        [h, w]: [usize; 2],
        pool: [usize; 4],
        batch: usize,
        x_grad: bool,
    ) {
        let mut conv = Conv2dConfig::new([cin, cout], [5, 5])
            .with_padding(PaddingConfig2d::Same)
            .init(&device());
        conv.weight = Param::from_tensor(random([cout, cin, 5, 5], 31).require_grad());
        conv.bias = Some(Param::from_tensor(random([cout], 32).require_grad()));
        let [ph, pw, sh, sw] = pool;
        let pool = MaxPool2dConfig::new([ph, pw]).with_strides([sh, sw]).init();
        let x = random([batch, cin, h, w], 33);
        let x = if x_grad { x.require_grad() } else { x };
        let run = |own: bool| {
            let y = if own {
                ops::conv2d_relu_pool(&conv, &pool, x.clone())
            } else {
                relu(pool.forward(conv.forward(x.clone())))
            };
            let r = random(y.dims(), 34);
            let grads = (y.clone() * r).sum().backward();
            let gx = x.grad(&grads).map(values);
            let gw = conv.weight.val().grad(&grads).unwrap();
            let gb = conv.bias.as_ref().unwrap().val().grad(&grads).unwrap();
            (y.dims(), values(y), gx, values(gw), values(gb))
        };
        let (ours, burn) = (run(true), run(false));
        let what = format!("conv2d+relu+pool {cin}->{cout} {h}x{w} pool {pool:?} dx {x_grad}");
        assert_eq!(ours.0, burn.0, "{what}: shape");
        // With few input channels some windows' maximum is negative (clamped, no gradient);
        // sums over many channels are rarely.
        let few = cin < ops::kernels::IMPLICIT_MIN_CIN;
        assert!(!few || burn.1.contains(&0.0), "{what}: some windows clamp");
        assert_close(&format!("{what}: forward"), &ours.1, &burn.1);
        assert_eq!(ours.2.is_some(), x_grad, "{what}: dx");
        if let (Some(a), Some(b)) = (&ours.2, &burn.2) {
            assert_close(&format!("{what}: dx"), a, b);
        }
        assert_close(&format!("{what}: dw"), &ours.3, &burn.3);
        assert_close(&format!("{what}: db"), &ours.4, &burn.4);
    }

    #[test]
    fn fused_conv_relu_pool_matches_burn() {
        // The banded path (few input channels, no input gradient): 64 channels × 64 columns
        // make 16 KB conv rows, so 150 rows are three bands of about 1 MB, and pool windows
        // straddle the band edges.
        check_conv2d_relu_pool([1, 64], [150, 64], [5, 5, 2, 2], 2, false);
        check_conv2d_relu_pool([2, 3], [9, 11], [3, 2, 2, 1], 3, false);
        // The input needs a gradient: the dense path, and the implicit (im2col-free) convs.
        check_conv2d_relu_pool([2, 3], [9, 11], [3, 2, 2, 1], 3, true);
        let c = ops::kernels::IMPLICIT_MIN_CIN;
        check_conv2d_relu_pool([c, 4], [12, 10], [5, 5, 2, 2], 2, true);
        check_conv2d_relu_pool([c, 4], [12, 10], [5, 5, 2, 2], 2, false);

        // 1D: one band per item.
        let mut conv = Conv1dConfig::new(1, 8, 5)
            .with_padding(PaddingConfig1d::Same)
            .init(&device());
        conv.weight = Param::from_tensor(random([8, 1, 5], 35).require_grad());
        conv.bias = Some(Param::from_tensor(random([8], 36).require_grad()));
        let pool = MaxPool1dConfig::new(6).with_stride(2).init();
        let x = random([3, 1, 40], 37);
        let run = |own: bool| {
            let y = if own {
                ops::conv1d_relu_pool(&conv, &pool, x.clone())
            } else {
                relu(pool.forward(conv.forward(x.clone())))
            };
            let r = random(y.dims(), 38);
            let grads = (y.clone() * r).sum().backward();
            let gw = conv.weight.val().grad(&grads).unwrap();
            let gb = conv.bias.as_ref().unwrap().val().grad(&grads).unwrap();
            (values(y), values(gw), values(gb))
        };
        let (ours, burn) = (run(true), run(false));
        assert_close("conv1d+relu+pool forward", &ours.0, &burn.0);
        assert_close("conv1d+relu+pool dw", &ours.1, &burn.1);
        assert_close("conv1d+relu+pool db", &ours.2, &burn.2);
    }

    #[test]
    fn fused_kernels_agree_with_the_separate_ones_and_the_thread_count() {
        // Same indices and values as conv then pool; the weight gradient summed in fixed parts,
        // so 1 and 3 threads give the same bits.
        use ops::kernels::{self as k, ConvGeom, PoolGeom};
        let g = ConvGeom {
            batch: 11,
            cin: 2,
            h: 40,
            w: 30,
            cout: 96,
            kh: 5,
            kw: 5,
            pad: [2, 2, 2, 2],
        };
        let p = PoolGeom {
            batch: g.batch,
            c: g.cout,
            h: g.ho(),
            w: g.wo(),
            kh: 5,
            kw: 5,
            sh: 2,
            sw: 2,
        };
        let data = |n: usize, seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0 - 1.0)
                .collect()
        };
        let x = data(g.batch * g.h * g.w * g.cin, 1);
        let wm = data(g.k() * g.cout, 2);
        let bias = data(g.cout, 3);
        let conv = k::conv_forward(&x, &g, &wm, Some(&bias));
        let (y, idx) = k::pool_forward(&conv, &p, true);
        let dp = data(y.len(), 4);
        let dw = k::conv_weight_grad(&x, &g, &k::pool_backward(&dp, &idx, &p));
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let (fy, fidx) = ops::fused::forward(&x, &g, &p, &wm, &bias);
                let fdw = ops::fused::weight_grad(&x, &g, &p, &dp, &fidx);
                (fy, fidx, fdw)
            })
        };
        let (one, three) = (run(1), run(3));
        assert!(ops::fused::banded(&g));
        assert_eq!(one.1, idx, "indices");
        assert_close("fused forward", &one.0, &y);
        assert_close("fused weight gradient", &one.2, &dw);
        assert_eq!(one, three, "1 vs 3 threads");
        let dense = k::bias_grad(&k::pool_backward(&dp, &idx, &p), g.cout);
        assert_close(
            "pooled bias gradient",
            &k::pooled_bias_grad(&dp, &idx, g.cout),
            &dense,
        );
    }

    #[test]
    fn inference_device_uses_the_same_kernels() {
        let d = Device::flex();
        let mut conv = Conv1dConfig::new(2, 3, 5)
            .with_padding(PaddingConfig1d::Same)
            .init(&d);
        conv.weight = Param::from_tensor(random([3, 2, 5], 20).inner());
        conv.bias = Some(Param::from_tensor(random([3], 21).inner()));
        let x = random([2, 2, 10], 22).inner();
        assert_close(
            "conv1d without autodiff",
            &values(ops::conv1d(&conv, x.clone())),
            &values(conv.forward(x)),
        );
    }
}
