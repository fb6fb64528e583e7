//! Login throttling: guesses are refused (429 with `Retry-After`) before any password hash
//! is computed, per address and per account, without letting an attacker lock the real
//! user out.
//!
//! The scheme follows OWASP's Authentication Cheat Sheet ("Protect against automated
//! attacks": throttle per address, count failures per account, and avoid a lockout that
//! is itself a denial of service) in the shape of "smart lockout" (familiar locations keep
//! working while an account is attacked):
//!
//! - **Per address**: every attempt takes a token from the address's bucket
//!   ([`ADDRESS_BURST`] attempts, one more every [`ADDRESS_EVERY`]); a success gives it
//!   back, so only failures and attempts still in flight count. The token is taken before
//!   the hash, so a thousand simultaneous guesses cost ten hashes, not a thousand.
//! - **Per account**: failures against one username from every address together fill the
//!   account's level (one failure drains every [`ACCOUNT_EVERY`]). Past
//!   [`ACCOUNT_UNDER_ATTACK`] the account is under attack: from then on each address has
//!   its own small budget for that account ([`PAIR_BURST`] attempts, one more every
//!   [`PAIR_EVERY`]). An attacker spread over many addresses gets a few guesses per address
//!   per quarter hour; the real user, from an address with no failures, still has their
//!   budget and logs in. Nobody is ever locked out for good: every level drains.
//!
//! IPv6 addresses are counted by their /64 (`conn_cap::address_key`). Kept in memory and
//! bounded: past [`SWEEP_AT`] entries, drained ones are swept; if that frees nothing, new
//! accounts and pairs are not tracked (the per-address limit still applies).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tidecast_engine::conn_cap::address_key;
use tidecast_engine::log_gate::LogGate;

/// Attempts an address may make at once before it must wait.
pub const ADDRESS_BURST: f64 = 10.0;
/// How often an address gets one more attempt (so 10 a minute once the burst is spent).
pub const ADDRESS_EVERY: Duration = Duration::from_secs(6);
/// Recent failures that make an account "under attack".
pub const ACCOUNT_UNDER_ATTACK: f64 = 20.0;
/// How fast an account's failures are forgotten: one every this long.
pub const ACCOUNT_EVERY: Duration = Duration::from_secs(30);
/// Attempts each address has on an account under attack.
pub const PAIR_BURST: f64 = 3.0;
/// How often an address gets one more attempt on an account under attack.
pub const PAIR_EVERY: Duration = Duration::from_secs(300);
/// Failed or refused logins from one address are logged once per this interval, with a count.
pub const LOG_EVERY: Duration = Duration::from_secs(60);
/// Past this many entries in a table, drained ones are swept.
const SWEEP_AT: usize = 10_000;

/// The server's throttle (one process, one set of counts).
pub static LOGINS: LazyLock<LoginThrottle> = LazyLock::new(LoginThrottle::default);

/// A level that drains at a steady rate: a token bucket counted upwards.
#[derive(Debug, Clone, Copy)]
struct Level {
    value: f64,
    at: Instant,
}

impl Level {
    fn new(now: Instant) -> Self {
        Self {
            value: 0.0,
            at: now,
        }
    }

    /// The level now, draining one unit every `every`.
    fn drain(&mut self, now: Instant, every: Duration) -> f64 {
        let drained = now.saturating_duration_since(self.at).as_secs_f64() / every.as_secs_f64();
        self.value = (self.value - drained).max(0.0);
        self.at = now;
        self.value
    }

    /// How long until one more unit fits under `burst`.
    fn wait(&self, burst: f64, every: Duration) -> Duration {
        every.mul_f64((self.value + 1.0 - burst).max(0.0))
    }
}

#[derive(Debug, Default)]
struct Counts {
    addresses: HashMap<IpAddr, Level>,
    accounts: HashMap<String, Level>,
    pairs: HashMap<(String, IpAddr), Level>,
}

/// The per-address and per-account counts, and the gate on failure log lines.
#[derive(Debug)]
pub struct LoginThrottle {
    counts: Mutex<Counts>,
    log: LogGate<IpAddr>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            counts: Mutex::default(),
            log: LogGate::new(LOG_EVERY),
        }
    }
}

/// An attempt let through: its tokens are taken; say how it ended.
#[derive(Debug)]
#[must_use = "report how the attempt ended with `succeeded` or `failed`"]
pub struct Attempt {
    address: IpAddr,
    account: String,
    /// The account was under attack: the attempt also took from the address's budget on it.
    paired: bool,
}

/// Refused before any password check: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for a `Retry-After` header (at least 1).
    pub fn seconds(self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

fn sweep<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Level>, now: Instant, every: Duration) {
    if map.len() >= SWEEP_AT {
        map.retain(|_, level| level.drain(now, every) > 0.0);
    }
}

