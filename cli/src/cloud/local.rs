//! The local cloud: dekit carries its own start/stop script and pinned requirements, writes them to
//! the cache directory, and runs them. One local cloud per machine (pid files in the cache).

use super::clients::Clients;
use super::error::from_sdk;
use super::target::Target;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const ASSETS: &[(&str, &str)] = &[
    ("local.sh", include_str!("../../../localstack/local.sh")),
    (
        "requirements-localstack.txt",
        include_str!("../../../localstack/requirements-localstack.txt"),
    ),
    (
        "requirements-moto.txt",
        include_str!("../../../localstack/requirements-moto.txt"),
    ),
];

/// `$DEKIT_CACHE`, default `~/.cache/dekit`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("DEKIT_CACHE") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into()))
            .join(".cache/dekit"),
    }
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

/// Whether something answers HTTP on the endpoint's health path within a short timeout.
pub async fn answers(endpoint: &str, path: &str) -> bool {
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
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Some(true))
    )
}

/// Check the local cloud answers for a local target. The error says how to start it.
pub async fn ensure_up(target: &Target, start: bool) -> Result<(), String> {
    let Target::Local { endpoint, .. } = target else {
        return Ok(());
    };
    let glue = target.endpoint("glue").unwrap_or(endpoint).to_string();
    let up = answers(endpoint, "/_localstack/health").await
        && answers(&glue, "/moto-api/data.json").await;
    if up {
        return Ok(());
    }
    if start {
        let code = tokio::task::spawn_blocking(|| run("start", &[]))
            .await
            .map_err(|e| e.to_string())?;
        return match code {
            Ok(0) => Ok(()),
            Ok(c) => Err(format!("starting the local cloud failed (exit {c})")),
            Err(e) => Err(format!("cannot run the local cloud script: {e}")),
        };
    }
    Err(format!(
        "the local cloud is not running ({endpoint} and {glue} do not answer).\n  Start it with `dekit local start`, or pass `--start-local` (or set `start_local: true` on the environment)."
    ))
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
