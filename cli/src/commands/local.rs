//! `dekit local start|stop|restart|status|logs`: the local cloud (LocalStack + moto) on loopback.

use crate::cloud::{Clients, Target, local};
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Install (first time) and start LocalStack and moto; waits until both are healthy.
    Start,
    /// Stop both, their child processes too (SIGTERM, then SIGKILL after a timeout).
    Stop,
    /// Stop, then start: a fresh local cloud (e.g. before benchmarks).
    Restart,
    /// Process state, and one API call per service through dekit's client factory.
    Status,
    /// The last lines of both logs.
    Logs {
        /// Keep following the logs.
        #[arg(short, long)]
        follow: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

pub fn run(a: Args) -> ExitCode {
    let result = match a.action {
        Action::Start => local::run("start", &[]),
        Action::Stop => local::run("stop", &[]),
        Action::Restart => local::run("restart", &[]),
        Action::Logs { follow } => local::run("logs", if follow { &["-f"] } else { &[] }),
        Action::Status => {
            let procs = local::run("status", &[]);
            let services = super::block_on(status());
            return match (procs, services) {
                (Ok(0), true) => ExitCode::SUCCESS,
                (Err(e), _) => {
                    eprintln!("error: cannot run the local cloud script: {e}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::FAILURE,
            };
        }
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: cannot run the local cloud script (is bash installed?): {e}");
            ExitCode::FAILURE
        }
    }
}

async fn status() -> bool {
    let clients = Clients::connect(&Target::local_default()).await;
    let mut ok = true;
    println!("services (one API call each):");
    for (service, endpoint, result) in local::probe(&clients).await {
        match result {
            Ok(detail) => println!("  {service:10} ok      {endpoint:24} {detail}"),
            Err(e) => {
                ok = false;
                println!("  {service:10} FAILED  {endpoint:24} {e}");
            }
        }
    }
    ok
}
