use std::ffi::{c_int, c_long};
use std::process::ExitCode;

/// glibc's allocator hands the large per-step buffers of training back to the OS and page-faults
/// them in again every step; mimalloc keeps them (measured by `ser bench train`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    /// mimalloc's `mi_option_set` (linked in with the allocator).
    fn mi_option_set(option: c_int, value: c_long);
}

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e`: -1 never returns freed memory to the
/// OS, so a training step's buffers are not page-faulted in again on the next step.
const MI_OPTION_PURGE_DELAY: c_int = 15;

fn main() -> ExitCode {
    // SAFETY: sets a plain option value; mimalloc reads it when it next purges.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    ser::cli::main(std::env::args_os())
}
