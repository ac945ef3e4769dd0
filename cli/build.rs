//! `dekit --version` names the commit it was built from: `DEKIT_COMMIT` when the build sets it
//! (a wheel built outside the repository), else `git rev-parse`, else "unknown".

fn main() {
    println!("cargo:rerun-if-env-changed=DEKIT_COMMIT");
    let commit = std::env::var("DEKIT_COMMIT").ok().or_else(|| {
        let o = std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
    });
    // A new commit rebuilds (HEAD moves, or the branch it names does).
    if let Ok(o) = std::process::Command::new("git")
        .args(["rev-parse", "--git-dir", "--symbolic-full-name", "HEAD"])
        .output()
    {
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let mut lines = text.lines();
        if let (Some(dir), Some(head)) = (lines.next(), lines.next()) {
            // Only files that exist: a missing one would rerun this script on every build.
            let dir = std::path::Path::new(dir);
            let mut files = vec![dir.join("HEAD"), dir.join("packed-refs")];
            if head.starts_with("refs/") {
                files.push(dir.join(head));
            }
            for f in files.iter().filter(|f| f.is_file()) {
                println!("cargo:rerun-if-changed={}", f.display());
            }
        }
    }
    println!(
        "cargo:rustc-env=DEKIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
}
