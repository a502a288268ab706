//! Dates as people read them in the activity feed and the dashboard: `3 Jan 2027` and `3 Jan 2027, 14:05 UTC`,
//! from unix seconds, without a calendar crate (the civil-from-days algorithm of Howard Hinnant's `date` library).

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// (year, month 1..=12, day 1..=31) of the UTC day `unix` falls in.
fn civil(unix: i64) -> (i64, usize, i64) {
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as usize, day)
}

/// The UTC day of `unix`: `3 Jan 2027`.
pub fn day(unix: i64) -> String {
    let (year, month, day) = civil(unix);
    format!("{day} {} {year}", MONTHS[month - 1])
}

/// `unix` in ISO 8601 (UTC, to the second), for machines: `2027-01-03T14:05:59Z`.
pub fn iso(unix: i64) -> String {
    let (year, month, day) = civil(unix);
    let secs = unix.rem_euclid(86_400);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// The UTC day and minute of `unix`: `3 Jan 2027, 14:05 UTC`.
pub fn moment(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!("{}, {:02}:{:02} UTC", day(unix), secs / 3600, secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_as_people_write_them() {
        assert_eq!(day(0), "1 Jan 1970");
        assert_eq!(day(1_798_934_400), "3 Jan 2027");
        assert_eq!(moment(1_798_934_400 + 14 * 3600 + 5 * 60 + 59), "3 Jan 2027, 14:05 UTC");
        assert_eq!(day(951_782_400), "29 Feb 2000", "leap day of a century leap year");
        assert_eq!(day(4_107_456_000), "28 Feb 2100");
        assert_eq!(day(4_107_542_400), "1 Mar 2100", "2100 is not a leap year");
        assert_eq!(day(-86_400), "31 Dec 1969");
        assert_eq!(iso(1_798_934_400 + 14 * 3600 + 5 * 60 + 59), "2027-01-03T14:05:59Z");
    }
}
