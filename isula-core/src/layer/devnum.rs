//! Device numbers of tar entries, read as GNU tar and Python's tarfile write them: they leave
//! the fields of a FIFO (and sometimes of devices) empty, which is zero, not corruption.

/// Byte ranges of the ustar `devmajor` and `devminor` fields.
const MAJOR: std::ops::Range<usize> = 329..337;
const MINOR: std::ops::Range<usize> = 337..345;

/// `(major, minor)` of a device or FIFO entry. A field of only NULs and spaces is 0; `None`
/// when a field holds something that is not a number.
pub(crate) fn device_numbers(h: &tar::Header) -> Option<(u32, u32)> {
    let raw = h.as_bytes();
    let field = |range: std::ops::Range<usize>, parsed: std::io::Result<Option<u32>>| match parsed {
        Ok(v) => Some(v.unwrap_or(0)),
        Err(_) if raw[range].iter().all(|b| *b == 0 || *b == b' ') => Some(0),
        Err(_) => None,
    };
    Some((field(MAJOR, h.device_major())?, field(MINOR, h.device_minor())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(major: &[u8], minor: &[u8]) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Fifo);
        let b = h.as_mut_bytes();
        b[MAJOR].fill(0);
        b[MINOR].fill(0);
        b[MAJOR.start..MAJOR.start + major.len()].copy_from_slice(major);
        b[MINOR.start..MINOR.start + minor.len()].copy_from_slice(minor);
        h
    }

    #[test]
    fn blank_fields_are_zero() {
        assert_eq!(device_numbers(&header(b"", b"")), Some((0, 0)));
        assert_eq!(device_numbers(&header(b"       ", b"    ")), Some((0, 0)));
        assert_eq!(device_numbers(&header(b"0000001\0", b"0000003\0")), Some((1, 3)));
        assert_eq!(device_numbers(&header(b"", b"0000005\0")), Some((0, 5)));
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(device_numbers(&header(b"zz", b"")), None);
        assert_eq!(device_numbers(&header(b"", b"9x")), None);
    }
}
