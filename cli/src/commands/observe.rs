//! `dekit observe FILE`: the platform on one screen (`crate::observe`); `--json` for machines,
//! `--watch SECONDS` to refresh in place, `--html FILE` for a page to share.

use super::StackArgs;
use crate::deploy;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print the snapshot as JSON.
    #[arg(long)]
    pub json: bool,
    /// Refresh every SECONDS until interrupted.
    #[arg(long, value_name = "SECONDS")]
    pub watch: Option<u64>,
    /// Also write the snapshot as one self-contained HTML page (charts, lineage) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
}

pub fn run(a: Args) -> ExitCode {
    let Some(checked) = super::checked_or_json(&a.stack.file, a.stack.env.as_deref(), a.json)
    else {
        return ExitCode::FAILURE;
    };
    let result = crate::runtime::block_on(async move {
        let d = deploy::open(checked, false).await?;
        let lake = crate::lake::Lake::of(&d.checked.loaded, d.clients.clone());
        loop {
            let s = crate::observe::snapshot(&d, &lake).await?;
            if let Some(path) = &a.html {
                std::fs::write(path, crate::observe::html::render(&s))
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
            }
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&s).expect("snapshot serializes")
                );
            } else {
                if a.watch.is_some() {
                    // Clear the screen and draw again from the top.
                    print!("\x1b[2J\x1b[H");
                }
                print!("{}", crate::observe::render(&s));
            }
            match a.watch {
                Some(secs) => tokio::time::sleep(std::time::Duration::from_secs(secs.max(1))).await,
                None => return Ok::<_, String>(()),
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(&e),
    }
}
