//! Volumes: name validation (the data types of `volume ls/inspect/create/prune` live here
//! too).

use crate::{Error, Result};

/// Checks a volume name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (Docker's grammar).
pub fn validate_name(name: &str) -> Result<()> {
    if crate::container::parse::is_valid_name(name) {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid volume name {name:?}: must match [a-zA-Z0-9][a-zA-Z0-9_.-]+")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("data_1.v-2").is_ok());
        let e = validate_name("-x").unwrap_err();
        assert_eq!(e.to_string(), "invalid volume name \"-x\": must match [a-zA-Z0-9][a-zA-Z0-9_.-]+");
        assert!(validate_name("a").is_err());
        assert!(validate_name("a/b").is_err());
    }
}
