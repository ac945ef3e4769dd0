//! The local cloud's scripts on their own ports, for each engine: starting twice is harmless,
//! stopping when nothing runs is harmless, a taken port is a clear error, stop leaves no process
//! behind, the engine listens on loopback only, and one engine refuses to start beside the other.

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
        self.local_args(&[cmd])
    }

    fn local_args(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_dekit"))
            .arg("local")
            .args(args)
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

/// Addresses a TCP listener on `port` is bound to (from `ss`).
fn listening_on(port: u16) -> Vec<String> {
    let out = Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .expect("ss runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
        .collect()
}

fn cycle(engine: &str, services: &[&str]) {
    let env = Env::new(&format!("cycle-{engine}"));
    let o = env.local("stop");
    assert!(
        o.status.success(),
        "stop with nothing running is harmless: {}",
        text(&o)
    );

    let o = env.local_args(&["start", "--engine", engine]);
    assert!(o.status.success(), "{}", text(&o));
    for s in services {
        assert!(text(&o).contains(&format!("{s} healthy")), "{}", text(&o));
    }
    let pids: Vec<u32> = services.iter().map(|s| env.pid(s).unwrap()).collect();
    assert!(pids.iter().all(|p| !group_members(*p).is_empty()));
    // Loopback only: MiniStack binds 0.0.0.0 unless told otherwise.
    let bound = listening_on(env.ls_port);
    assert!(!bound.is_empty(), "nothing listens on {}", env.ls_port);
    assert!(
        bound.iter().all(|a| a.starts_with("127.0.0.1:")),
        "{engine} listens beyond loopback: {bound:?}"
    );

    let o = env.local_args(&["start", "--engine", engine]);
    assert!(o.status.success(), "second start is harmless: {}", text(&o));
    assert!(text(&o).contains("already running"), "{}", text(&o));
    assert_eq!(
        env.pid(services[0]),
        Some(pids[0]),
        "the second start reuses the first"
    );
    // The other engine refuses to start beside it, and says how to switch.
    let other = if engine == "ministack" {
        "localstack"
    } else {
        "ministack"
    };
    let o = env.local_args(&["start", "--engine", other]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("already runs {engine}"))
            && text(&o).contains("restart --engine"),
        "{}",
        text(&o)
    );

    let o = env.local("stop");
    assert!(o.status.success(), "{}", text(&o));
    for (s, p) in services.iter().zip(&pids) {
        assert!(
            group_members(*p).is_empty(),
            "{s}'s group is gone: {:?}",
            group_members(*p)
        );
        assert!(!Path::new(&env.run_dir.join(format!("{s}.pid"))).exists());
    }

    let o = env.local("stop");
    assert!(o.status.success(), "second stop is harmless: {}", text(&o));
    assert!(text(&o).contains("not running"));
}

#[test]
fn ministack_start_twice_stop_twice_and_nothing_left_behind() {
    cycle("ministack", &["ministack"]);
}

#[test]
fn localstack_start_twice_stop_twice_and_nothing_left_behind() {
    cycle("localstack", &["localstack", "moto"]);
}

#[test]
fn taken_port_is_a_clear_error_and_starts_nothing() {
    for (engine, port_var) in [
        ("ministack", "DEKIT_LOCAL_PORT"),
        ("localstack", "DEKIT_MOTO_PORT"),
    ] {
        let env = Env::new(&format!("port-{engine}"));
        let port = if engine == "ministack" {
            env.ls_port
        } else {
            env.moto_port
        };
        let squatter = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let o = env.local_args(&["start", "--engine", engine]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let t = text(&o);
        assert!(t.contains(&format!("port {port} is already in use")), "{t}");
        assert!(t.contains(port_var), "the error names the way out: {t}");
        assert!(
            env.pid("localstack").is_none() && env.pid("ministack").is_none(),
            "no half-started local cloud"
        );
        drop(squatter);
    }
}
