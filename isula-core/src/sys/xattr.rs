//! Extended attributes on paths, without following symlinks.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

fn cpath(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(format!("path contains NUL: {}", path.display())))
}

/// Set extended attribute `name` on `path` (the link itself, for symlinks).
#[cfg(test)]
pub(crate) fn lset(path: &Path, name: &str, value: &[u8]) -> Result<()> {
    let p = cpath(path)?;
    let n = CString::new(name).map_err(|_| Error::invalid(format!("xattr name contains NUL: {name:?}")))?;
    // SAFETY: valid NUL-terminated strings and a buffer with its exact length.
    let rc = unsafe { libc::lsetxattr(p.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if rc != 0 {
        return Err(Error::io(path, &format!("set xattr {name} on"), std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Read extended attribute `name` of `path`; `Ok(None)` when it is not set.
pub(crate) fn lget(path: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    let p = cpath(path)?;
    let n = CString::new(name).map_err(|_| Error::invalid(format!("xattr name contains NUL: {name:?}")))?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: buffer pointer and length describe a live allocation.
    let rc = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENODATA) {
            return Ok(None);
        }
        return Err(Error::io(path, &format!("get xattr {name} of"), err));
    }
    buf.truncate(rc as usize);
    Ok(Some(buf))
}

/// List the extended attribute names of `path`.
pub(crate) fn llist(path: &Path) -> Result<Vec<String>> {
    let p = cpath(path)?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: buffer pointer and length describe a live allocation.
    let rc = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        return Err(Error::io(path, "list xattrs of", std::io::Error::last_os_error()));
    }
    buf.truncate(rc as usize);
    Ok(buf.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect())
}
