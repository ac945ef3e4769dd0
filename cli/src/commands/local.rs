//! `dekit local start|stop|restart|status|logs`: the local cloud on loopback, MiniStack (default)
//! or LocalStack + moto.

use crate::cloud::{Clients, Target, local};
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Engine {
    Ministack,
    Localstack,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Install (first time) and start the local cloud; waits until it is healthy.
    Start {
        /// The engine (default: `DEKIT_LOCAL_ENGINE`, else ministack).
        #[arg(long, value_enum)]
        engine: Option<Engine>,
    },
    /// Stop it, child processes too (SIGTERM, then SIGKILL after a timeout).
    Stop,
    /// Stop, then start: a fresh local cloud (e.g. before benchmarks).
    Restart {
        #[arg(long, value_enum)]
        engine: Option<Engine>,
    },
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
    let engine_args = |e: Option<Engine>| match e {
        Some(Engine::Ministack) => vec!["--engine", "ministack"],
        Some(Engine::Localstack) => vec!["--engine", "localstack"],
        None => vec![],
    };
    let result = match a.action {
        Action::Start { engine } => local::run("start", &engine_args(engine)),
        Action::Stop => local::run("stop", &[]),
        Action::Restart { engine } => local::run("restart", &engine_args(engine)),
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
    let wanted = Target::local_default();
    let engine = match local::ensure_up(&wanted, false).await {
        Ok(Some(e)) => e,
        _ => {
            println!("services: the local cloud does not answer");
            return false;
        }
    };
    println!("engine: {}", engine.as_str());
    let clients = Clients::connect(&Target::local(engine)).await;
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
