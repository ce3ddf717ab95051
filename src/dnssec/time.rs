//! UTC timestamps as DNSSEC writes them: `YYYYMMDDHHMMSS` in key files (and RRSIG presentation
//! form), from and to Unix seconds, with the civil-date arithmetic of the proleptic Gregorian
//! calendar (days from 1970-01-01).

/// The current time in Unix seconds (0 for a clock before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Parses `YYYYMMDDHHMMSS` (UTC, years 1970-9999) into Unix seconds.
pub fn parse_timestamp(s: &str) -> Option<u64> {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let (y, mo, d, h, mi, se) = (n(0..4)?, n(4..6)?, n(6..8)?, n(8..10)?, n(10..12)?, n(12..14)?);
    if y < 1970 || !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y as i64, mo) || h > 23 || mi > 59 || se > 60
    {
        return None;
    }
    let days = days_from_civil(y as i64, mo, d);
    Some(days as u64 * 86_400 + h as u64 * 3600 + mi as u64 * 60 + se as u64)
}

fn parts(t: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = (t / 86_400) as i64;
    let rem = t % 86_400;
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Unix seconds as `YYYYMMDDHHMMSS` (UTC).
pub fn format_timestamp(t: u64) -> String {
    let (y, m, d, h, mi, s) = parts(t);
    format!("{y:04}{m:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// Unix seconds as BIND's comment form in `.key` files: `Sun Dec  6 06:40:00 2026`.
pub fn format_human(t: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d, h, mi, s) = parts(t);
    let wd = DAYS[((t / 86_400) % 7) as usize];
    format!("{wd} {} {d:>2} {h:02}:{mi:02}:{s:02} {y}", MONTHS[(m - 1) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        // 2026-12-06 06:40:00 UTC, a Sunday.
        let t = 1_796_539_200;
        assert_eq!(format_timestamp(t), "20261206064000");
        assert_eq!(parse_timestamp("20261206064000"), Some(t));
        assert_eq!(format_human(t), "Sun Dec  6 06:40:00 2026");
        assert_eq!(parse_timestamp("19700101000000"), Some(0));
        assert_eq!(
            parse_timestamp("20240229120000").map(format_timestamp).as_deref(),
            Some("20240229120000")
        );
        for bad in [
            "20230229000000",
            "2026120606400",
            "20261306064000",
            "2026120606400x",
            "19691231235959",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
