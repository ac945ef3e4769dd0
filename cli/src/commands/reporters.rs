//! How apply and destroy word the engine's progress: one line per finished resource.

use crate::cloud::CloudError;
use crate::engine::Reporter;
use crate::plan::Action;

/// `stderr`: with `--json` the lines go to stderr, leaving stdout to the JSON document.
pub struct Lines {
    pub stderr: bool,
}

impl Lines {
    fn say(&self, line: &str) {
        if self.stderr {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
}

impl Reporter for Lines {
    fn on_adopted(&self, address: &str) {
        self.say(&format!(
            "{address}: adopted into state (it existed already)"
        ));
    }
    fn on_done(&self, address: &str, action: Action) {
        let verb = match action {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Replace => "replaced",
            Action::Delete => "destroyed",
            Action::NoOp => "unchanged",
        };
        self.say(&format!("{address}: {verb}"));
    }
    fn on_failed(&self, address: &str, error: &CloudError) {
        self.say(&format!("{address}: FAILED: {error}"));
    }
    fn on_skipped(&self, address: &str) {
        self.say(&format!("{address}: skipped (a dependency failed)"));
    }
    fn on_interrupt(&self) {
        self.say(
            "interrupted: letting in-flight calls finish and recording them, starting nothing new",
        );
    }
}
