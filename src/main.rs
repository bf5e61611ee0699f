use std::process::ExitCode;

/// glibc's allocator hands the large per-step buffers of training back to the OS and page-faults
/// them in again every step; mimalloc keeps them (measured by `ser bench train`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ser::base::device::keep_freed_memory();
    ser::cli::main(std::env::args_os())
}
