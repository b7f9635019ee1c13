//! Messages off the wire that do not decode (a `~/prompt` String with invalid UTF-8, an Image whose
//! CDR is cut short): DDS hands each subscription an error in place of the message. Each input counts
//! its own (`/diagnostics` key `undecodable_messages.<topic>`, and a line at shutdown), logs every one
//! at TRACE and warns at a limited rate; the subscription goes on with the next message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::{trace, warn};

/// At most one warning per input per this long (per-message faults repeat at the sender's rate).
pub const WARN_EVERY: Duration = Duration::from_secs(5);

/// The `/diagnostics` key an input's count is published under.
pub fn diagnostics_key(topic: &str) -> String {
    format!("undecodable_messages.{topic}")
}

/// True at most once per [`WARN_EVERY`].
#[derive(Debug, Default)]
pub struct RateLimit(Option<Instant>);

impl RateLimit {
    pub fn ready(&mut self) -> bool {
        let ready = self.0.is_none_or(|t| t.elapsed() > WARN_EVERY);
        if ready {
            self.0 = Some(Instant::now());
        }
        ready
    }
}

/// One subscription's undecodable-message counter and its warning limit.
pub struct Undecodable {
    topic: String,
    count: Arc<AtomicU64>,
    limit: RateLimit,
}

impl Undecodable {
    /// `count` is shared with whoever reports it (diagnostics, the shutdown summary).
    pub fn new(topic: &str, count: Arc<AtomicU64>) -> Undecodable {
        Undecodable { topic: topic.to_owned(), count, limit: RateLimit::default() }
    }

    /// Takes the message, or counts and logs why it could not be read (None: skip it).
    pub fn take<M, E: std::fmt::Display>(&mut self, msg: Result<M, E>) -> Option<M> {
        match msg {
            Ok(m) => Some(m),
            Err(e) => {
                let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
                trace!(topic = %self.topic, "undecodable message dropped: {e}");
                if self.limit.ready() {
                    warn!(
                        topic = %self.topic,
                        "undecodable message dropped ({n} so far, counted in /diagnostics as {}): {e}",
                        diagnostics_key(&self.topic)
                    );
                }
                None
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// The shutdown line: each input that dropped messages, with its count (None when none did).
pub fn summary(counts: &[(String, u64)]) -> Option<String> {
    let dropped: Vec<String> = counts.iter().filter(|(_, n)| *n > 0).map(|(t, n)| format!("{t}: {n}")).collect();
    (!dropped.is_empty()).then(|| format!("undecodable messages dropped — {}", dropped.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bad_message_is_counted_and_the_good_ones_pass() {
        let count = Arc::new(AtomicU64::new(0));
        let mut input = Undecodable::new("/n/prompt", count.clone());
        assert_eq!(input.take::<_, String>(Ok(7)), Some(7));
        for _ in 0..3 {
            assert_eq!(input.take::<u32, _>(Err("invalid utf-8 sequence")), None);
        }
        assert_eq!((input.count(), count.load(Ordering::Relaxed)), (3, 3));
        assert_eq!(diagnostics_key("/n/prompt"), "undecodable_messages./n/prompt");
    }

    #[test]
    fn warnings_are_rate_limited_and_the_summary_names_only_inputs_that_dropped() {
        let mut limit = RateLimit::default();
        assert!(limit.ready());
        assert!(!limit.ready(), "a second warning within WARN_EVERY is held back");
        let line = summary(&[("/n/prompt".into(), 2), ("/n/point_prompt".into(), 0)]).unwrap();
        assert_eq!(line, "undecodable messages dropped — /n/prompt: 2");
        assert_eq!(summary(&[("/n/prompt".into(), 0)]), None);
    }
}
