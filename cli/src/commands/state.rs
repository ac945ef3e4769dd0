//! `dekit state list|show|rm`: inspect and edit the recorded state.

use super::StackArgs;
use crate::deploy;
use crate::state::Backend;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Addresses of all recorded resources.
    List(StackArgs),
    /// One resource's recorded attributes, as JSON.
    Show {
        #[command(flatten)]
        stack: StackArgs,
        address: String,
    },
    /// Forget a resource (it stays in AWS, unmanaged).
    Rm {
        #[command(flatten)]
        stack: StackArgs,
        address: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

fn open(stack: &StackArgs) -> Result<(Backend, crate::state::State), String> {
    let checked =
        super::checked(&stack.file, stack.env.as_deref()).ok_or("the stack has errors")?;
    super::block_on(async {
        let clients =
            crate::cloud::Clients::connect(&crate::cloud::Target::from_env(&checked.loaded)).await;
        let backend = deploy::backend(&checked, &clients);
        let state = backend
            .load(&checked.loaded.stack.stack.value, &checked.loaded.env_name)
            .await
            .map_err(|e| e.to_string())?;
        Ok((backend, state))
    })
}

pub fn run(a: Args) -> ExitCode {
    let result = match a.action {
        Action::List(stack) => open(&stack).map(|(_, s)| {
            for addr in s.resources.keys() {
                println!("{addr}");
            }
        }),
        Action::Show { stack, address } => {
            open(&stack).and_then(|(_, s)| match s.resources.get(&address) {
                Some(r) => {
                    println!("{}", serde_json::to_string_pretty(r).expect("serializes"));
                    Ok(())
                }
                None => Err(format!("no resource `{address}` in state")),
            })
        }
        Action::Rm { stack, address } => open(&stack).and_then(|(b, s)| {
            super::block_on(async {
                let lock = b.lock("state rm").await.map_err(|e| e.to_string())?;
                // Re-read under the lock: another run may have written since.
                let result = async {
                    let mut s = b
                        .load(&s.stack, &s.environment)
                        .await
                        .map_err(|e| e.to_string())?;
                    if s.resources.remove(&address).is_none() {
                        return Err(format!("no resource `{address}` in state"));
                    }
                    b.save(&mut s).await.map_err(|e| e.to_string())?;
                    println!("removed {address} from state (the resource itself is untouched)");
                    Ok(())
                }
                .await;
                let _ = b.unlock(&lock.id).await;
                result
            })
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(&e),
    }
}
