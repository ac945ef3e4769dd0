//! `dekit force-unlock FILE ID`: release a state lock whose holder is gone (crashed or killed).

use super::StackArgs;
use crate::deploy;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The lock id, as printed by the run that found the state locked.
    pub id: String,
}

pub fn run(a: Args) -> ExitCode {
    let Some(checked) = super::checked(&a.stack.file, a.stack.env.as_deref()) else {
        return ExitCode::FAILURE;
    };
    let result = crate::runtime::block_on(async {
        // The same opening path as plan and apply: local-cloud check, account guard.
        let d = deploy::open(checked, false).await?;
        d.backend.unlock(&a.id).await.map_err(|e| e.to_string())?;
        println!("released lock {} on {}", a.id, d.backend.describe());
        Ok::<_, String>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(&e),
    }
}
