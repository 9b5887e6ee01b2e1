//! Docker-style human output: sizes in decimal units, "3 minutes ago", UTC times and
//! tab-separated rows aligned like Go's tabwriter (min width 10, padding 3).

use isula_types::time::{human_duration, now, Timestamp};

/// `size` in decimal units with 3 significant digits, as Docker's `HumanSizeWithPrecision(_, 3)`:
/// `999B`, `4.26MB`, `12kB`.
pub(crate) fn human_size(size: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", sig3(v), UNITS[i])
}

/// Go's `%.3g` for 0 <= v < 1000.
fn sig3(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = (v.abs().log10().floor() as i32 + 1).max(1);
    let decimals = (3 - digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    // Rounding up can reach 1000 (999.5 -> "1000"): Go prints 1e+03.
    if s == "1000" {
        "1e+03".into()
    } else {
        s
    }
}

/// "3 minutes ago" for a time `created` (seconds since the epoch).
pub(crate) fn ago(created: i64) -> String {
    let t = Timestamp::from_unix_secs(created);
    format!("{} ago", human_duration(now().since(t)))
}

/// `2024-01-02 03:04:05 +0000 UTC`, as Go prints a UTC `time.Time`.
pub(crate) fn utc(t: i64) -> String {
    Timestamp::from_unix_secs(t).to_go_string()
}

/// Align tab-separated lines into columns: each cell but a line's last is padded to the
/// column's widest cell plus 3 spaces, at least 10 wide (Docker's tabwriter settings).
pub(crate) fn align(lines: &[String]) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            let w = c.chars().count();
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(w);
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                let w = (widths[i] + 3).max(10);
                out.push_str(c);
                out.push_str(&" ".repeat(w - c.chars().count()));
            } else {
                out.push_str(c);
            }
        }
        out.push('\n');
    }
    out
}

/// Short id: without `sha256:`, 12 characters.
pub(crate) fn short_id(id: &str) -> String {
    id.strip_prefix("sha256:").unwrap_or(id).chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(12_345), "12.3kB");
        assert_eq!(human_size(123_456_789), "123MB");
        assert_eq!(human_size(1_500_000_000), "1.5GB");
    }

    #[test]
    fn durations_like_docker() {
        // The duration rules themselves are tested in isula_types::time.
        assert_eq!(ago(now().unix_secs() - 180), "3 minutes ago");
        assert_eq!(ago(now().unix_secs() + 5), "Less than a second ago");
        assert_eq!(utc(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 +0000 UTC");
    }

    #[test]
    fn columns_align() {
        let t = align(&["REPOSITORY\tTAG\tIMAGE ID".into(), "busybox\tlatest\tabc".into()]);
        assert_eq!(t, "REPOSITORY   TAG       IMAGE ID\nbusybox      latest    abc\n");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
