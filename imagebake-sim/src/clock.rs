//! Calendar arithmetic and the timestamp formats the simulators write.

// Each simulator (a cargo feature) uses a part of this.
#![cfg_attr(
    not(all(feature = "triton", feature = "oxide", feature = "osc")),
    allow(dead_code)
)]

use std::time::{SystemTime, UNIX_EPOCH};

/// (year, month, day) to days since 1970-01-01, proleptic Gregorian
/// (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `secs` since the epoch as RFC 3339 UTC with a `digits`-wide fraction
/// `frac`: `2024-01-15T00:00:00.000Z`.
pub(crate) fn format_utc(secs: i64, frac: u32, digits: usize) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let r = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:0digits$}Z",
        r / 3600,
        r % 3600 / 60,
        r % 60
    )
}

/// `t` as RFC 3339 UTC with milliseconds (CloudAPI, OAPI).
pub(crate) fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format_utc(
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        d.subsec_millis(),
        3,
    )
}

/// `t` as RFC 3339 UTC with microseconds (Oxide).
pub(crate) fn rfc3339_micros(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format_utc(
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        d.subsec_micros(),
        6,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn calendar_round_trips_across_eras_and_leap_days() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (2024, 12, 31),
            (1969, 12, 31),
            (2100, 3, 1),
        ] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2014, 1, 5), 16_075);
    }

    #[test]
    fn formats_with_millis_and_micros() {
        let t = UNIX_EPOCH + Duration::from_secs(1_705_276_800) + Duration::from_micros(42_123);
        assert_eq!(rfc3339_millis(t), "2024-01-15T00:00:00.042Z");
        assert_eq!(rfc3339_micros(t), "2024-01-15T00:00:00.042123Z");
    }
}
