//! The local cloud: dekit carries its own start/stop script and pinned requirements, writes them to
//! the cache directory, and runs them. One local cloud per machine (pid files in the cache).

use super::clients::Clients;
use super::error::from_sdk;
use super::target::Target;
use crate::model::LocalEngine;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const ASSETS: &[(&str, &str)] = &[
    ("local.sh", include_str!("../../../localstack/local.sh")),
    (
        "databases.sh",
        include_str!("../../../localstack/databases.sh"),
    ),
    (
        "requirements-localstack.txt",
        include_str!("../../../localstack/requirements-localstack.txt"),
    ),
    (
        "requirements-moto.txt",
        include_str!("../../../localstack/requirements-moto.txt"),
    ),
    (
        "requirements-ministack.txt",
        include_str!("../../../localstack/requirements-ministack.txt"),
    ),
];

/// `$DEKIT_CACHE`, default `~/.cache/dekit`.
pub fn cache_dir() -> PathBuf {
    crate::settings::get().cache.clone()
}

/// Write the bundled script and requirements (when changed) and return the script's path.
pub fn script() -> std::io::Result<PathBuf> {
    let dir = cache_dir().join("localstack");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in ASSETS {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(*text) {
            // Write then rename: a concurrent reader never sees half a script.
            let tmp = dir.join(format!(".{name}.{}", std::process::id()));
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &path)?;
        }
    }
    Ok(dir.join("local.sh"))
}

/// Run `local.sh <command> [args]` with inherited output; returns its exit code.
pub fn run(command: &str, args: &[&str]) -> std::io::Result<i32> {
    let script = script()?;
    let status = Command::new("bash")
        .arg(&script)
        .arg(command)
        .args(args)
        .status()?;
    Ok(status.code().unwrap_or(1))
}

/// Like [`run`], with the script's output on stderr: stdout is kept for a JSON document.
pub fn run_to_stderr(command: &str, args: &[&str]) -> std::io::Result<i32> {
    let script = script()?;
    let status = Command::new("bash")
        .arg(&script)
        .arg(command)
        .args(args)
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()?;
    Ok(status.code().unwrap_or(1))
}

/// Whether something answers HTTP on the endpoint's health path within a short timeout.
pub async fn answers(endpoint: &str, path: &str, timeout: Duration) -> bool {
    let Some(hostport) = endpoint
        .strip_prefix("http://")
        .map(|h| h.trim_end_matches('/'))
    else {
        return false;
    };
    let probe = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(hostport).await.ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).await.ok()?;
        Some(buf[..n].starts_with(b"HTTP/1.") && buf[..n].windows(3).any(|w| w == b"200"))
    };
    matches!(tokio::time::timeout(timeout, probe).await, Ok(Some(true)))
}

/// The engine answering at `endpoint`, if one does. MiniStack also answers LocalStack's health
/// path, so it is asked first; LocalStack counts only with moto answering beside it.
///
/// A busy local cloud (LocalStack's single process under a test suite) can take seconds to answer
/// a health check, so a silent one is asked again with a longer timeout before it counts as down;
/// nothing listening is known at once (the connection is refused).
pub async fn detect(endpoint: &str, moto: &str) -> Option<LocalEngine> {
    for secs in [2, 5, 10] {
        let t = Duration::from_secs(secs);
        if answers(endpoint, LocalEngine::Ministack.health_path(), t).await {
            return Some(LocalEngine::Ministack);
        }
        if answers(endpoint, LocalEngine::Localstack.health_path(), t).await
            && answers(moto, "/moto-api/data.json", t).await
        {
            return Some(LocalEngine::Localstack);
        }
        if !listening(endpoint).await {
            return None;
        }
    }
    None
}

/// Whether anything accepts connections at the endpoint.
async fn listening(endpoint: &str) -> bool {
    let Some(hostport) = endpoint
        .strip_prefix("http://")
        .map(|h| h.trim_end_matches('/'))
    else {
        return false;
    };
    matches!(
        tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(hostport)
        )
        .await,
        Ok(Ok(_))
    )
}

