//! The local cloud's scripts on their own ports: starting twice is harmless, stopping when nothing
//! runs is harmless, a taken port is a clear error, and stop leaves no process behind.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Env {
    run_dir: PathBuf,
    volume: PathBuf,
    ls_port: u16,
    moto_port: u16,
}

impl Env {
    fn new(name: &str) -> Env {
        let base =
            std::env::temp_dir().join(format!("dekit-lifecycle-{name}-{}", std::process::id()));
        Env {
            run_dir: base.join("run"),
            volume: base.join("volume"),
            ls_port: free_port(),
            moto_port: free_port(),
        }
    }

    fn local(&self, cmd: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_dekit"))
            .args(["local", cmd])
            .env("DEKIT_LOCAL_DIR", &self.run_dir)
            .env("DEKIT_LOCALSTACK_VOLUME", &self.volume)
            .env("DEKIT_LOCALSTACK_PORT", self.ls_port.to_string())
            .env("DEKIT_MOTO_PORT", self.moto_port.to_string())
            .output()
            .unwrap()
    }

    fn pid(&self, name: &str) -> Option<u32> {
        std::fs::read_to_string(self.run_dir.join(format!("{name}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Whatever happened, stop what this test started.
        self.local("stop");
        let _ = std::fs::remove_dir_all(self.run_dir.parent().unwrap());
    }
}

/// Processes in the process group `pgid` (the service and its children).
fn group_members(pgid: u32) -> Vec<String> {
    let out = Command::new("ps")
        .args(["-o", "pid=,comm=", "-g", &pgid.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn start_twice_stop_twice_and_nothing_left_behind() {
    let env = Env::new("cycle");
    let o = env.local("stop");
    assert!(
        o.status.success(),
        "stop with nothing running is harmless: {}",
        text(&o)
    );

    let o = env.local("start");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("localstack healthy") && text(&o).contains("moto healthy"),
        "{}",
        text(&o)
    );
    let (ls, moto) = (env.pid("localstack").unwrap(), env.pid("moto").unwrap());
    assert!(!group_members(ls).is_empty() && !group_members(moto).is_empty());

    let o = env.local("start");
    assert!(o.status.success(), "second start is harmless: {}", text(&o));
    assert!(text(&o).contains("already running"), "{}", text(&o));
    assert_eq!(
        env.pid("localstack"),
        Some(ls),
        "the second start reuses the first"
    );

    let o = env.local("stop");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        group_members(ls).is_empty(),
        "localstack's group is gone: {:?}",
        group_members(ls)
    );
    assert!(
        group_members(moto).is_empty(),
        "moto's group is gone: {:?}",
        group_members(moto)
    );
    assert!(!Path::new(&env.run_dir.join("localstack.pid")).exists());

    let o = env.local("stop");
    assert!(o.status.success(), "second stop is harmless: {}", text(&o));
    assert!(text(&o).contains("not running"));
}

#[test]
fn taken_port_is_a_clear_error_and_starts_nothing() {
    let env = Env::new("port");
    let squatter = TcpListener::bind(("127.0.0.1", env.moto_port)).unwrap();
    let o = env.local("start");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains(&format!("port {} is already in use", env.moto_port)),
        "{t}"
    );
    assert!(
        t.contains("DEKIT_MOTO_PORT"),
        "the error names the way out: {t}"
    );
    assert!(
        env.pid("localstack").is_none(),
        "no half-started local cloud"
    );
    drop(squatter);
}
