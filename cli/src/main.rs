use clap::Parser;
use std::process::ExitCode;

#[cfg(unix)]
unsafe extern "C" {
    fn signal(signum: std::ffi::c_int, handler: usize) -> usize;
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes away (`dekit graph | head`)
    // instead of panicking on the failed write: Rust ignores SIGPIPE by default.
    #[cfg(unix)]
    unsafe {
        const SIGPIPE: std::ffi::c_int = 13;
        const SIG_DFL: usize = 0;
        signal(SIGPIPE, SIG_DFL);
    }
    dekit::commands::run(dekit::commands::Cli::parse())
}
