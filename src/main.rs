use std::process::ExitCode;

fn main() -> ExitCode {
    ser::cli::main(std::env::args_os())
}