impl LoginThrottle {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May `ip` try a password for `username` now? Takes the attempt's tokens if so.
    pub fn begin(&self, ip: IpAddr, username: &str) -> Result<Attempt, RetryAfter> {
        let address = address_key(ip);
        // Usernames match case-insensitively (`db::users::by_username`): "Admin" and
        // "admin" are one account to count.
        let username = username.to_lowercase();
        let username = username.as_str();
        let now = Instant::now();
        let mut counts = self.lock();
        let counts = &mut *counts;
        sweep(&mut counts.addresses, now, ADDRESS_EVERY);
        sweep(&mut counts.accounts, now, ACCOUNT_EVERY);
        sweep(&mut counts.pairs, now, PAIR_EVERY);

        let by_address = counts
            .addresses
            .entry(address)
            .or_insert_with(|| Level::new(now));
        if by_address.drain(now, ADDRESS_EVERY) + 1.0 > ADDRESS_BURST {
            return Err(RetryAfter(by_address.wait(ADDRESS_BURST, ADDRESS_EVERY)));
        }
        let under_attack = counts
            .accounts
            .get_mut(username)
            .is_some_and(|l| l.drain(now, ACCOUNT_EVERY) >= ACCOUNT_UNDER_ATTACK);
        let key = (username.to_owned(), address);
        if under_attack {
            let full = counts.pairs.len() >= SWEEP_AT && !counts.pairs.contains_key(&key);
            if !full {
                let pair = counts.pairs.entry(key).or_insert_with(|| Level::new(now));
                if pair.drain(now, PAIR_EVERY) + 1.0 > PAIR_BURST {
                    return Err(RetryAfter(pair.wait(PAIR_BURST, PAIR_EVERY)));
                }
                pair.value += 1.0;
            }
        }
        if let Some(level) = counts.addresses.get_mut(&address) {
            level.value += 1.0;
        }
        Ok(Attempt {
            address,
            account: username.to_owned(),
            paired: under_attack,
        })
    }

    /// The password was right: the attempt's tokens come back.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut counts = self.lock();
        if let Some(level) = counts.addresses.get_mut(&attempt.address) {
            level.value = (level.value - 1.0).max(0.0);
        }
        if attempt.paired
            && let Some(level) = counts.pairs.get_mut(&(attempt.account, attempt.address))
        {
            level.value = (level.value - 1.0).max(0.0);
        }
    }

    /// The username or password was wrong: one more failure on the account.
    pub fn failed(&self, attempt: Attempt) {
        let now = Instant::now();
        let mut counts = self.lock();
        let full = counts.accounts.len() >= SWEEP_AT;
        match counts.accounts.get_mut(&attempt.account) {
            Some(level) => {
                level.drain(now, ACCOUNT_EVERY);
                level.value += 1.0;
            }
            None if !full => {
                counts.accounts.insert(
                    attempt.account,
                    Level {
                        value: 1.0,
                        at: now,
                    },
                );
            }
            None => {}
        }
    }

    /// Records a failed or refused login from `ip`: `Some(n)` when a log line is due, `n`
    /// being the failures it stands for.
    pub fn log_due(&self, ip: IpAddr) -> Option<u64> {
        self.log.event(address_key(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn an_address_gets_its_burst_then_waits() {
        let t = LoginThrottle::default();
        let attacker = ip("192.0.2.1");
        for _ in 0..ADDRESS_BURST as usize {
            let a = t.begin(attacker, "admin").expect("within the burst");
            t.failed(a);
        }
        let refused = t.begin(attacker, "admin").expect_err("over the burst");
        assert!(refused.0 > Duration::ZERO && refused.0 <= ADDRESS_EVERY);
        assert!(refused.seconds() >= 1);
        // Another address is not affected, and the account is not yet under attack.
        let a = t
            .begin(ip("198.51.100.9"), "admin")
            .expect("another address");
        t.succeeded(a);
    }

    #[test]
    fn successes_give_their_token_back() {
        let t = LoginThrottle::default();
        let office = ip("192.0.2.2");
        for _ in 0..3 * ADDRESS_BURST as usize {
            let a = t.begin(office, "alice").expect("successes never run out");
            t.succeeded(a);
        }
    }

    #[test]
    fn an_account_under_attack_keeps_a_budget_for_clean_addresses() {
        let t = LoginThrottle::default();
        // A distributed attack: 30 addresses, one failure each.
        for i in 0..30 {
            let a = t
                .begin(ip(&format!("203.0.113.{i}")), "admin")
                .expect("first try");
            t.failed(a);
        }
        // Each attacking address now has a small budget on this account...
        let attacker = ip("203.0.113.1");
        for _ in 0..PAIR_BURST as usize {
            let a = t.begin(attacker, "admin").expect("pair budget");
            t.failed(a);
        }
        assert!(t.begin(attacker, "admin").is_err());
        // ...and may still try other accounts; the real user from a clean address logs in.
        t.failed(t.begin(attacker, "bob").expect("other account"));
        let real = t.begin(ip("192.0.2.50"), "admin").expect("clean address");
        t.succeeded(real);
    }

    #[test]
    fn an_account_is_counted_whatever_the_case() {
        let t = LoginThrottle::default();
        for i in 0..=ACCOUNT_UNDER_ATTACK as usize {
            let name = if i % 2 == 0 { "Admin" } else { "aDMIN" };
            t.failed(
                t.begin(ip(&format!("203.0.113.{i}")), name)
                    .expect("first try"),
            );
        }
        let attacker = ip("203.0.113.1");
        for _ in 0..PAIR_BURST as usize {
            t.failed(t.begin(attacker, "ADMIN").expect("pair budget"));
        }
        assert!(t.begin(attacker, "admin").is_err());
    }

    #[test]
    fn ipv6_addresses_share_their_prefix() {
        let t = LoginThrottle::default();
        for i in 0..ADDRESS_BURST as usize {
            let a = t
                .begin(ip(&format!("2001:db8::{i:x}")), "x")
                .expect("burst");
            t.failed(a);
        }
        assert!(t.begin(ip("2001:db8::ffff"), "x").is_err());
        assert!(t.begin(ip("2001:db8:0:1::1"), "x").is_ok());
    }
}
