//! The distribution wheel's size against issue 27's budget, shared by `cargo bench --bench dist`
//! (which reports it beside the release build) and `tests/wheel.rs` (which CI runs on the wheel
//! `ci/test.sh` builds beside the tests).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub const BINARY_BUDGET: u64 = 80_000_000;
pub const WHEEL_BUDGET: u64 = 30_000_000;
pub const GLIBC_BUDGET: (u32, u32) = (2, 28);

/// Megabytes with one decimal, as the budget is written.
pub fn mb(bytes: u64) -> f64 {
    (bytes as f64 / 1e5).round() / 10.0
}

/// What users install: the binary in the wheel, the wheel, the binary's highest glibc.
pub struct Measured {
    pub binary: u64,
    pub wheel_size: u64,
    pub glibc: (u32, u32),
}

impl Measured {
    pub fn of(wheel: &Path) -> Measured {
        let bytes = binary_in(wheel);
        let needs = dekit::elf::needs(&bytes).unwrap();
        Measured {
            binary: bytes.len() as u64,
            wheel_size: std::fs::metadata(wheel).unwrap().len(),
            glibc: needs.glibc.expect("a dynamically linked binary"),
        }
    }

    pub fn within_budget(&self) -> bool {
        self.binary <= BINARY_BUDGET
            && self.wheel_size <= WHEEL_BUDGET
            && self.glibc <= GLIBC_BUDGET
    }

    /// One line for a failure: each figure against its budget.
    pub fn against_budget(&self) -> String {
        format!(
            "binary {} MB (≤ {}), wheel {} MB (≤ {}), glibc {}.{} (≤ {}.{})",
            mb(self.binary),
            mb(BINARY_BUDGET),
            mb(self.wheel_size),
            mb(WHEEL_BUDGET),
            self.glibc.0,
            self.glibc.1,
            GLIBC_BUDGET.0,
            GLIBC_BUDGET.1
        )
    }
}

/// Build with `ci/dist.sh`; the wheel it reports and the seconds it took.
pub fn build(root: &Path) -> (PathBuf, f64) {
    let t = Instant::now();
    let o = Command::new(root.join("ci/dist.sh"))
        .current_dir(root)
        .output()
        .expect("ci/dist.sh runs");
    assert!(
        o.status.success(),
        "ci/dist.sh failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let wheel = out
        .lines()
        .find_map(|l| l.strip_prefix("wheel: "))
        .expect("ci/dist.sh names its wheel");
    (root.join(wheel), t.elapsed().as_secs_f64())
}

/// The `dekit` binary inside a wheel (`<name>.data/scripts/dekit`), read with the `zip` crate
/// that packages Lambda bundles.
fn binary_in(wheel: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let name = z
        .file_names()
        .map(|n| n.unwrap().to_string())
        .find(|n| n.ends_with("/scripts/dekit"))
        .expect("the wheel carries scripts/dekit");
    let mut bytes = vec![];
    z.by_name(&name).unwrap().read_to_end(&mut bytes).unwrap();
    bytes
}
