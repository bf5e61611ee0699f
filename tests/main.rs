//! Integration tests, one module per stage, linked into one binary.
//!
//! Tests that need `../shared` (real EmoDB clips, librosa parity files, CREMA-D metadata) skip
//! with a message saying so when it is absent.

mod audio;
mod augment;
mod cli;
mod common;
mod corpus;
mod faults;
mod fetch;
mod fuzz;
#[cfg(feature = "wgpu")]
mod gpu;
mod infer;
mod layers;
mod limits;
mod model;
mod parity;
mod reliability;
mod plot;
mod report;
mod runner;
mod security;
mod slurm;
mod split;
mod synth;
mod train;
