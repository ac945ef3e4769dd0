//! `dekit ci init --provider github|gitlab --stack FILE`: write the CI/CD pipeline for a stack
//! (see `crate::ci`), refusing to overwrite one unless `--force`.

use crate::ci::{self, Options, Provider};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(clap::Subcommand, Debug)]
pub enum Sub {
    /// Render the pipeline file for a stack into the repository.
    Init(Init),
}

#[derive(clap::Args, Debug)]
pub struct Init {
    #[arg(long, value_enum)]
    pub provider: Provider,
    /// The stack file, as the pipeline will name it (relative to the repository's root).
    #[arg(long)]
    pub stack: PathBuf,
    /// The AWS environment to plan and deploy (default: the stack's first `target: aws`).
    #[arg(long)]
    pub env: Option<String>,
    /// The local environment for the ephemeral local cloud (default: the first `target: local`).
    #[arg(long)]
    pub local_env: Option<String>,
    /// The branch that deploys.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// The repository's root, where the file is written.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite an existing pipeline file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: Args) -> ExitCode {
    let Sub::Init(a) = a.command;
    let Some(checked) = super::checked_or_json(&a.dir.join(&a.stack), None, false) else {
        return ExitCode::FAILURE;
    };
    let s = &checked.loaded.stack;
    let pick = |want: crate::model::Target, given: &Option<String>| -> Result<String, String> {
        let shown = if want == crate::model::Target::Aws {
            "aws"
        } else {
            "local"
        };
        if let Some(g) = given {
            return match s.environments.get(g.as_str()) {
                Some(e) if e.target.value == want => Ok(g.clone()),
                Some(_) => Err(format!("environment `{g}` is not `target: {shown}`")),
                None => Err(format!("the stack has no environment `{g}`")),
            };
        }
        s.environments
            .iter()
            .find(|(_, e)| e.target.value == want)
            .map(|(n, _)| n.value.clone())
            .ok_or_else(|| format!("the stack has no `target: {shown}` environment"))
    };
    let (env, local_env) = match (
        pick(crate::model::Target::Aws, &a.env),
        pick(crate::model::Target::Local, &a.local_env),
    ) {
        (Ok(e), Ok(l)) => (e, l),
        (Err(e), _) | (_, Err(e)) => {
            return super::fail(&e);
        }
    };
    let region = s
        .environments
        .get(env.as_str())
        .and_then(|e| e.region.as_ref().map(|r| r.value.clone()))
        .unwrap_or_else(|| "us-east-1".into());
    let opts = Options {
        stack: a.stack.to_string_lossy().into_owned(),
        env,
        local_env,
        region,
        branch: a.branch.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let (rel, text) = ci::render(a.provider, &opts);
    let path = a.dir.join(&rel);
    if path.exists() && !a.force {
        return super::fail(&format!(
            "{} exists: pass --force to overwrite it",
            path.display()
        ));
    }
    if let Some(p) = path.parent()
        && let Err(e) = std::fs::create_dir_all(p)
    {
        return super::fail(&format!("{}: {e}", p.display()));
    }
    if let Err(e) = std::fs::write(&path, text) {
        return super::fail(&format!("{}: {e}", path.display()));
    }
    println!(
        "Wrote {}: pull requests validate and plan `{}` and run the stack on a local cloud (`{}`); {} deploys.",
        path.display(),
        opts.env,
        opts.local_env,
        opts.branch
    );
    ExitCode::SUCCESS
}
