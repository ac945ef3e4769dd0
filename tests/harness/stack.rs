//! A deployable copy of `stacks/retail` for integration tests, renamed to a test's scope so tests
//! run side by side in one local cloud, with its own database on the local PostgreSQL.

use super::Scope;
use crate::common;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A copy of `stacks/retail` renamed to the scope's prefix, in a temporary directory.
pub struct Stack {
    pub dir: PathBuf,
    pub name: String,
    /// A simulated clock for tests that must hold on any day: the instant it showed when set, and
    /// when that was. Each command gets `DEKIT_NOW` as that instant plus the real time since, so
    /// the simulated time runs forward across commands as it does across real ones (a fixed
    /// `DEKIT_NOW` for every command would give a later run an earlier run id).
    now: Option<(chrono::DateTime<chrono::Utc>, std::time::Instant)>,
}

impl Stack {
    /// The stack with dekit's clock started at `now` (RFC 3339) in every command it runs.
    pub fn at(scope: &Scope, now: &str) -> Stack {
        let mut s = Stack::new(scope);
        s.set_now(now);
        s
    }

    /// Set the simulated clock to `now` (RFC 3339); it runs forward from there.
    pub fn set_now(&mut self, now: &str) {
        let at = chrono::DateTime::parse_from_rfc3339(now)
            .unwrap_or_else(|e| panic!("{now}: {e}"))
            .with_timezone(&chrono::Utc);
        self.now = Some((at, std::time::Instant::now()));
    }

    /// `DEKIT_NOW` for a command starting now, when the clock is simulated.
    fn now_env(&self) -> Option<(&'static str, String)> {
        self.now.map(|(at, since)| {
            let t = at + chrono::Duration::from_std(since.elapsed()).unwrap();
            (
                "DEKIT_NOW",
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
        })
    }

    pub fn new(scope: &Scope) -> Stack {
        let name = scope.prefix.trim_end_matches('-').to_string();
        let dir = std::env::temp_dir().join(format!("dekit-engine-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        common::copy_dir(&common::repo_root().join("stacks/retail"), &dir);
        let _ = std::fs::remove_dir_all(dir.join(".dekit"));
        let s = Stack {
            dir,
            name,
            now: None,
        };
        s.edit(|t| {
            t.replace("stack: retail\n", &format!("stack: {}\n", s.name))
                .replace(
                    "lake_bucket: dekit-${stack}-${environment}-lake",
                    "lake_bucket: ${stack}-${environment}-lake",
                )
                .replace(
                    "database: retail_${environment}",
                    "database: ${stack}_${environment}",
                )
                .replace(
                    "    database: shop\n",
                    &format!("    database: {}\n", s.db()),
                )
        });
        s
    }

    /// Its source database on the local PostgreSQL (dropped with the stack).
    pub fn db(&self) -> String {
        format!("{}_shop", self.name)
    }

    /// Run SQL in its source database.
    pub fn sql(&self, sql: &str) {
        let c = dekit::run::sources::local_conn("test", &self.db()).unwrap();
        super::cloud()
            .rt
            .block_on(async {
                let client = dekit::run::sources::connect(&c, None).await?;
                client
                    .batch_execute(sql)
                    .await
                    .map_err(|e| dekit::run::sources::pg_error(&e))
            })
            .unwrap();
    }

    pub fn file(&self) -> String {
        self.dir.join("stack.yaml").to_string_lossy().into_owned()
    }

    pub fn edit(&self, f: impl FnOnce(String) -> String) {
        let p = self.dir.join("stack.yaml");
        let text = std::fs::read_to_string(&p).unwrap();
        let new = f(text.clone());
        assert_ne!(text, new, "the edit changed nothing");
        std::fs::write(p, new).unwrap();
    }

    /// Run dekit on this stack. apply and destroy get `--auto-approve`, as in CI (without a
    /// terminal they refuse otherwise; `raw` runs exactly the arguments given).
    pub fn dekit(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        if matches!(args[0], "apply" | "destroy") {
            all.push("--auto-approve");
        }
        self.raw(&all)
    }

    pub fn raw(&self, args: &[&str]) -> Output {
        self.raw_env(args, &[])
    }

    /// `raw` with extra environment variables.
    pub fn raw_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut all = args.to_vec();
        let file = self.file();
        all.insert(if args[0] == "state" { 2 } else { 1 }, &file);
        Command::new(env!("CARGO_BIN_EXE_dekit"))
            .args(&all)
            .envs(self.now_env())
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// `dekit query SQL --format json`: one JSON object per row.
    pub fn query(&self, sql: &str) -> Vec<Value> {
        let o = self.raw(&["query", sql, "--format", "json"]);
        assert!(
            o.status.success(),
            "query {sql} failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.dekit(args);
        assert!(
            o.status.success(),
            "dekit {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// The nodes of the stack's graph that are AWS resources (from `dekit graph --format json`).
    pub fn resources(&self) -> Vec<Value> {
        let graph: Value = serde_json::from_str(&self.ok(&["graph", "--format", "json"])).unwrap();
        graph["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["category"] == "resource")
            .cloned()
            .collect()
    }

    pub fn plan_json(&self) -> Value {
        serde_json::from_str(&self.ok(&["plan", "--json"])).unwrap()
    }

    pub fn assert_converged(&self) {
        let o = self.dekit(&["plan", "--detailed-exitcode"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "plan is not empty:\n{}",
            String::from_utf8_lossy(&o.stdout)
        );
        // Converged also means nothing differs from the state: dekit's own git stamps are no drift.
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            !text.contains("changed outside of dekit"),
            "a converged plan notes drift:\n{text}"
        );
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let (Some(c), Ok(conn)) = (
            super::CLOUD.get(),
            dekit::run::sources::local_conn("test", "postgres"),
        ) {
            let db = self.db();
            let dropped: Result<(), String> = c.rt.block_on(async {
                let client = dekit::run::sources::connect(&conn, None).await?;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                    .await
                    .map_err(|e| dekit::run::sources::pg_error(&e))
            });
            if let Err(e) = dropped
                && !std::thread::panicking()
            {
                panic!("dropping the test database {db}: {e}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
