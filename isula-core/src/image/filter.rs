//! `docker images --filter` parsing and matching.

use std::collections::BTreeMap;

use super::store::ImageRecord;
use crate::error::{Error, Result};
use crate::reference::Reference;

/// Parsed list filters; the same key OR-ed, different keys AND-ed.
#[derive(Debug, Default, Clone)]
pub(crate) struct Filters {
    references: Vec<String>,
    dangling: Option<bool>,
    labels: Vec<(String, Option<String>)>,
    /// Images created before this time (from `before=<image>`).
    pub before: Option<i64>,
    /// Images created after this time (from `since=<image>`).
    pub since: Option<i64>,
    /// Raw `before`/`since` image names, resolved by the caller into the times above.
    pub before_ref: Option<String>,
    /// See `before_ref`.
    pub since_ref: Option<String>,
}

impl Filters {
    /// Parse `key=value` strings. Unknown keys or bad values are `InvalidArgument`.
    pub(crate) fn parse(filters: &[String]) -> Result<Self> {
        let mut f = Filters::default();
        for raw in filters {
            let (k, v) =
                raw.split_once('=').ok_or_else(|| Error::invalid(format!("bad filter {raw:?}: expected key=value")))?;
            match k {
                "reference" => {
                    if v.is_empty() {
                        return Err(Error::invalid("bad filter \"reference=\": empty pattern"));
                    }
                    f.references.push(v.to_string());
                }
                "dangling" => {
                    f.dangling = Some(match v {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(Error::invalid(format!("bad filter {raw:?}: dangling must be true or false"))),
                    })
                }
                "label" => {
                    let (lk, lv) = match v.split_once('=') {
                        Some((a, b)) => (a.to_string(), Some(b.to_string())),
                        None => (v.to_string(), None),
                    };
                    if lk.is_empty() {
                        return Err(Error::invalid(format!("bad filter {raw:?}: empty label key")));
                    }
                    f.labels.push((lk, lv));
                }
                "before" => f.before_ref = Some(v.to_string()),
                "since" => f.since_ref = Some(v.to_string()),
                _ => {
                    return Err(Error::invalid(format!(
                        "invalid filter {k:?} (known: reference, dangling, label, before, since)"
                    )))
                }
            }
        }
        Ok(f)
    }

    /// True when `rec` passes every filter.
    pub(crate) fn matches(&self, rec: &ImageRecord) -> bool {
        if let Some(d) = self.dangling {
            if rec.names.is_empty() != d {
                return false;
            }
        }
        if !self.references.is_empty()
            && !rec.names.iter().any(|n| self.references.iter().any(|p| reference_matches(p, n)))
        {
            return false;
        }
        if !labels_match(&self.labels, &rec.labels) {
            return false;
        }
        if self.before.map(|t| rec.created >= t).unwrap_or(false) {
            return false;
        }
        if self.since.map(|t| rec.created <= t).unwrap_or(false) {
            return false;
        }
        true
    }
}

fn labels_match(want: &[(String, Option<String>)], have: &BTreeMap<String, String>) -> bool {
    want.iter().all(|(k, v)| match (have.get(k), v) {
        (Some(_), None) => true,
        (Some(h), Some(v)) => h == v,
        (None, _) => false,
    })
}

/// Does pattern `p` (with `*` wildcards) match the full name `full` in any of its forms:
/// familiar with/without tag, full with/without tag?
fn reference_matches(p: &str, full: &str) -> bool {
    let Ok(r) = Reference::parse(full) else {
        return false;
    };
    let forms = [r.familiar(), r.familiar_repository(), r.to_string(), r.repository()];
    forms.iter().any(|f| glob(p, f))
}

/// Shell-style match with `*` (any run, not crossing `/`) and `?`.
pub(crate) fn glob(p: &str, s: &str) -> bool {
    let (p, s) = (p.as_bytes(), s.as_bytes());
    fn m(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != b'/').any(|i| m(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && s[0] != b'/' && m(&p[1..], &s[1..]),
            Some(c) => !s.is_empty() && s[0] == *c && m(&p[1..], &s[1..]),
        }
    }
    m(p, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("busy*", "busybox"));
        assert!(glob("busy*", "busybox:latest"));
        assert!(!glob("busy*", "docker.io/library/busybox"));
        assert!(glob("*/library/*", "docker.io/library/busybox"));
        assert!(glob("b?sybox", "busybox"));
        assert!(!glob("busy", "busybox"));
    }

    #[test]
    fn reference_forms() {
        assert!(reference_matches("busy*", "docker.io/library/busybox:latest"));
        assert!(reference_matches("busybox:latest", "docker.io/library/busybox:latest"));
        assert!(reference_matches("docker.io/library/busybox", "docker.io/library/busybox:latest"));
        assert!(!reference_matches("alp*", "docker.io/library/busybox:latest"));
        assert!(reference_matches("localhost:5000/*", "localhost:5000/app:v1"));
    }

    #[test]
    fn bad_filters() {
        for f in ["nokey", "colour=red", "dangling=maybe", "label=", "reference="] {
            assert_eq!(Filters::parse(&[f.to_string()]).unwrap_err().kind(), crate::ErrorKind::InvalidArgument, "{f}");
        }
    }
}
