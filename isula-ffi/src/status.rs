//! `isula_status`: the result code of every call, one per [`ErrorKind`].

use std::ffi::c_char;

use isula_core::ErrorKind;

/// Result code of every libisula call. `ISULA_OK` (0) is success; every other value names
/// the kind of failure (the same kinds drive the daemon's gRPC codes and the CLI's exit codes).
/// A NULL pointer where one is required, a string that is not UTF-8, or malformed or
/// ill-typed JSON is reported as `ISULA_INVALID_ARGUMENT`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum isula_status {
    /// Success.
    ISULA_OK = 0,
    /// The named object (image, container, file, ...) does not exist.
    ISULA_NOT_FOUND = 1,
    /// An object with that identity already exists.
    ISULA_ALREADY_EXISTS = 2,
    /// The request is malformed: NULL pointer, bad UTF-8, bad JSON, bad reference, bad archive.
    ISULA_INVALID_ARGUMENT = 3,
    /// The system is not in a state that allows the operation.
    ISULA_FAILED_PRECONDITION = 4,
    /// The request conflicts with another object (e.g. an image in use).
    ISULA_CONFLICT = 5,
    /// A resource is temporarily unavailable (root locked by another engine, registry down).
    ISULA_UNAVAILABLE = 6,
    /// The caller may not do this.
    ISULA_PERMISSION_DENIED = 7,
    /// The operation is declared but not implemented in this build.
    ISULA_UNIMPLEMENTED = 8,
    /// A bug or an unexpected system failure (including a caught panic).
    ISULA_INTERNAL = 9,
}

impl From<ErrorKind> for isula_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NotFound => isula_status::ISULA_NOT_FOUND,
            ErrorKind::AlreadyExists => isula_status::ISULA_ALREADY_EXISTS,
            ErrorKind::InvalidArgument => isula_status::ISULA_INVALID_ARGUMENT,
            ErrorKind::FailedPrecondition => isula_status::ISULA_FAILED_PRECONDITION,
            ErrorKind::Conflict => isula_status::ISULA_CONFLICT,
            ErrorKind::Unavailable => isula_status::ISULA_UNAVAILABLE,
            ErrorKind::PermissionDenied => isula_status::ISULA_PERMISSION_DENIED,
            ErrorKind::Unimplemented => isula_status::ISULA_UNIMPLEMENTED,
            ErrorKind::Internal => isula_status::ISULA_INTERNAL,
        }
    }
}

/// Static, NUL-terminated name of each status, indexed by its value.
const NAMES: [&str; 10] = [
    "ok\0",
    "not_found\0",
    "already_exists\0",
    "invalid_argument\0",
    "failed_precondition\0",
    "conflict\0",
    "unavailable\0",
    "permission_denied\0",
    "unimplemented\0",
    "internal\0",
];

/// The lower-case name of a status value (`"not_found"`, ...), or `"unknown"` for a value
/// that is not an `isula_status`.
///
/// Returns a static string owned by the library: never free it.
/// Thread safety: safe to call from any thread at any time.
#[no_mangle]
pub extern "C" fn isula_status_name(status: i32) -> *const c_char {
    let name = usize::try_from(status).ok().and_then(|i| NAMES.get(i)).copied().unwrap_or("unknown\0");
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn names_match_error_kinds() {
        let kinds = [
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::InvalidArgument,
            ErrorKind::FailedPrecondition,
            ErrorKind::Conflict,
            ErrorKind::Unavailable,
            ErrorKind::PermissionDenied,
            ErrorKind::Unimplemented,
            ErrorKind::Internal,
        ];
        for k in kinds {
            let s = isula_status::from(k);
            let name = unsafe { CStr::from_ptr(isula_status_name(s as i32)) };
            assert_eq!(name.to_str().unwrap(), k.as_str());
        }
        let ok = unsafe { CStr::from_ptr(isula_status_name(0)) };
        assert_eq!(ok.to_str().unwrap(), "ok");
        for bad in [-1, 10, i32::MAX] {
            let n = unsafe { CStr::from_ptr(isula_status_name(bad)) };
            assert_eq!(n.to_str().unwrap(), "unknown");
        }
    }
}
