//! What dekit takes from the process environment, in one place and read once: the command layer
//! reads it when a command starts (`commands::run`), the library asks `get()`. Values a stack
//! writes as `${env.NAME}` are not settings but data, resolved when a value is used.
//!
//! | variable | what |
//! |---|---|
//! | `DEKIT_NOW` | start the library's clock at this instant (tests on any day; `clock`) |
//! | `DEKIT_LOCAL_ENGINE` | the local cloud's engine when no `--engine` says: `ministack` (default) or `localstack` |
//! | `DEKIT_LOCAL_PORT` (or `DEKIT_LOCALSTACK_PORT`), `DEKIT_MOTO_PORT` | the local cloud's ports (4566, 5000) |
//! | `DEKIT_CACHE` | venvs and run files of the local cloud (`~/.cache/dekit`) |
//! | `DEKIT_PG_PORT`, `DEKIT_PG_DATA`, `DEKIT_MYSQL_PORT`, `DEKIT_MYSQL_DATA` | the local database servers |
//! | `DEKIT_PART_ROWS` | rows per Parquet part of a load (1,000,000) |
//! | `DEKIT_FAILPOINT` | crash tests: exit at this named point as if killed |
//! | `GITHUB_STEP_SUMMARY` | append Markdown summaries to this file (CI) |
//! | `NO_COLOR` | no colour in plans |
//! | `USER`, `HOME` | who holds a state lock; where the cache is by default |
//! | `AWS_LAMBDA_RUNTIME_API` | set by Lambda: dekit runs as the deployed pipeline's step runtime |
//! | `LAMBDA_TASK_ROOT`, `DEKIT_ENVIRONMENT` | on Lambda: where the function's stack is, and its environment |
//! | `DEKIT_LAMBDA_BINARY` | the binary `apply` deploys as the step runtime (default: this one) |
//! | `OPENLINEAGE_URL`, `OPENLINEAGE_API_KEY`, `OPENLINEAGE_NAMESPACE` | OpenLineage's client convention: where `run` and `test` send lineage events when the stack's `observe.lineage` says nothing |

use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Debug, Clone)]
pub struct Settings {
    pub now: Option<String>,
    pub local_engine: Option<String>,
    pub local_port: u16,
    pub moto_port: u16,
    pub cache: PathBuf,
    pub pg_port: u16,
    pub pg_data: Option<PathBuf>,
    pub mysql_port: u16,
    pub mysql_data: Option<PathBuf>,
    pub part_rows: usize,
    pub failpoint: Option<String>,
    pub step_summary: Option<PathBuf>,
    pub no_color: bool,
    pub user: Option<String>,
    pub lambda_runtime_api: Option<String>,
    pub lambda_task_root: Option<PathBuf>,
    pub lambda_environment: Option<String>,
    pub lambda_binary: Option<PathBuf>,
    /// The AWS CLI's profile files and the profile chosen by the environment, for errors that
    /// say which profile is missing (the SDK reads them itself).
    pub aws_config_file: PathBuf,
    pub aws_credentials_file: PathBuf,
    pub aws_profile: Option<String>,
    pub openlineage_url: Option<String>,
    pub openlineage_api_key: Option<String>,
    pub openlineage_namespace: Option<String>,
}

impl Settings {
    /// The settings as the process environment gives them, defaults where it says nothing (or
    /// nothing valid: a port that is not a number is the default port).
    pub fn from_env() -> Settings {
        let mut s = Settings::from(|k| std::env::var_os(k));
        // The step runtime `apply` deploys: this very binary unless the environment names one.
        if s.lambda_binary.is_none() {
            s.lambda_binary = std::env::current_exe().ok();
        }
        s
    }

