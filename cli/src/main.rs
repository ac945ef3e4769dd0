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
    // As Lambda starts a custom runtime: `bootstrap`, no arguments, the Runtime API's address set.
    if std::env::args_os().len() == 1 {
        dekit::settings::init(dekit::settings::Settings::from_env());
        if let Some(api) = &dekit::settings::get().lambda_runtime_api {
            return dekit::commands::lambda::serve(api);
        }
    }
    dekit::commands::run(dekit::commands::Cli::parse())
}
