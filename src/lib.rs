//! `ser`: speech emotion recognition experiments, from audio files to comparison tables.
//!
//! The modules follow the data's path, declared here bottom-up: a module uses only modules
//! declared above it (`tests/layers.rs` checks), and the bottom layer, [`base`], uses nothing
//! else of ours.
//!
//! | stage | module | owns |
//! |---|---|---|
//! | bottom layer | [`base`] | errors and exit codes, atomic writes, hashes, devices, progress bars |
//! | configuration | [`config`] | the typed TOML sections every stage reads |
//! | audio | [`audio`] | decoding (symphonia), mono mix, resampling (rubato), fixed length |
//! | arrays | [`npy`] | `.npy` reading and writing |
//! | features | [`features`] | ZCR, RMS, energy, mel spectrogram, `power_to_db`, MFCC (librosa-exact); many files on CPU or GPU |
//! | corpora | [`corpus`] | CREMA-D, EmoDB, CSV manifests, the synthetic default corpus, checks, CREMA-D's download |
//! | splits | [`split`] | random (stratified), speaker / sentence / speaker+sentence-disjoint, speaker k-fold; what the parts share |
//! | cache | [`cache`] | features extracted once per (files, audio, features) and stored as `.npy` |
//! | model | [`model`] | the report's 1D and 2D CNNs (Burn), shape checks, Keras-like summary |
//! | evaluation | [`eval`] | accuracy, F1s, per-class report, confusion matrices, epoch records |
//! | figures | [`plot`] | clip figure, training curves, confusion matrices, charts |
//! | run directory | [`rundir`] | one run's files: names, writers and readers; job state and lock |
//! | training | [`train`] | Adam on cross-entropy, seeded, checkpointed every epoch, exact resume |
//! | inference | [`infer`] | a trained model applied: re-evaluation, prediction for files |
//! | job | [`job`] | one resolved config → one trained and evaluated run directory |
//! | experiment | [`experiment`] | the experiment file: grid → jobs with stable ids, `[report]` layout |
//! | runner | [`runner`] | an experiment's jobs run resumably, N at a time, under locks |
//! | report | [`report`] | results folders → comparison tables (mean ± std over seeds), charts, HTML |
//! | benchmarks | [`bench`](mod@bench) | speed against the report's own stack, measured in the same run |
//! | command line | [`cli`] | flags mapped onto the calls above; prints |

pub mod base;
pub mod config;
pub mod audio;
pub mod npy;
pub mod features;
pub mod corpus;
pub mod split;
pub mod cache;
pub mod model;
pub mod eval;
pub mod plot;
pub mod rundir;
pub mod train;
pub mod infer;
pub mod job;
pub mod experiment;
pub mod runner;
pub mod report;
pub mod bench;
pub mod cli;

pub use base::{Error, Result};
pub use config::{
    AudioConfig, Config, CorpusKind, DataConfig, FeatureConfig, FeatureKind, SplitConfig, SplitKind,
};
