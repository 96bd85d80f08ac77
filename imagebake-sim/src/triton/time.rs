//! ISO 8601 timestamps as CloudAPI writes them (`2024-01-15T00:00:00.000Z`).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::clock::days_from_civil;

/// `t` in UTC with milliseconds and a `Z` suffix.
pub(crate) use crate::clock::rfc3339_millis as rfc3339;

/// Parses an HTTP `Date` as JavaScript's `new Date()` would for the forms
/// clients send: IMF-fixdate (`Sun, 05 Jan 2014 21:31:40 GMT`, the weekday
/// not checked, `UTC` taken as `GMT`), RFC 850 and asctime.
pub(crate) fn parse_http_date(value: &str) -> Option<SystemTime> {
    if let Ok(t) = httpdate::parse_http_date(value) {
        return Some(t);
    }
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [_weekday, day, month, year, hms, zone] = fields.as_slice() else {
        return None;
    };
    if !matches!(*zone, "GMT" | "UTC" | "Z" | "+0000") {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? + 1;
    let day: u32 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let year: i64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let mut hms = hms.split(':').map(str::parse::<u64>);
    let (Some(Ok(h)), Some(Ok(m)), Some(Ok(s)), None) =
        (hms.next(), hms.next(), hms.next(), hms.next())
    else {
        return None;
    };
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(
        year,
        i64::try_from(month).ok()?,
        i64::from(day),
    ))
    .ok()?;
    Some(UNIX_EPOCH + std::time::Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_with_millis() {
        let t = UNIX_EPOCH + Duration::from_millis(1_705_276_800_123);
        assert_eq!(rfc3339(t), "2024-01-15T00:00:00.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn parses_http_dates_like_javascript() {
        let t = UNIX_EPOCH + Duration::from_secs(1_388_957_500);
        // 2014-01-05 was a Sunday; JS ignores the weekday, so do we.
        assert_eq!(parse_http_date("Thu, 05 Jan 2014 21:31:40 GMT"), Some(t));
        assert_eq!(parse_http_date("Sun, 05 Jan 2014 21:31:40 GMT"), Some(t));
        assert_eq!(parse_http_date("Sun, 05 Jan 2014 21:31:40 UTC"), Some(t));
        assert_eq!(parse_http_date("2014-01-05"), None);
        assert_eq!(parse_http_date("Sun, 05 Foo 2014 21:31:40 GMT"), None);
    }
}