    /// The settings from `var` (the environment, or a table in tests).
    pub fn from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Settings {
        let text = |k: &str| {
            var(k)
                .and_then(|v| v.into_string().ok())
                .filter(|v| !v.is_empty())
        };
        let path = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let port = |k: &str| text(k).and_then(|p| p.parse::<u16>().ok());
        Settings {
            now: text("DEKIT_NOW"),
            local_engine: text("DEKIT_LOCAL_ENGINE"),
            local_port: port("DEKIT_LOCAL_PORT")
                .or_else(|| port("DEKIT_LOCALSTACK_PORT"))
                .unwrap_or(4566),
            moto_port: port("DEKIT_MOTO_PORT").unwrap_or(5000),
            cache: path("DEKIT_CACHE").unwrap_or_else(|| {
                path("HOME")
                    .unwrap_or_else(|| PathBuf::from("."))
                    .join(".cache/dekit")
            }),
            pg_port: port("DEKIT_PG_PORT").unwrap_or(5433),
            pg_data: path("DEKIT_PG_DATA"),
            mysql_port: port("DEKIT_MYSQL_PORT").unwrap_or(3307),
            mysql_data: path("DEKIT_MYSQL_DATA"),
            part_rows: text("DEKIT_PART_ROWS")
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(1_000_000),
            failpoint: text("DEKIT_FAILPOINT"),
            step_summary: path("GITHUB_STEP_SUMMARY"),
            no_color: var("NO_COLOR").is_some(),
            user: text("USER"),
            lambda_runtime_api: text("AWS_LAMBDA_RUNTIME_API"),
            lambda_task_root: path("LAMBDA_TASK_ROOT"),
            lambda_environment: text("DEKIT_ENVIRONMENT"),
            lambda_binary: path("DEKIT_LAMBDA_BINARY"),
            aws_config_file: path("AWS_CONFIG_FILE").unwrap_or_else(|| {
                path("HOME")
                    .unwrap_or_else(|| PathBuf::from("."))
                    .join(".aws/config")
            }),
            aws_credentials_file: path("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| {
                path("HOME")
                    .unwrap_or_else(|| PathBuf::from("."))
                    .join(".aws/credentials")
            }),
            aws_profile: text("AWS_PROFILE"),
            openlineage_url: text("OPENLINEAGE_URL"),
            openlineage_api_key: text("OPENLINEAGE_API_KEY"),
            openlineage_namespace: text("OPENLINEAGE_NAMESPACE"),
        }
    }
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Fix the settings for this process (the command layer, first thing). Later calls change
/// nothing: settings never change under a running command.
pub fn init(s: Settings) {
    let _ = SETTINGS.set(s);
}

/// The process's settings; read from the environment on first use where no command set them
/// (the library used on its own, as the tests do).
pub fn get() -> &'static Settings {
    SETTINGS.get_or_init(Settings::from_env)
}

#[cfg(test)]
mod tests {
    use super::Settings;

    fn with(vars: &[(&str, &str)]) -> Settings {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.into()))
    }

    #[test]
    fn defaults_and_what_the_environment_says() {
        let d = with(&[("HOME", "/home/ana")]);
        assert_eq!((d.local_port, d.moto_port), (4566, 5000));
        assert_eq!(d.cache.to_str(), Some("/home/ana/.cache/dekit"));
        assert_eq!(
            (d.pg_port, d.mysql_port, d.part_rows),
            (5433, 3307, 1_000_000)
        );
        assert!(d.failpoint.is_none() && d.step_summary.is_none() && !d.no_color);
        let s = with(&[
            ("DEKIT_LOCALSTACK_PORT", "4610"),
            ("DEKIT_MOTO_PORT", "5010"),
            ("DEKIT_PART_ROWS", "0"),
            ("DEKIT_FAILPOINT", ""),
            ("NO_COLOR", ""),
            ("DEKIT_PG_PORT", "not-a-port"),
        ]);
        // The older name of the port; 0 rows and a bad port are the defaults; NO_COLOR counts
        // when set at all, an empty failpoint names none.
        assert_eq!((s.local_port, s.moto_port), (4610, 5010));
        assert_eq!((s.part_rows, s.pg_port), (1_000_000, 5433));
        assert!(s.no_color && s.failpoint.is_none());
        let both = with(&[
            ("DEKIT_LOCAL_PORT", "4620"),
            ("DEKIT_LOCALSTACK_PORT", "4610"),
        ]);
        assert_eq!(both.local_port, 4620);
    }
}
