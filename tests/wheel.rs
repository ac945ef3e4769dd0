//! `pip install dekit`: maturin builds the wheel (`bindings = "bin"`, as ruff and uv ship) for
//! manylinux_2_28, linking with zig against glibc 2.28's symbols, so it installs on Amazon Linux
//! 2023, RHEL 8/9, Debian 11, Ubuntu 20.04 — and the same binary is the Lambda step runtime
//! (`provided.al2023`, glibc 2.34). The wheel is installed into a fresh venv; the `dekit` it puts
//! on that venv's PATH is this dekit: its `--version` names the same version and commit, it
//! validates retail, and it starts and stops a local cloud from the scripts it carries. `uvx` and
//! `pipx install` run the same file.
//!
//! The build uses the dev profile in a target directory of its own beside the tests' (the zig
//! link and C compiler make a second build, which later runs reuse); releases build the same way
//! with the `dist` profile (`ci/dist.sh`).

mod common;
#[path = "common/dist.rs"]
mod dist;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target directory this test binary was built in (`<target>/debug/deps/wheel-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// The highest `GLIBC_` version in `objdump -T`'s listing of a binary's dynamic symbols: an
/// independent reading of what `dekit::elf` reads from the version needs.
fn objdump_glibc(binary: &Path) -> (u32, u32) {
    let o = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .expect("objdump (binutils) runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    text.split("GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let v: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let mut p = v.split('.').map(|x| x.parse::<u32>().ok());
            Some((p.next()??, p.next().flatten().unwrap_or(0)))
        })
        .max()
        .expect("a dynamically linked binary names glibc versions")
}

/// Build the manylinux wheel; its path and the binary in it (as built).
fn build_wheel(work: &Path) -> (PathBuf, PathBuf) {
    let python = common::tools_python();
    let bin = python.parent().unwrap().to_path_buf();
    let target = target_dir().with_file_name(format!(
        "{}-manylinux",
        target_dir().file_name().unwrap().to_string_lossy()
    ));
    // PATH: the tools venv first, where maturin finds zig (`python -m ziglang`).
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let o = Command::new(&python)
        .args([
            "-m",
            "maturin",
            "build",
            "--profile",
            "dev",
            "--zig",
            "--compatibility",
            "manylinux_2_28",
            "--out",
        ])
        .arg(work.join("dist"))
        .current_dir(common::repo_root())
        // A clean environment: cargo test's own variables (OUT_DIR, CARGO_PKG_*, LD_LIBRARY_PATH)
        // would make build scripts rerun and the inner build start over.
        .env_clear()
        .envs(
            ["HOME", "CARGO_HOME", "RUSTUP_HOME", "TMPDIR"]
                .iter()
                .filter_map(|k| std::env::var_os(k).map(|v| (*k, v))),
        )
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", &target)
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
    let binary = target.join("x86_64-unknown-linux-gnu/debug/dekit");
    assert!(binary.is_file(), "no binary at {}", binary.display());
    (wheel, binary)
}

#[test]
fn the_wheel_is_portable_installs_and_runs_the_local_cloud() {
    let root = common::repo_root();
    let work = std::env::temp_dir().join(format!("dekit-wheel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let (wheel, binary) = build_wheel(&work);
    let name = wheel.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with(&format!("dekit-{}-", env!("CARGO_PKG_VERSION")))
            && name.ends_with("-manylinux_2_28_x86_64.whl"),
        "{name}"
    );

    // glibc 2.28 at most, read two ways; fit for Lambda, where this very test's binary (linked
    // against the build machine's glibc) is refused when it needs more than 2.34.
    let bytes = std::fs::read(&binary).unwrap();
    let needs = dekit::elf::needs(&bytes).unwrap();
    assert_eq!(needs.machine, "x86_64");
    assert!(needs.glibc.is_some_and(|v| v <= (2, 28)), "{needs:?}");
    assert_eq!(needs.glibc, Some(objdump_glibc(&binary)));
    dekit::elf::check_for_lambda("portable", &bytes).unwrap();
    let host = Path::new(env!("CARGO_BIN_EXE_dekit"));
    let host_glibc = objdump_glibc(host);
    let refused = dekit::elf::check_for_lambda("host", &std::fs::read(host).unwrap());
    assert_eq!(
        refused.is_err(),
        host_glibc > dekit::elf::LAMBDA_GLIBC,
        "{host_glibc:?}: {refused:?}"
    );
    if let Err(e) = refused {
        assert!(
            e.contains(&format!("GLIBC_{}.{}", host_glibc.0, host_glibc.1))
                && e.contains("DEKIT_LAMBDA_BINARY"),
            "{e}"
        );
    }

    // Installed from the file into a fresh venv, as `pip install dekit` does from PyPI.
    let tools = common::tools_python();
    let venv = work.join("venv");
    let o = Command::new(&tools)
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
    // Validates retail, printing what it says when it does not.
    let validates = |dekit: &mut Command| {
        let o = dekit
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
    };
    validates(&mut Command::new(&installed));

    // The same file through `uvx dekit` and `pipx install dekit`, without an index: each runs
    // this dekit, and it validates retail.
    let uvx = || {
        let mut c = Command::new(tools.with_file_name("uvx"));
        c.args(["--offline", "--from"])
            .arg(&wheel)
            .arg("dekit")
            .env("UV_CACHE_DIR", work.join("uv-cache"))
            .env("UV_TOOL_DIR", work.join("uv-tools"))
            .env("UV_PYTHON", &tools);
        c
    };
    let v = uvx().arg("--version").output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    assert_eq!(
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&ours.stdout)
    );
    validates(&mut uvx());
    let o = Command::new(tools.with_file_name("pipx"))
        .args(["install", "--pip-args=--no-index"])
        .arg(&wheel)
        .env("PIPX_HOME", work.join("pipx"))
        .env("PIPX_BIN_DIR", work.join("pipx-bin"))
        .env("PIPX_MAN_DIR", work.join("pipx-man"))
        .env("PIPX_DEFAULT_PYTHON", &tools)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    validates(&mut Command::new(work.join("pipx-bin/dekit")));

    // A local cloud of its own (its own port and run directory, beside the suite's), started,
    // answering, and stopped by the installed dekit, from outside any checkout.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let run_dir = work.join("local");
    let local = |args: &[&str]| {
        Command::new(&installed)
            .arg("local")
            .args(args)
            .current_dir(&work)
            .env("DEKIT_LOCAL_DIR", &run_dir)
            .env("DEKIT_LOCAL_PORT", &port)
            .output()
            .unwrap()
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let started = local(&["start", "--engine", "ministack"]);
    let status = local(&["status"]);
    let stopped = local(&["stop"]);
    assert!(started.status.success(), "{}", text(&started));
    assert!(
        status.status.success() && text(&status).contains(&port),
        "{}",
        text(&status)
    );
    assert!(stopped.status.success(), "{}", text(&stopped));
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "the local cloud still answers after stop"
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// The size budget's cheap guard, in every `cargo test` (the `dist` build takes 20-45 minutes):
/// the crates that make the binary large come in one version each, and the codecs and parsers cut
/// from it stay out. `ci/test.sh` checks the budget itself on the wheel it builds (below).
#[test]
fn the_binary_carries_one_copy_of_each_large_crate() {
    let o = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-p",
            "dekit",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(common::repo_root())
        .output()
        .expect("cargo tree runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut versions: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let mut w = line.split_whitespace();
        if let (Some(name), Some(version)) = (w.next(), w.next()) {
            versions
                .entry(name.to_string())
                .or_default()
                .insert(version.to_string());
        }
    }
    assert!(versions.contains_key("datafusion") && versions.contains_key("aws-sdk-s3"));
    let large = |n: &str| {
        [
            "sqlparser",
            "arrow",
            "parquet",
            "datafusion",
            "aws-sdk-",
            "aws-lc-",
            "object_store",
        ]
        .iter()
        .any(|p| n.starts_with(p))
    };
    let twice: Vec<String> = versions
        .iter()
        .filter(|(n, v)| large(n) && v.len() > 1)
        .map(|(n, v)| format!("{n} {v:?}"))
        .collect();
    assert!(twice.is_empty(), "large crates built twice: {twice:?}");
    let cut: Vec<&str> = ["bzip2", "liblzma", "xz2"]
        .into_iter()
        .filter(|n| versions.contains_key(*n))
        .collect();
    assert!(
        cut.is_empty(),
        "crates cut from the binary are back: {cut:?}"
    );
}

/// ci/dist.sh links with ci/dist-unwind.ld, which drops the unwind tables (7 MB of the binary):
/// the same zig link of a small program that panics, with and without the script. Without it the
/// tables are there (the check can fail); with it they are gone, and a panic still prints its
/// message and aborts (exit 134), as the `dist` profile's `panic = "abort"` promises.
#[test]
fn the_dist_link_drops_the_unwind_tables_and_a_panic_still_aborts() {
    let root = common::repo_root();
    let script = root.join("ci/dist-unwind.ld");
    let dist = std::fs::read_to_string(root.join("ci/dist.sh")).unwrap();
    assert!(
        dist.contains("-Wl,-T,$PWD/ci/dist-unwind.ld"),
        "ci/dist.sh no longer links with ci/dist-unwind.ld"
    );
    let work = std::env::temp_dir().join(format!("dekit-unwind-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let python = common::tools_python();
    let zig = work.join("zigcc");
    std::fs::write(
        &zig,
        format!(
            "#!/bin/sh\nexec '{}' -m ziglang cc -target x86_64-linux-gnu.2.28 \"$@\"\n",
            python.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&zig, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = work.join("p.rs");
    std::fs::write(
        &program,
        "fn main() {\n    let n: Vec<u32> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();\n    println!(\"{}\", n.iter().sum::<u32>());\n}\n",
    )
    .unwrap();
    let link = |out: &str, with_script: bool| {
        let mut c = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()));
        c.args(["-O", "-C", "panic=abort", "-C"])
            .arg(format!("linker={}", zig.display()))
            .arg(&program)
            .arg("-o")
            .arg(work.join(out));
        if with_script {
            c.arg("-C")
                .arg(format!("link-arg=-Wl,-T,{}", script.display()));
        }
        let o = c.output().expect("rustc runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let sections = Command::new("readelf")
            .args(["-SW"])
            .arg(work.join(out))
            .output()
            .expect("readelf (binutils) runs");
        String::from_utf8_lossy(&sections.stdout).contains(" .eh_frame ")
    };
    assert!(
        link("with-tables", false),
        "a plain link has no .eh_frame: the check proves nothing"
    );
    assert!(
        !link("without-tables", true),
        "the linker script left .eh_frame in"
    );
    let run = |arg: &str| {
        Command::new(work.join("without-tables"))
            .arg(arg)
            .output()
            .unwrap()
    };
    let ok = run("41");
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "41\n");
    let panicked = run("x");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(panicked.status.signal(), Some(6), "{panicked:?}");
    assert!(
        String::from_utf8_lossy(&panicked.stderr).contains("InvalidDigit"),
        "{}",
        String::from_utf8_lossy(&panicked.stderr)
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// The size budget of issue 27 on the real distribution wheel: binary ≤ 80 MB, wheel ≤ 30 MB,
/// glibc ≤ 2.28. CI (`ci/test.sh`) builds it with `ci/dist.sh` beside the tests and runs this with
/// `DEKIT_DIST_WHEEL` naming the wheel; run by hand, it builds one first.
#[test]
#[ignore = "needs the distribution build (20-45 minutes): ci/test.sh runs it on the wheel it builds"]
fn the_distribution_wheel_is_within_the_size_budget() {
    let wheel = match std::env::var_os("DEKIT_DIST_WHEEL") {
        Some(w) => PathBuf::from(w),
        None => dist::build(&common::repo_root()).0,
    };
    let m = dist::Measured::of(&wheel);
    eprintln!("{}: {}", wheel.display(), m.against_budget());
    assert!(m.within_budget(), "over the budget: {}", m.against_budget());
}
