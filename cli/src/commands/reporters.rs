//! How apply and destroy word the engine's progress: one line per finished resource.

use crate::cloud::CloudError;
use crate::engine::Reporter;
use crate::plan::Action;

pub struct Lines;

impl Reporter for Lines {
    fn on_adopted(&self, address: &str) {
        println!("{address}: adopted into state (it existed already)");
    }
    fn on_done(&self, address: &str, action: Action) {
        let verb = match action {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Replace => "replaced",
            Action::Delete => "destroyed",
            Action::NoOp => "unchanged",
        };
        println!("{address}: {verb}");
    }
    fn on_failed(&self, address: &str, error: &CloudError) {
        println!("{address}: FAILED: {error}");
    }
    fn on_skipped(&self, address: &str) {
        println!("{address}: skipped (a dependency failed)");
    }
    fn on_interrupt(&self) {
        println!(
            "interrupted: letting in-flight calls finish and recording them, starting nothing new"
        );
    }
}
