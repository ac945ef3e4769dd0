//! The library's one clock for what the data plane names and judges by time: run and test ids,
//! ingest-date partitions (and so load ids), manifests' timestamps, freshness and anomaly checks.
//!
//! Why one clock: an outcome that depends on the day must be testable on any day. The command
//! layer may start the clock at another instant (`DEKIT_NOW`, read once there); it then runs
//! forward at the real pace, so durations stay real. Request signing, lock ages and backoff
//! jitter keep the system clock: the cloud judges those by its own.

use chrono::{DateTime, Utc};
use std::sync::OnceLock;
use std::time::Instant;

/// Where the clock started: the instant it showed then, and when that was.
static START: OnceLock<(DateTime<Utc>, Instant)> = OnceLock::new();

/// Start the clock at `at` instead of the system time. Only the first call counts: the clock
/// never jumps once something has read it.
pub fn start_at(at: DateTime<Utc>) -> Result<(), String> {
    START
        .set((at, Instant::now()))
        .map_err(|_| "the clock was already started".to_string())
}

/// Parse `DEKIT_NOW`'s value: RFC 3339 (`2027-02-28T23:30:00Z`) or a day (`2027-02-28`, midnight UTC).
pub fn parse(value: &str) -> Result<DateTime<Utc>, String> {
    let v = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .map_err(|_| {
            format!(
                "`{v}` is not a time: give RFC 3339 (2027-02-28T23:30:00Z) or a day (2027-02-28)"
            )
        })
}

/// Now, by the library's clock.
pub fn now() -> DateTime<Utc> {
    match START.get() {
        Some((at, since)) => {
            *at + chrono::Duration::from_std(since.elapsed()).unwrap_or(chrono::Duration::zero())
        }
        None => Utc::now(),
    }
}

/// A run or test id: the time to the second and a random suffix (two started in the same second
/// differ), sorting by time.
pub fn run_id() -> String {
    format!(
        "{}-{:04x}",
        now().format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_instant_or_a_day_and_names_the_forms_otherwise() {
        assert_eq!(
            parse("2027-02-28T23:30:00+01:00").unwrap().to_rfc3339(),
            "2027-02-28T22:30:00+00:00"
        );
        assert_eq!(
            parse("2024-02-29").unwrap().to_rfc3339(),
            "2024-02-29T00:00:00+00:00"
        );
        let e = parse("yesterday").unwrap_err();
        assert!(e.contains("RFC 3339"), "{e}");
    }
}
