//! `dekit run FILE`: execute the pipeline steps (sources, ingestion, transforms, serving) in
//! dependency order, print a summary, and leave a run manifest in the lake.

use super::StackArgs;
use crate::deploy;
use crate::records::{Manifest, Status, StepRecord};
use crate::run::{self, Ctx, Options, Reporter, Running};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Steps to run, like dbt: `NAME`, `NAME+` (and downstream), `+NAME` (and upstream).
    /// Repeatable; default every step.
    #[arg(long, short)]
    pub select: Vec<String>,
    /// Steps running at once.
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
    /// Rows a load may send to the error prefix before its step fails.
    #[arg(long, default_value_t = 0)]
    pub max_bad_rows: u64,
    /// Run again only the steps that did not succeed in run RUN.
    #[arg(long, value_name = "RUN")]
    pub resume: Option<String>,
    /// Print the run manifest as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Rebuild the selected models even when their SQL and inputs are unchanged.
    #[arg(long)]
    pub full_refresh: bool,
    #[arg(long)]
    pub start_local: bool,
    /// Only the steps whose stack section or SQL file changed since git revision REF, and
    /// everything downstream of them.
    #[arg(long, value_name = "REF")]
    pub since: Option<String>,
    /// Start an execution of the deployed pipeline (`orchestration:`) and follow it, instead of
    /// running the steps here.
    /// With `--resume RUN`, the execution runs only what did not succeed in run RUN.
    #[arg(long, conflicts_with_all = ["select", "since", "full_refresh"])]
    pub deployed: bool,
}

/// Plain lines (CI, pipes): a line per start and end, progress every 5 s. On a terminal, the
/// running steps are also drawn as live bars below the lines, redrawn twice a second.
struct Lines {
    terminal: bool,
    /// Bar lines drawn last, to clear before anything else is printed.
    drawn: std::sync::Mutex<usize>,
}

impl Lines {
    fn new() -> Lines {
        use std::io::IsTerminal;
        Lines {
            terminal: std::io::stderr().is_terminal(),
            drawn: std::sync::Mutex::new(0),
        }
    }

    /// Clear the bars (cursor up, erase down), then print `line`.
    fn say(&self, line: &str) {
        let mut drawn = self.drawn.lock().expect("not poisoned");
        if *drawn > 0 {
            eprint!("\x1b[{}A\x1b[J", *drawn);
            *drawn = 0;
        }
        eprintln!("{line}");
    }
}

fn rate(r: &Running) -> String {
    format!(
        "{} rows, {}, {}/s",
        r.rows,
        size(r.bytes),
        size((r.bytes as f64 / r.secs.max(0.001)) as u64)
    )
}

impl Reporter for Lines {
    fn started(&self, step: &str) {
        self.say(&format!("{step}: started"));
    }
    fn tick(&self) -> std::time::Duration {
        std::time::Duration::from_millis(if self.terminal { 500 } else { 5000 })
    }
    fn progress(&self, running: &[Running]) {
        if !self.terminal {
            for r in running {
                eprintln!("{}: {}", r.step, rate(r));
            }
            return;
        }
        let mut drawn = self.drawn.lock().expect("not poisoned");
        if *drawn > 0 {
            eprint!("\x1b[{}A\x1b[J", *drawn);
        }
        let w = running.iter().map(|r| r.step.len()).max().unwrap_or(0);
        for r in running {
            // No total is known up front: a bar that moves while data does.
            let pos = (r.secs * 2.0) as usize % 20;
            let bar: String = (0..20).map(|i| if i == pos { '█' } else { '·' }).collect();
            eprintln!("{:<w$}  {bar}  {}  {:.0}s", r.step, rate(r), r.secs);
        }
        *drawn = running.len();
    }
    fn finished(&self, r: &StepRecord) {
        match r.status {
            Status::Failed => self.say(&format!(
                "{}: failed: {}",
                r.step,
                r.error.as_deref().unwrap_or_default()
            )),
            Status::Skipped => self.say(&format!(
                "{}: skipped: {}",
                r.step,
                r.error.as_deref().unwrap_or_default()
            )),
            Status::NotRun => {}
            Status::Succeeded => {
                for n in &r.stats.notes {
                    self.say(&format!("{}: note: {n}", r.step));
                }
                self.say(&format!(
                    "{}: done: {} rows, {} objects in {:.1}s",
                    r.step,
                    r.stats.rows,
                    r.stats.objects,
                    r.duration_ms as f64 / 1000.0
                ));
            }
        }
    }
}

