//! UTC calendar formatting shared by the daemon (log timestamps) and the CLI (Go-style
//! `CreatedAt` columns, event times), without a date crate.

/// Calendar fields of a UTC time: year, month (1-12), day, hour, minute, second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcFields {
    /// Year (proleptic Gregorian).
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-59.
    pub second: u32,
}

/// The UTC calendar fields of `secs` seconds since the epoch.
pub fn utc_fields(secs: i64) -> UtcFields {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    UtcFields {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
    }
}

/// RFC 3339 UTC with milliseconds: `2026-01-02T03:04:05.678Z`.
pub fn rfc3339_millis(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let f = utc_fields(d.as_secs() as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        f.year,
        f.month,
        f.day,
        f.hour,
        f.minute,
        f.second,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's public-domain algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
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
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let f = utc_fields(1_700_000_000);
        assert_eq!((f.year, f.month, f.day, f.hour, f.minute, f.second), (2023, 11, 14, 22, 13, 20));
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_678);
        assert_eq!(rfc3339_millis(t), "2023-11-14T22:13:20.678Z");
    }
}
