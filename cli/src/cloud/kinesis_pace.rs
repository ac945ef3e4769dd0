//! Kinesis account limits one dekit process keeps to, so its calls are not wasted on refusals or
//! on polls that cannot succeed yet.
//!
//! - At most five streams may be CREATING in an account at once (`CreateStream` answers
//!   `LimitExceededException` beyond that; LocalStack's Kinesis enforces the same). A create
//!   holds one of five permits until its stream is ACTIVE, so the sixth waits for a permit
//!   instead of being refused and backing off for seconds.
//! - A change (create, encryption, resharding) keeps a stream CREATING or UPDATING for about as
//!   long as the previous one did: the first poll after a change waits a learned pause. A first
//!   poll that finds the stream ACTIVE shortens the next pause a little; one that does not
//!   lengthens it halfway to when ACTIVE was seen. Most first polls then succeed, and a pause
//!   follows the target: none on an emulator that is ACTIVE at once, about half a second on
//!   LocalStack, seconds on AWS. `DescribeStreamSummary` is limited to 20 calls a second per
//!   account on AWS, and LocalStack's Kinesis answers ~40 calls a second in all, so a poll that
//!   cannot succeed delays every other stream's calls.
//! - Calls of a stream holding a create permit go first: every later create waits for them.
//!   While a stream is creating, other Kinesis calls (encryption, tags, reads) are limited to a
//!   few in flight, so a create's polls are not queued behind dozens of them (LocalStack's
//!   Kinesis answers one call at a time; on AWS most Kinesis control-plane calls allow 5–20 a
//!   second per account).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

/// Streams an account may have CREATING at once.
pub const CONCURRENT_CREATES: usize = 5;

/// Kinesis calls in flight at once outside the create lane.
pub const OTHER_CALLS_IN_FLIGHT: usize = 3;

/// Which queue a Kinesis call waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A stream holding a create permit (at most five): its calls never wait.
    Creating,
    /// Everything else: at most `OTHER_CALLS_IN_FLIGHT` at once while a stream is creating.
    Other,
}

/// The longest first pause: a transition that once took minutes is still polled now and then.
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// How much a first poll that succeeded shortens the next pause (at least).
const SHORTEN: Duration = Duration::from_millis(10);

#[derive(Debug)]
pub struct KinesisPace {
    creating: Arc<Semaphore>,
    others: Semaphore,
    /// The pause before a change's first poll, in milliseconds.
    pause_ms: AtomicU64,
}

impl Default for KinesisPace {
    fn default() -> Self {
        KinesisPace {
            creating: Arc::new(Semaphore::new(CONCURRENT_CREATES)),
            others: Semaphore::new(OTHER_CALLS_IN_FLIGHT),
            pause_ms: AtomicU64::new(0),
        }
    }
}

impl KinesisPace {
    /// A permit to create one stream; drop it once the stream is ACTIVE (or the create failed).
    pub async fn create_permit(&self) -> OwnedSemaphorePermit {
        self.creating
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// Wait for a call's turn in its lane; hold the result while the call is in flight.
    /// Other calls wait only while a stream is creating: a plan's reads, or a destroy's
    /// deletes, have no create to make way for.
    pub async fn turn(&self, lane: Lane) -> Option<SemaphorePermit<'_>> {
        let creating = self.creating.available_permits() < CONCURRENT_CREATES;
        match lane {
            Lane::Other if creating => Some(
                self.others
                    .acquire()
                    .await
                    .expect("the semaphore is never closed"),
            ),
            _ => None,
        }
    }

    /// How long to wait after a change's call returned before the first poll.
    pub fn first_pause(&self) -> Duration {
        Duration::from_millis(self.pause_ms.load(Ordering::Relaxed))
    }

    /// Learn from one wait: whether its first poll (after `first_pause`) found the stream ACTIVE,
    /// and when (after the change returned) the poll that did started.
    pub fn learn(&self, first_poll_succeeded: bool, seen_at: Duration) {
        let seen = u64::try_from(seen_at.min(LONGEST_PAUSE).as_millis()).unwrap_or(0);
        let _ = self
            .pause_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(if first_poll_succeeded {
                    p.saturating_sub((p / 50).max(SHORTEN.as_millis() as u64))
                } else {
                    p + seen.saturating_sub(p) / 2
                })
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_follows_the_transitions_seen() {
        let p = KinesisPace::default();
        assert_eq!(
            p.first_pause(),
            Duration::ZERO,
            "an unknown target is polled at once"
        );
        // LocalStack: ACTIVE about 500 ms after the change; polls every 250 ms.
        let mut polls = 0;
        for _ in 0..60 {
            let pause = p.first_pause();
            let ok = pause >= Duration::from_millis(500);
            polls += if ok { 1 } else { 2 };
            let seen = if ok {
                pause
            } else {
                pause + Duration::from_millis(250)
            };
            p.learn(ok, seen.max(Duration::from_millis(500)));
        }
        let pause = p.first_pause();
        assert!(
            (Duration::from_millis(400)..Duration::from_millis(800)).contains(&pause),
            "{pause:?}"
        );
        assert!(polls < 60 * 13 / 10, "{polls} polls for 60 waits");
        // A fast emulator: every first poll succeeds and the pause shrinks to nothing.
        for _ in 0..200 {
            p.learn(true, p.first_pause());
        }
        assert_eq!(p.first_pause(), Duration::ZERO);
        // AWS: a create takes tens of seconds; the pause grows but stays bounded.
        for _ in 0..20 {
            p.learn(false, Duration::from_secs(40));
        }
        assert!(p.first_pause() <= LONGEST_PAUSE);
        assert!(p.first_pause() >= LONGEST_PAUSE - Duration::from_millis(10));
    }

    #[tokio::test]
    async fn a_sixth_create_waits_until_one_of_five_is_active() {
        let p = KinesisPace::default();
        let mut held = Vec::new();
        for _ in 0..CONCURRENT_CREATES {
            held.push(p.create_permit().await);
        }
        let sixth = tokio::time::timeout(Duration::from_millis(50), p.create_permit()).await;
        assert!(
            sixth.is_err(),
            "a sixth permit was granted while five were held"
        );
        held.pop();
        let sixth = tokio::time::timeout(Duration::from_millis(50), p.create_permit()).await;
        assert!(sixth.is_ok(), "no permit after one of five was released");
    }

    #[tokio::test]
    async fn other_calls_are_limited_while_a_stream_is_creating() {
        let p = KinesisPace::default();
        let wait = Duration::from_millis(50);
        let mut free = Vec::new();
        for _ in 0..OTHER_CALLS_IN_FLIGHT + 2 {
            let t = tokio::time::timeout(wait, p.turn(Lane::Other)).await;
            free.push(t.expect("no stream is creating: no wait"));
        }
        drop(free);
        let _creating = p.create_permit().await;
        let mut held = Vec::new();
        for _ in 0..OTHER_CALLS_IN_FLIGHT {
            held.push(p.turn(Lane::Other).await);
        }
        assert!(
            tokio::time::timeout(wait, p.turn(Lane::Other))
                .await
                .is_err()
        );
        assert!(
            tokio::time::timeout(wait, p.turn(Lane::Creating))
                .await
                .is_ok()
        );
        held.pop();
        assert!(
            tokio::time::timeout(wait, p.turn(Lane::Other))
                .await
                .is_ok()
        );
    }
}
