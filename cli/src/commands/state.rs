//! `dekit state list|show|rm`: inspect and edit the recorded state.

use super::StackArgs;
use crate::deploy::{self, Deployment};
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Addresses of all recorded resources.
    List {
        #[command(flatten)]
        stack: StackArgs,
        /// Each resource's address, kind and physical name as a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// One resource's recorded attributes, as JSON.
    Show {
        #[command(flatten)]
        stack: StackArgs,
        address: String,
        /// Accepted for uniformity: the output is JSON either way.
        #[arg(long)]
        json: bool,
    },
    /// Forget a resource (it stays in AWS, unmanaged).
    Rm {
        #[command(flatten)]
        stack: StackArgs,
        address: String,
        /// Print `{"removed": ADDRESS}` as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

/// The same opening path as plan and apply: local-cloud check, account guard, state.
async fn open(stack: &StackArgs) -> Result<Deployment, String> {
    let checked =
        super::checked(&stack.file, stack.env.as_deref()).ok_or("the stack has errors")?;
    deploy::open(checked, false).await
}

pub fn run(a: Args) -> ExitCode {
    let result = crate::runtime::block_on(async {
        match a.action {
            Action::List { stack, json } => {
                let d = open(&stack).await?;
                if json {
                    let list: Vec<serde_json::Value> = d
                        .state
                        .resources
                        .iter()
                        .map(|(addr, r)| {
                            serde_json::json!({
                                "address": addr,
                                "kind": r.kind,
                                "name": r.attrs.get("name"),
                            })
                        })
                        .collect();
                    println!("{:#}", serde_json::Value::from(list));
                } else {
                    for addr in d.state.resources.keys() {
                        println!("{addr}");
                    }
                }
                Ok(())
            }
            Action::Show { stack, address, .. } => {
                let d = open(&stack).await?;
                let r = d
                    .state
                    .resources
                    .get(&address)
                    .ok_or_else(|| format!("no resource `{address}` in state"))?;
                println!("{}", serde_json::to_string_pretty(r).expect("serializes"));
                Ok(())
            }
            Action::Rm {
                stack,
                address,
                json,
            } => {
                let mut d = open(&stack).await?;
                d.locked("state rm", async |d| {
                    if d.state.resources.remove(&address).is_none() {
                        return Err(format!("no resource `{address}` in state"));
                    }
                    d.backend
                        .save(&mut d.state)
                        .await
                        .map_err(|e| e.to_string())?;
                    if json {
                        println!("{}", serde_json::json!({ "removed": address }));
                    } else {
                        println!("removed {address} from state (the resource itself is untouched)");
                    }
                    Ok(())
                })
                .await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(&e),
    }
}
