//! `dekit diff FILE REF [REF2]`: the stack's components added, removed and changed between two
//! git revisions (REF2 default: the working tree), with the fields that changed — a model whose
//! SQL file changed shows `sql_text`. Not a text diff: reordering or reformatting changes nothing.

use crate::load;
use crate::revision::{self, Kind};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stack file.
    pub file: PathBuf,
    /// The revision to compare from (`HEAD~1`, `main`, a commit).
    pub from: String,
    /// The revision to compare to; default the working tree.
    pub to: Option<String>,
    /// Environment to load both with.
    #[arg(long, short)]
    pub env: Option<String>,
    /// Print the changes as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> ExitCode {
    let old = match revision::load_at(&a.file, &a.from, a.env.as_deref()) {
        Ok(x) => x,
        Err(e) => return super::fail(&e),
    };
    let new = match &a.to {
        Some(rev) => match revision::load_at(&a.file, rev, a.env.as_deref()) {
            Ok((l, c)) => (l, Some(c)),
            Err(e) => return super::fail(&e),
        },
        None => match load::load_file(&a.file, a.env.as_deref()) {
            Ok((l, _)) => (l, None),
            Err((_, r)) => {
                return super::fail(&format!(
                    "{} does not load: {}",
                    a.file.display(),
                    r.diags
                        .iter()
                        .map(|d| d.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
        },
    };
    let changes = revision::diff(&revision::components(&old.0), &revision::components(&new.0));
    let to = a.to.as_deref().unwrap_or("the working tree");
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "from": a.from, "to": to, "changes": changes
            }))
            .expect("changes serialize")
        );
        return ExitCode::SUCCESS;
    }
    println!("dekit diff {}: {} → {to}", a.file.display(), a.from);
    for c in &changes {
        let mark = match c.kind {
            Kind::Added => "+",
            Kind::Removed => "-",
            Kind::Changed => "~",
        };
        if c.fields.is_empty() {
            println!("  {mark} {}", c.component);
        } else {
            println!("  {mark} {}: {}", c.component, c.fields.join(", "));
        }
    }
    let n = |k: Kind| changes.iter().filter(|c| c.kind == k).count();
    println!(
        "{} components: {} added, {} removed, {} changed",
        changes.len(),
        n(Kind::Added),
        n(Kind::Removed),
        n(Kind::Changed)
    );
    ExitCode::SUCCESS
}
