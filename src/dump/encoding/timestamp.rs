//! PostgreSQL timestamps as the dump writes them: `YYYY-MM-DD HH:MM:SS[.ffffff][+00]` (the fraction
//! loses trailing zeros and disappears on whole seconds), and the `--since` dates users type.
//! Everything becomes seconds since the Unix epoch (UTC).

/// Parse a dump timestamp into Unix seconds (the fraction is dropped).
pub fn parse(field: &[u8]) -> Option<i64> {
    let field = field.strip_suffix(b"+00").unwrap_or(field);
    if field.len() < 19 {
        return None;
    }
    let (date, rest) = field.split_at(10);
    let days = parse_date(date)?;
    if rest[0] != b' ' && rest[0] != b'T' || rest[3] != b':' || rest[6] != b':' {
        return None;
    }
    let (h, m, s) = (num(&rest[1..3])?, num(&rest[4..6])?, num(&rest[7..9])?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let frac = &rest[9..];
    if !frac.is_empty()
        && (frac[0] != b'.' || frac.len() > 7 || frac.len() < 2 || !frac[1..].iter().all(u8::is_ascii_digit))
    {
        return None;
    }
    Some(days * 86_400 + (h * 3600 + m * 60 + s) as i64)
}

/// Parse `YYYY-MM-DD` into days since 1970-01-01.
pub fn parse_date(field: &[u8]) -> Option<i64> {
    if field.len() != 10 || field[4] != b'-' || field[7] != b'-' {
        return None;
    }
    let year = num(&field[0..4])? as i64;
    let (month, day) = (num(&field[5..7])?, num(&field[8..10])?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// `YYYY-MM-DD` of a day count since the epoch.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM:SS+00`, the way the dump writes a whole second.
pub fn format(seconds: i64) -> String {
    let (days, secs) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    format!("{} {:02}:{:02}:{:02}+00", format_date(days), secs / 3600, secs / 60 % 60, secs % 60)
}

/// The year of a day count since the epoch.
pub fn year_of(days: i64) -> i64 {
    civil_from_days(days).0
}

fn num(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u32))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil calendar algorithms.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_forms() {
        assert_eq!(parse(b"1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse(b"2024-03-01 12:30:05.1234+00"), Some(1_709_296_205));
        assert_eq!(parse(b"2024-03-01 12:30:05+00"), Some(1_709_296_205));
        assert_eq!(parse(b"2024-03-01 12:30:05.123456"), Some(1_709_296_205));
        for bad in [
            &b"2024-02-30 00:00:00"[..],
            b"2024-13-01 00:00:00",
            b"yesterday",
            b"2024-03-01 12:30:05.",
            b"2024-03-01 25:00:00",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn dates_roundtrip() {
        for text in ["1970-01-01", "2000-02-29", "2025-01-01", "2026-12-31"] {
            assert_eq!(format_date(parse_date(text.as_bytes()).unwrap()), text);
        }
        assert_eq!(parse_date(b"2023-02-29"), None);
        assert_eq!(format(1_709_296_205), "2024-03-01 12:30:05+00");
        assert_eq!(year_of(parse_date(b"2025-06-01").unwrap()), 2025);
    }
}
