//! Slowing down password guessing: failed authentications counted per client address; past a
//! limit within a window, the address is locked out for a while and answered 429 without a
//! password comparison. A client that is not locked out is never slowed down.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::sync::Cache;

/// How many addresses are tracked at most; the least recently seen are forgotten first.
const MAX_TRACKED: u64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failed authentications allowed per address within `window`.
    pub limit: u32,
    pub window: Duration,
    /// How long an address that went past the limit is refused.
    pub lockout: Duration,
}

#[derive(Debug, Default)]
struct Record {
    window_started: Option<Instant>,
    failures: u32,
    locked_until: Option<Instant>,
}

pub struct Throttle {
    settings: ThrottleSettings,
    records: Cache<IpAddr, Arc<Mutex<Record>>>,
    /// When any address last failed, in milliseconds after `started`, plus one (0: never).
    /// Past `window + lockout` of it, no record can count, and a request skips the table.
    last_failure: AtomicU64,
    started: Instant,
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            records: Cache::builder()
                .max_capacity(MAX_TRACKED)
                .time_to_idle(settings.window + settings.lockout)
                .build(),
            last_failure: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn millis_since_start(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// No address failed within `window + lockout`: every record is past counting (its
    /// failures out of the window, its lockout over), so there is nothing to look up.
    fn quiet(&self) -> bool {
        let last = self.last_failure.load(Ordering::Acquire);
        let relevant = self.settings.window + self.settings.lockout;
        last == 0 || u128::from(self.millis_since_start().saturating_sub(last - 1)) > relevant.as_millis()
    }

    /// How long `client` stays locked out, if it is.
    pub fn locked_out(&self, client: IpAddr) -> Option<Duration> {
        // The common cases, no recent failure anywhere or none from this address, without a
        // cache read (which moka records for its eviction policy, and now and then pays for
        // with housekeeping).
        if self.quiet() || !self.records.contains_key(&client) {
            return None;
        }
        let record = self.records.get(&client)?;
        let record = record.lock().expect("never poisoned");
        let until = record.locked_until?;
        until
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    /// Counts a failed authentication; true when it locked the address out.
    pub fn failed(&self, client: IpAddr) -> bool {
        self.last_failure
            .store(self.millis_since_start().saturating_add(1), Ordering::Release);
        let record = self
            .records
            .get_with(client, || Arc::new(Mutex::new(Record::default())));
        let mut record = record.lock().expect("never poisoned");
        let now = Instant::now();
        let in_window = record
            .window_started
            .is_some_and(|started| now.duration_since(started) < self.settings.window);
        if !in_window {
            record.window_started = Some(now);
            record.failures = 0;
        }
        record.failures += 1;
        if record.failures >= self.settings.limit {
            record.locked_until = Some(now + self.settings.lockout);
            record.failures = 0;
            record.window_started = None;
            return true;
        }
        false
    }

    /// A successful authentication forgets the address's earlier failures.
    pub fn succeeded(&self, client: IpAddr) {
        if !self.quiet() && self.records.contains_key(&client) {
            self.records.invalidate(&client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(limit: u32, window_ms: u64, lockout_ms: u64) -> Throttle {
        Throttle::new(ThrottleSettings {
            limit,
            window: Duration::from_millis(window_ms),
            lockout: Duration::from_millis(lockout_ms),
        })
    }

    #[test]
    fn an_address_is_locked_out_at_the_limit_and_others_are_not() {
        let throttle = throttle(3, 60_000, 60_000);
        let (guesser, other): (IpAddr, IpAddr) = ("203.0.113.7".parse().unwrap(), "198.51.100.1".parse().unwrap());
        assert!(!throttle.failed(guesser));
        assert!(!throttle.failed(guesser));
        assert_eq!(throttle.locked_out(guesser), None);
        assert!(throttle.failed(guesser));
        assert!(throttle.locked_out(guesser).is_some());
        assert_eq!(throttle.locked_out(other), None);
    }

    #[test]
    fn failures_outside_the_window_and_before_a_success_do_not_count() {
        let throttle = throttle(2, 50, 60_000);
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        assert!(!throttle.failed(client));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!throttle.failed(client), "the first failure's window had ended");
        throttle.succeeded(client);
        assert!(!throttle.failed(client), "a success forgot the failures");
    }

    #[test]
    fn a_lockout_ends() {
        let throttle = throttle(1, 60_000, 50);
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        assert!(throttle.failed(client));
        assert!(throttle.locked_out(client).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(throttle.locked_out(client), None);
    }
}