fn size(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

pub fn run(a: Args) -> ExitCode {
    let Some(checked) = super::checked_or_json(&a.stack.file, a.stack.env.as_deref(), a.json)
    else {
        return ExitCode::FAILURE;
    };
    let since = a.since.clone();
    let json = a.json;
    let result = crate::runtime::block_on(async move {
        let d = deploy::open(checked, a.start_local).await?;
        if !d.state.resources.contains_key("s3_bucket.lake") {
            return Err(format!(
                "environment `{}` has no lake yet: run `dekit apply` first",
                d.checked.loaded.env_name
            ));
        }
        if a.deployed {
            let resume = a.resume.as_deref();
            return run::deployed::start(d, resume, &Lines::new())
                .await
                .map(Some);
        }
        let mut select = a.select.clone();
        if let Some(rev) = &a.since {
            let changes = crate::revision::since(&d.checked.loaded, rev)?;
            let steps = crate::revision::steps(&changes, &d.graph, &d.checked.loaded.stack);
            if steps.is_empty() {
                return Ok(None);
            }
            eprintln!(
                "since {rev}: {} changed; running {} and everything downstream",
                changes
                    .iter()
                    .map(|c| c.component.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                steps.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            select.extend(steps.iter().map(|s| format!("{s}+")));
        }
        let lineage = crate::lineage::RunLineage::start(&d.checked.loaded, &d.graph);
        let lines = Lines::new();
        let reporter = run::WithLineage {
            inner: &lines,
            lineage: lineage.as_ref(),
        };
        let opts = Options {
            select,
            parallelism: a.parallelism,
            resume: a.resume.clone(),
        };
        let mut ctx = Ctx::new(d.checked, d.graph, d.clients, a.max_bad_rows);
        ctx.full_refresh = a.full_refresh;
        let m = run::run(ctx, opts, &reporter).await;
        if let Some(l) = lineage {
            l.finish(m.as_ref().map_err(String::as_str)).await;
        }
        m.map(Some)
    });
    match result {
        Ok(None) => {
            let rev = since.as_deref().unwrap_or_default();
            if json {
                println!("{}", serde_json::json!({ "since": rev, "steps": [] }));
            } else {
                println!("Nothing to run: no step's stack section or SQL changed since {rev}.");
            }
            ExitCode::SUCCESS
        }
        Ok(Some(m)) => {
            crate::summary::append(&crate::summary::run(&m));
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&m).expect("manifest serializes")
                );
            } else {
                print!("{}", summary(&m));
            }
            if m.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => super::fail(&e),
    }
}

/// The table printed at the end of a run.
pub fn summary(m: &Manifest) -> String {
    let mut out = format!("\nRun {} ({} / {})\n", m.run_id, m.stack, m.environment);
    let w = m
        .steps
        .iter()
        .map(|s| s.step.len())
        .max()
        .unwrap_or(4)
        .max(4);
    out.push_str(&format!(
        "  {:<w$}  {:<9}  {:>10}  {:>10}  {:>7}  {:>5}  {:>7}\n",
        "step", "status", "rows", "bytes", "objects", "bad", "time"
    ));
    for s in &m.steps {
        let status = match s.status {
            Status::Succeeded => "ok",
            Status::Failed => "FAILED",
            Status::Skipped => "skipped",
            Status::NotRun => "not run",
        };
        out.push_str(&format!(
            "  {:<w$}  {:<9}  {:>10}  {:>10}  {:>7}  {:>5}  {:>6.1}s\n",
            s.step,
            status,
            s.stats.rows,
            size(s.stats.bytes),
            s.stats.objects,
            s.stats.bad,
            s.duration_ms as f64 / 1000.0
        ));
    }
    let failed = m
        .steps
        .iter()
        .filter(|s| s.status == Status::Failed)
        .count();
    let not_run = m
        .steps
        .iter()
        .filter(|s| s.status == Status::NotRun)
        .count();
    out.push_str(&format!(
        "Manifest: _dekit/runs/{}.json in the lake. {}{}\n",
        m.run_id,
        if failed > 0 {
            format!(
                "{failed} step(s) failed; `dekit run --resume {}` reruns what did not succeed. ",
                m.run_id
            )
        } else {
            String::new()
        },
        if not_run > 0 {
            format!("{not_run} quality step(s) not run: `dekit test` runs them.")
        } else {
            String::new()
        }
    ));
    out
}
