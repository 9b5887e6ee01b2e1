//! Masked and read-only paths: the defaults, or exactly the list the caller gives (CRI).

use serde_json::{json, Value};

use super::{MASKED_PATHS, READONLY_PATHS};
use crate::container::options::CreateOptions;
use crate::{Error, Result};

fn check(what: &str, paths: &[String]) -> Result<()> {
    for p in paths {
        if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
            return Err(Error::invalid(format!("invalid {what} {p:?}: must be an absolute path")));
        }
    }
    Ok(())
}

/// `linux.maskedPaths` and `linux.readonlyPaths` of a non-privileged container: each the
/// caller's list when given (`Some`, possibly empty), else the defaults.
pub(crate) fn masked_and_readonly(o: &CreateOptions) -> Result<(Value, Value)> {
    let masked = match &o.masked_paths {
        Some(v) => {
            check("masked path", v)?;
            json!(v)
        }
        None => json!(MASKED_PATHS),
    };
    let readonly = match &o.readonly_paths {
        Some(v) => {
            check("read-only path", v)?;
            json!(v)
        }
        None => json!(READONLY_PATHS),
    };
    Ok((masked, readonly))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_or_exactly_the_given_lists() {
        let mut o = CreateOptions::default();
        let (m, r) = masked_and_readonly(&o).unwrap();
        assert_eq!(m, json!(MASKED_PATHS));
        assert_eq!(r, json!(READONLY_PATHS));
        o.masked_paths = Some(vec![]);
        o.readonly_paths = Some(vec!["/etc".into()]);
        let (m, r) = masked_and_readonly(&o).unwrap();
        assert_eq!(m, json!([]));
        assert_eq!(r, json!(["/etc"]));
        o.masked_paths = Some(vec!["proc/kcore".into()]);
        assert_eq!(masked_and_readonly(&o).unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
    }
}
