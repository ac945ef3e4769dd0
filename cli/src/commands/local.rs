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
        /// Then print the engine and each service's answer as JSON (script output to stderr).
        #[arg(long)]
        json: bool,
    },
    /// Stop it, child processes too (SIGTERM, then SIGKILL after a timeout).
    Stop {
        /// Print `{"ok": ...}` as JSON (script output to stderr).
        #[arg(long)]
        json: bool,
    },
    /// Stop, then start: a fresh local cloud (e.g. before benchmarks).
    Restart {
        #[arg(long, value_enum)]
        engine: Option<Engine>,
        /// As for `start`.
        #[arg(long)]
        json: bool,
    },
    /// Process state, and one API call per service through dekit's client factory.
    Status {
        /// The engine and each service's answer as JSON (process state to stderr).
        #[arg(long)]
        json: bool,
    },
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
    let script = |json: bool, command: &str, args: &[&str]| {
        if json {
            local::run_to_stderr(command, args)
        } else {
            local::run(command, args)
        }
    };
    let (result, json, report) = match a.action {
        Action::Start { engine, json } => (script(json, "start", &engine_args(engine)), json, json),
        Action::Stop { json } => (script(json, "stop", &[]), json, false),
        Action::Restart { engine, json } => {
            (script(json, "restart", &engine_args(engine)), json, json)
        }
        Action::Logs { follow } => (
            local::run("logs", if follow { &["-f"] } else { &[] }),
            false,
            false,
        ),
        Action::Status { json } => (script(json, "status", &[]), json, true),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: cannot run the local cloud script (is bash installed?): {e}");
            return ExitCode::FAILURE;
        }
    };
    // For status (and start/restart in JSON): one API call per service, as text or in the document.
    let services = report.then(|| crate::runtime::block_on(status(json)));
    let ok = code == 0 && services.as_ref().is_none_or(|s| s.0);
    if json {
        let mut doc = serde_json::json!({ "ok": ok, "script_exit_code": code });
        if let Some((_, s)) = services {
            doc.as_object_mut().expect("object").extend(s);
        }
        println!("{doc:#}");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Whether every service answered, and for JSON the engine and the answers.
async fn status(json: bool) -> (bool, serde_json::Map<String, serde_json::Value>) {
    let mut doc = serde_json::Map::new();
    let wanted = Target::local_default();
    let engine = match local::ensure_up(&wanted, false).await {
        Ok(Some(e)) => e,
        _ => {
            if !json {
                println!("services: the local cloud does not answer");
            }
            doc.insert("engine".into(), serde_json::Value::Null);
            doc.insert("services".into(), serde_json::json!([]));
            return (false, doc);
        }
    };
    if !json {
        println!("engine: {}", engine.as_str());
        println!("services (one API call each):");
    }
    let clients = Clients::connect(&Target::local(engine)).await;
    let mut ok = true;
    let mut services = vec![];
    for (service, endpoint, result) in local::probe(&clients).await {
        ok &= result.is_ok();
        if !json {
            match &result {
                Ok(detail) => println!("  {service:10} ok      {endpoint:24} {detail}"),
                Err(e) => println!("  {service:10} FAILED  {endpoint:24} {e}"),
            }
        }
        services.push(match result {
            Ok(detail) => serde_json::json!({
                "service": service, "endpoint": endpoint, "ok": true, "detail": detail,
            }),
            Err(e) => serde_json::json!({
                "service": service, "endpoint": endpoint, "ok": false, "error": e,
            }),
        });
    }
    doc.insert("engine".into(), engine.as_str().into());
    doc.insert("services".into(), services.into());
    (ok, doc)
}