/// Check the local cloud answers for a local target, starting it when asked to, and return the
/// engine that runs (`None` for AWS targets). An environment that pins one engine refuses the other.
pub async fn ensure_up(target: &Target, start: bool) -> Result<Option<LocalEngine>, String> {
    let Target::Local {
        endpoint,
        engine,
        pinned,
        ..
    } = target
    else {
        return Ok(None);
    };
    let moto = Target::local(LocalEngine::Localstack)
        .endpoint("glue")
        .unwrap_or_default()
        .to_string();
    let moto = target
        .endpoint("glue")
        .filter(|g| g != endpoint)
        .map_or(moto, str::to_string);
    match detect(endpoint, &moto).await {
        Some(running) if *pinned && running != *engine => Err(format!(
            "the environment pins the local cloud's engine to {}, but {} runs at {endpoint}.\n  Switch with `dekit local restart --engine {}`.",
            engine.as_str(),
            running.as_str(),
            engine.as_str()
        )),
        Some(running) => Ok(Some(running)),
        None if start => {
            let e = engine.as_str();
            let code = tokio::task::spawn_blocking(move || run("start", &["--engine", e]))
                .await
                .map_err(|e| e.to_string())?;
            match code {
                Ok(0) => Ok(Some(*engine)),
                Ok(c) => Err(format!("starting the local cloud failed (exit {c})")),
                Err(e) => Err(format!("cannot run the local cloud script: {e}")),
            }
        }
        None => Err(format!(
            "the local cloud is not running (nothing answers at {endpoint}).\n  Start it with `dekit local start`, or pass `--start-local` (or set `start_local: true` on the environment)."
        )),
    }
}

/// One probe per service through the client factory: (service, endpoint, result).
pub async fn probe(clients: &Clients) -> Vec<(&'static str, String, Result<String, String>)> {
    let t = &clients.target;
    let ep = |s: &str| t.endpoint(s).unwrap_or("aws").to_string();
    let (s3, kinesis, firehose, iam, sts, cloudwatch, glue, athena) = tokio::join!(
        clients.s3.list_buckets().send(),
        clients.kinesis.list_streams().send(),
        clients.firehose.list_delivery_streams().send(),
        clients.iam.list_roles().max_items(1).send(),
        clients.sts.get_caller_identity().send(),
        clients.cloudwatch.describe_alarms().max_records(1).send(),
        clients.glue.get_databases().send(),
        clients.athena.list_work_groups().send(),
    );
    vec![
        (
            "s3",
            ep("s3"),
            s3.map(|r| format!("{} buckets", r.buckets().len()))
                .map_err(|e| from_sdk("ListBuckets", "", e).to_string()),
        ),
        (
            "kinesis",
            ep("kinesis"),
            kinesis
                .map(|r| format!("{} streams", r.stream_names().len()))
                .map_err(|e| from_sdk("ListStreams", "", e).to_string()),
        ),
        (
            "firehose",
            ep("firehose"),
            firehose
                .map(|r| format!("{} delivery streams", r.delivery_stream_names().len()))
                .map_err(|e| from_sdk("ListDeliveryStreams", "", e).to_string()),
        ),
        (
            "iam",
            ep("iam"),
            iam.map(|_| "ok".to_string())
                .map_err(|e| from_sdk("ListRoles", "", e).to_string()),
        ),
        (
            "sts",
            ep("sts"),
            sts.map(|r| format!("account {}", r.account().unwrap_or("?")))
                .map_err(|e| from_sdk("GetCallerIdentity", "", e).to_string()),
        ),
        (
            "cloudwatch",
            ep("cloudwatch"),
            cloudwatch
                .map(|_| "ok".to_string())
                .map_err(|e| from_sdk("DescribeAlarms", "", e).to_string()),
        ),
        (
            "glue",
            ep("glue"),
            glue.map(|r| format!("{} databases", r.database_list().len()))
                .map_err(|e| from_sdk("GetDatabases", "", e).to_string()),
        ),
        (
            "athena",
            ep("athena"),
            athena
                .map(|r| format!("{} workgroups", r.work_groups().len()))
                .map_err(|e| from_sdk("ListWorkGroups", "", e).to_string()),
        ),
    ]
}
