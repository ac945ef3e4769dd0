//! `pip install dekit`: maturin builds the wheel (`bindings = "bin"`, as ruff and uv ship), it is
//! installed into a fresh venv, and the `dekit` it puts on that venv's PATH is this dekit: its
//! `--version` names the same version and commit, and it validates retail.
//!
//! The wheel is built with the dev profile into the target directory the tests were built in, so
//! it reuses what `cargo test` compiled; releases build it with `maturin build --release`.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// The target directory this test binary was built in (`<target>/debug/deps/wheel-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

#[test]
fn the_wheel_installs_a_working_dekit() {
    let python = common::tools_python();
    let root = common::repo_root();
    let work = std::env::temp_dir().join(format!("dekit-wheel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let o = Command::new(&python)
        .args([
            "-m",
            "maturin",
            "build",
            "--profile",
            "dev",
            "--skip-auditwheel",
            "--out",
        ])
        .arg(work.join("dist"))
        .current_dir(&root)
        // A clean environment: cargo test's own variables (OUT_DIR, CARGO_PKG_*, LD_LIBRARY_PATH)
        // would make build scripts rerun and the inner build start over.
        .env_clear()
        .envs(
            ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "TMPDIR"]
                .iter()
                .filter_map(|k| std::env::var_os(k).map(|v| (*k, v))),
        )
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "maturin build failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let wheel = std::fs::read_dir(work.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("a .whl");
    let name = wheel.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with(&format!("dekit-{}-", env!("CARGO_PKG_VERSION"))),
        "{name}"
    );

    let venv = work.join("venv");
    let o = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--no-index"])
        .arg(&wheel)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let installed = venv.join("bin/dekit");
    assert!(
        installed.is_file(),
        "pip put no dekit in {}",
        venv.display()
    );
    let v = Command::new(&installed).arg("--version").output().unwrap();
    let ours = Command::new(env!("CARGO_BIN_EXE_dekit"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(v.status.success());
    assert_eq!(
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&ours.stdout)
    );
    let o = Command::new(&installed)
        .args(["validate", "stacks/retail/stack.yaml"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("is valid"),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(&work);
}
