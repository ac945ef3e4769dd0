//! `dekit step FILE --event JSON`: one invocation of the deployed pipeline's step
//! runtime, as the state machine makes it on Lambda (`run::deployed`), against a stack file;
//! prints the answer as JSON. To try or debug a deployed step where the stack file is.

use super::StackArgs;
use crate::deploy;
use crate::run::deployed::{Event, handle};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The invocation's payload, as the state machine sends it:
    /// `{"action": "step", "step": "ingest.shop_tables", "execution": "...", "started": "..."}`.
    #[arg(long)]
    pub event: String,
    /// Rows a load may send to the error prefix before its step fails.
    #[arg(long, default_value_t = 0)]
    pub max_bad_rows: u64,
}

pub fn run(a: Args) -> ExitCode {
    let event: Event = match serde_json::from_str(&a.event) {
        Ok(e) => e,
        Err(e) => {
            return super::fail(&format!(
                "--event: not an invocation of the step runtime: {e}"
            ));
        }
    };
    let Some(checked) = super::checked_or_json(&a.stack.file, a.stack.env.as_deref(), true) else {
        return ExitCode::FAILURE;
    };
    let result = crate::runtime::block_on(async move {
        let d = deploy::open(checked, false).await?;
        let ctx = crate::run::deployed::runtime(crate::run::Ctx::new(
            d.checked,
            d.graph,
            d.clients,
            a.max_bad_rows,
        ));
        handle(&ctx, &event).await
    });
    match result {
        Ok(answer) => {
            println!(
                "{}",
                serde_json::to_string(&answer).expect("answer serializes")
            );
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(&e),
    }
}
