//! (stub)

pub mod synth;
