//! Named stop points for crash tests, below every step that has one.

/// Crash tests stop the process at a named point (`DEKIT_FAILPOINT=landing.after_object`), the
/// way a SIGKILL would, to prove a re-run neither loses nor duplicates data from exactly there.
/// Only builds with the `failpoints` feature have them; elsewhere this does nothing.
pub fn failpoint(name: &str) {
    #[cfg(feature = "failpoints")]
    if crate::settings::get().failpoint.as_deref() == Some(name) {
        eprintln!("failpoint `{name}`: exiting as if killed");
        std::process::exit(137);
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}
