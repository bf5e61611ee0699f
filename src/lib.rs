//! `ser`: speech emotion recognition experiments, from audio files to comparison tables.
//!
//! The modules follow the data's path:
//!
//! | stage | module | owns |
//! |---|---|---|
//! | audio | [`audio`] | decoding (symphonia), mono mix, resampling (rubato), fixed length |
//! | features | [`features`] | ZCR, RMS, energy, mel spectrogram, `power_to_db`, MFCC (librosa-exact) |
//! | corpora | [`corpus`] | CREMA-D, EmoDB, CSV manifests, the synthetic default corpus, checks |
//! | splits | [`split`] | random (stratified), speaker-disjoint, speaker k-fold |
//! | cache | [`cache`] | features extracted once per (files, audio, features) and stored as `.npy` |
//! | model | [`model`] | the report's 1D and 2D CNNs (Burn), shape checks, Keras-like summary |
//! | training | [`train`] | Adam on cross-entropy, seeded, checkpointed every epoch, exact resume |
//! | evaluation | [`eval`] | accuracy, F1s, per-class report, confusion matrices |
//! | job | [`job`] | one resolved config → one trained and evaluated run directory |
//! | inference | [`infer`] | a finished run re-evaluated (own test split, other corpora) or applied to files |
//! | runner | [`runner`] | experiment grids → jobs with stable ids, resumable sweeps, locks |
//! | report | [`report`] | a results folder → comparison tables (mean ± std over seeds) |
//!
//! The `ser` binary is a thin layer over these ([`cli`]).

pub mod audio;
pub mod bench;
pub mod cache;
pub mod cli;
pub mod config;
pub mod corpus;
pub mod error;
pub mod eval;
pub mod features;
pub mod infer;
pub mod job;
pub mod model;
pub mod npy;
pub mod plot;
pub mod progress;
pub mod report;
pub mod runner;
pub mod split;
pub mod train;

pub use config::{
    AudioConfig, Config, CorpusKind, DataConfig, FeatureConfig, FeatureKind, SplitConfig, SplitKind,
};
pub use error::{Error, Result};
