//! The emulator's own clock: starts at real time (or at a set offset from it, `--clock-offset`), ticks with it, and
//! jumps forward on request.

use std::time::{SystemTime, UNIX_EPOCH};

/// Real wall-clock time in unix seconds.
pub fn real_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Emulated time: real time plus an offset; can be pinned while billing replays past-due moments.
#[derive(Debug, Default, Clone)]
pub struct Clock {
    offset: i64,
    pinned: Option<i64>,
}

impl Clock {
    /// A clock running `seconds` ahead of real time (behind it when negative), like a Stripe account whose clock
    /// started elsewhere: every object and event it stamps is that far off.
    pub fn offset_by(seconds: i64) -> Self {
        Self { offset: seconds, pinned: None }
    }

    /// The current emulated unix time.
    pub fn now(&self) -> i64 {
        self.pinned.unwrap_or_else(|| real_now().saturating_add(self.offset))
    }

    /// Moves the clock forward (negative values are ignored: time does not go back).
    pub fn advance(&mut self, seconds: i64) {
        self.offset = self.offset.saturating_add(seconds.max(0));
    }

    /// Pins `now()` to `at` (used while billing processes a moment in the past of the new time).
    pub fn pin(&mut self, at: Option<i64>) {
        self.pinned = at;
    }
}

/// Adds `count` intervals (`day`, `week`, `month`, `year`) to a unix time, months by calendar (clamped to the
/// last day of shorter months, like Stripe's billing cycle anchor).
pub fn add_interval(t: i64, interval: &str, count: i64) -> i64 {
    let count = count.max(1);
    match interval {
        "day" => t + 86_400 * count,
        "week" => t + 7 * 86_400 * count,
        "month" | "year" => {
            let months = if interval == "year" { 12 * count } else { count };
            let days = t.div_euclid(86_400);
            let secs = t.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            let total = y * 12 + (m as i64 - 1) + months;
            let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
            let nd = d.min(days_in_month(ny, nm));
            days_from_civil(ny, nm, nd) * 86_400 + secs
        }
        _ => t + 30 * 86_400 * count,
    }
}

/// `YYYY-MM-DD` for a unix time (UTC), for pages.
pub fn date_string(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{} {d}, {y}", MONTHS[(m as usize).saturating_sub(1).min(11)])
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Real wall-clock time in unix milliseconds.
pub fn real_now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
