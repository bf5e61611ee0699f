//! The bottom layer: what every stage may use and what uses nothing else of ours.
//!
//! - [`error`]: the one [`Error`] type, exit codes, panics turned into errors;
//! - [`atomic`]: files and folders written whole or not at all (temporary + rename);
//! - [`csv`]: CSV fields split and quoted (and kept from running as spreadsheet formulas);
//! - [`paths`]: whether a path named by data (a manifest row, a link) stays inside its root;
//! - [`hash`]: content hashes and the short hex ids made of them, file checksums;
//! - [`interrupt`]: SIGINT / SIGTERM recorded, for loops to stop at their next step;
//! - [`device`]: backend choice (flex / wgpu), the shared wgpu runtime, buffer caps, waiting for
//!   a device, allocator tuning;
//! - [`progress`]: progress bars and log output that do not tear each other;
//! - [`slurm`]: the Slurm job a process runs in, and the queue.
//!
//! Nothing in here imports a module of `ser` outside `base` (`tests/layers.rs` checks).

pub mod atomic;
pub mod csv;
pub mod device;
pub mod error;
pub mod hash;
pub mod interrupt;
pub mod paths;
pub mod progress;
pub mod slurm;

pub use error::{Error, Result};
