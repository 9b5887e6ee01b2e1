//! `isula_status`: the result code of every call, one per [`ErrorKind`].

use std::ffi::c_char;

use isula_core::{ErrorKind, Reason};

include!(concat!(env!("OUT_DIR"), "/symver_status.rs"));

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

/// Static, NUL-terminated name of a reason (the same as `Reason::as_str`).
fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::NoSuchContainer => "no_such_container\0",
        Reason::NoSuchImage => "no_such_image\0",
        Reason::NoSuchNetwork => "no_such_network\0",
        Reason::NoSuchVolume => "no_such_volume\0",
        Reason::NoSuchPath => "no_such_path\0",
        Reason::NameInUse => "name_in_use\0",
        Reason::CommandNotFound => "command_not_found\0",
        Reason::CommandNotExecutable => "command_not_executable\0",
        Reason::NotRunning => "not_running\0",
        Reason::Cancelled => "cancelled\0",
    }
}

/// The machine-readable reason of the last call on this thread that failed, or NULL when
/// that call succeeded or its failure has no specific reason. Reasons refine the status:
/// `"no_such_container"`, `"no_such_image"`, `"no_such_network"`, `"no_such_volume"`,
/// `"no_such_path"`, `"name_in_use"`, `"command_not_found"` (Docker's exit code 127),
/// `"command_not_executable"` (126), `"not_running"`, `"cancelled"`. Every libisula call
/// resets it, so read it right after the call that failed, on the same thread.
///
/// Returns a static string owned by the library (never free it) or NULL.
/// Thread safety: safe from any thread; each thread sees its own last call.
#[no_mangle]
pub extern "C" fn isula_last_error_reason() -> *const c_char {
    match crate::boundary::last_reason() {
        Some(r) => reason_name(r).as_ptr().cast(),
        None => std::ptr::null(),
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
        for r in Reason::ALL {
            assert_eq!(reason_name(r).strip_suffix('\0'), Some(r.as_str()));
        }
        for bad in [-1, 10, i32::MAX] {
            let n = unsafe { CStr::from_ptr(isula_status_name(bad)) };
            assert_eq!(n.to_str().unwrap(), "unknown");
        }
    }
}
