//! Times as values: [`Timestamp`] (an instant, serialised as RFC 3339 the way Docker prints
//! Go's `time.Time`), RFC 3339 parsing and formatting, [`now`], and Docker's
//! [`human_duration`]. The only calendar arithmetic of isula lives here.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NANOS: i128 = 1_000_000_000;

/// Seconds from the Unix epoch back to Go's zero time, `0001-01-01T00:00:00Z`.
const GO_ZERO_SECS: i64 = -62_135_596_800;

/// An instant, with nanosecond precision, in UTC.
///
/// Serialises as RFC 3339 with the fraction trimmed of trailing zeros (Go's `RFC3339Nano`,
/// what Docker prints: `2024-01-02T03:04:05.123456789Z`). [`Timestamp::ZERO`] is Go's zero
/// time (`0001-01-01T00:00:00Z`), Docker's "never" (e.g. `FinishedAt` of a created container).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Nanoseconds since the Unix epoch (negative before 1970).
    nanos: i128,
}

impl Timestamp {
    /// Go's zero time, `0001-01-01T00:00:00Z`: "not set".
    pub const ZERO: Timestamp = Timestamp { nanos: GO_ZERO_SECS as i128 * NANOS };
    /// The Unix epoch, `1970-01-01T00:00:00Z`.
    pub const UNIX_EPOCH: Timestamp = Timestamp { nanos: 0 };

    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: i128) -> Self {
        Timestamp { nanos }
    }

    /// The instant `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Timestamp { nanos: secs as i128 * NANOS }
    }

    /// Nanoseconds since the Unix epoch (negative before 1970).
    pub const fn unix_nanos(self) -> i128 {
        self.nanos
    }

    /// Whole seconds since the Unix epoch (rounded down).
    pub const fn unix_secs(self) -> i64 {
        self.nanos.div_euclid(NANOS) as i64
    }

    /// The nanoseconds within the second (0..1e9).
    pub const fn subsec_nanos(self) -> u32 {
        self.nanos.rem_euclid(NANOS) as u32
    }

    /// Whether this is Go's zero time ("not set").
    pub fn is_zero(self) -> bool {
        self == Self::ZERO
    }

    /// How long after `earlier` this is; zero when it is not later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        let d = self.nanos - earlier.nanos;
        if d <= 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(d.min(u64::MAX as i128) as u64)
        }
    }

    /// The calendar fields of this instant in UTC.
    pub fn utc(self) -> UtcFields {
        let secs = self.unix_secs();
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

    /// RFC 3339 with the fraction trimmed of trailing zeros (Go's `RFC3339Nano`).
    pub fn to_rfc3339(self) -> String {
        let mut s = self.date_time();
        let n = self.subsec_nanos();
        if n != 0 {
            let frac = format!("{n:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        s.push('Z');
        s
    }

    /// RFC 3339 with exactly nine fraction digits (Docker's log timestamps).
    pub fn to_rfc3339_fixed(self) -> String {
        format!("{}.{:09}Z", self.date_time(), self.subsec_nanos())
    }

    /// RFC 3339 with exactly three fraction digits (the daemon's log lines).
    pub fn to_rfc3339_millis(self) -> String {
        format!("{}.{:03}Z", self.date_time(), self.subsec_nanos() / 1_000_000)
    }

    /// RFC 3339 without a fraction (`2024-01-02T03:04:05Z`).
    pub fn to_rfc3339_secs(self) -> String {
        format!("{}Z", self.date_time())
    }

    /// `2024-01-02 03:04:05 +0000 UTC`, as Go prints a UTC `time.Time`.
    pub fn to_go_string(self) -> String {
        let f = self.utc();
        format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000 UTC", f.year, f.month, f.day, f.hour, f.minute, f.second)
    }

    fn date_time(self) -> String {
        let f = self.utc();
        format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", f.year, f.month, f.day, f.hour, f.minute, f.second)
    }
}

impl Default for Timestamp {
    /// Go's zero time: "not set".
    fn default() -> Self {
        Self::ZERO
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp { nanos: d.as_nanos() as i128 },
            Err(e) => Timestamp { nanos: -(e.duration().as_nanos() as i128) },
        }
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        if t.nanos >= 0 {
            UNIX_EPOCH + Duration::from_nanos(t.nanos.min(u64::MAX as i128) as u64)
        } else {
            UNIX_EPOCH - Duration::from_nanos((-t.nanos).min(u64::MAX as i128) as u64)
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

/// A string that is not an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 time: {0:?}")]
pub struct ParseTimeError(pub String);

impl FromStr for Timestamp {
    type Err = ParseTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rfc3339(s).ok_or_else(|| ParseTimeError(s.to_string()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// Reads RFC 3339; an empty string (records written before times were values) is
    /// [`Timestamp::ZERO`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(Timestamp::ZERO);
        }
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Calendar fields of a UTC time.
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

/// The current time.
pub fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// Parse RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `t` or a space may separate date
/// and time). Digits of the fraction beyond nanoseconds are dropped.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut padded: String = digits.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        frac = padded.parse().ok()?;
    }
    let offset: i64 = match s.get(i..)? {
        "Z" | "z" => 0,
        rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && rest.as_bytes()[3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let v = oh * 3600 + om * 60;
            if rest.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some(Timestamp::from_unix_nanos(secs as i128 * NANOS + frac))
}

/// Docker's `HumanDuration` (go-units): "Less than a second", "1 second", "N seconds",
/// "About a minute", "N minutes", "About an hour" (hours round to nearest), "N hours",
/// "N days", "N weeks", "N months", "N years".
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let minutes = secs / 60;
    // Go: int(d.Hours() + 0.5)
    let hours = (d.as_nanos() + 1_800 * NANOS as u128) / (3_600 * NANOS as u128);
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", secs / 3600 / 24 / 365)
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// public-domain algorithm).
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

/// (year, month, day) to days since 1970-01-01 (the inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for d in [-800_000, -1, 0, 1, 19_782, 3_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn parse_and_format() {
        let t = Timestamp::from(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789));
        assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20.123456789Z");
        assert_eq!(t.to_rfc3339_millis(), "2023-11-14T22:13:20.123Z");
        assert_eq!(t.to_rfc3339_secs(), "2023-11-14T22:13:20Z");
        assert_eq!(t.to_go_string(), "2023-11-14 22:13:20 +0000 UTC");
        assert_eq!(parse_rfc3339(&t.to_rfc3339()), Some(t));
        assert_eq!(parse_rfc3339("2023-11-14T23:13:20.5+01:00").unwrap().unix_nanos(), 1_700_000_000_500_000_000);
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z").unwrap().unix_secs(), 951_782_400);
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(Timestamp::UNIX_EPOCH));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z").unwrap().unix_nanos(), 1_500_000_000);
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(parse_rfc3339("2023-13-14T22:13:20Z"), None);
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20+0100"), None);
        let half = Timestamp::from_unix_nanos(1_500_000_000);
        assert_eq!(half.to_rfc3339(), "1970-01-01T00:00:01.5Z");
        assert_eq!(half.to_rfc3339_fixed(), "1970-01-01T00:00:01.500000000Z");
    }

    #[test]
    fn zero_is_go_zero_time() {
        assert_eq!(Timestamp::ZERO.to_rfc3339(), "0001-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), Some(Timestamp::ZERO));
        assert!(Timestamp::default().is_zero());
    }

    #[test]
    fn serde_round_trip() {
        let t = Timestamp::from_unix_nanos(1_704_067_200_000_000_042);
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, "\"2024-01-01T00:00:00.000000042Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&j).unwrap(), t);
        assert_eq!(serde_json::from_str::<Timestamp>("\"\"").unwrap(), Timestamp::ZERO);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        let back: SystemTime = t.into();
        assert_eq!(Timestamp::from(back), t);
    }

    #[test]
    fn human_duration_docker_rules() {
        let s = Duration::from_secs;
        assert_eq!(human_duration(Duration::from_millis(10)), "Less than a second");
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(59)), "59 seconds");
        assert_eq!(human_duration(s(60)), "About a minute");
        assert_eq!(human_duration(s(119)), "About a minute");
        assert_eq!(human_duration(s(180)), "3 minutes");
        assert_eq!(human_duration(s(59 * 60 + 59)), "59 minutes");
        // Around the hour: hours round to the nearest (Go's int(d.Hours() + 0.5)).
        assert_eq!(human_duration(s(3600)), "About an hour");
        assert_eq!(human_duration(s(3600 + 29 * 60)), "About an hour");
        assert_eq!(human_duration(s(3600 + 30 * 60)), "2 hours");
        assert_eq!(human_duration(s(2 * 3600 + 29 * 60)), "2 hours");
        assert_eq!(human_duration(s(5 * 3600)), "5 hours");
        assert_eq!(human_duration(s(47 * 3600)), "47 hours");
        assert_eq!(human_duration(s(3 * 86400)), "3 days");
        assert_eq!(human_duration(s(21 * 86400)), "3 weeks");
        assert_eq!(human_duration(s(90 * 86400)), "3 months");
        assert_eq!(human_duration(s(3 * 365 * 86400)), "3 years");
    }
}
