//! The panic and error boundary every export goes through, and the checked conversions of
//! C arguments (strings, paths, JSON) and results (owned C strings).

use std::any::Any;
use std::cell::Cell;
use std::ffi::{c_char, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::ptr;

use isula_core::{Error, Reason, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::status::isula_status;

thread_local! {
    /// The reason of the last failed call on this thread (`isula_last_error_reason`).
    static LAST_REASON: Cell<Option<Reason>> = const { Cell::new(None) };
}

/// The reason of the last call made through [`guard`] on this thread, if it failed with one.
pub(crate) fn last_reason() -> Option<Reason> {
    LAST_REASON.with(Cell::get)
}

/// Run `f` behind a panic boundary. Clears `*err` first (when `err` is not NULL); on failure
/// stores the message there as a string the caller frees with `isula_string_free`, and the
/// error's reason for `isula_last_error_reason` (cleared by every call).
/// A panic becomes `ISULA_INTERNAL` with the panic message.
pub(crate) fn guard(err: *mut *mut c_char, f: impl FnOnce() -> Result<()>) -> isula_status {
    if !err.is_null() {
        // SAFETY: the caller passes NULL or a pointer to writable storage for one pointer.
        unsafe { *err = ptr::null_mut() };
    }
    LAST_REASON.with(|r| r.set(None));
    let (status, message) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return isula_status::ISULA_OK,
        Ok(Err(e)) => {
            LAST_REASON.with(|r| r.set(e.reason()));
            (isula_status::from(e.kind()), e.to_string())
        }
        Err(payload) => {
            (isula_status::ISULA_INTERNAL, format!("internal error (panic in libisula): {}", panic_text(payload)))
        }
    };
    if !err.is_null() {
        // SAFETY: as above.
        unsafe { *err = into_c_string(message) };
    }
    status
}

/// The message of a panic payload. The payload is dropped behind its own boundary, since
/// dropping an arbitrary payload may itself panic.
fn panic_text(payload: Box<dyn Any + Send>) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    };
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    text
}

/// An owned C string for the caller (`isula_string_free`); interior NULs become `\u0000`.
pub(crate) fn into_c_string(s: String) -> *mut c_char {
    let s = if s.contains('\0') { s.replace('\0', "\\u0000") } else { s };
    CString::new(s).unwrap_or_default().into_raw()
}

/// Bytes of a required C string argument.
fn bytes<'a>(p: *const c_char, name: &str) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(Error::invalid(format!("argument `{name}` must not be NULL")));
    }
    // SAFETY: the caller promises a NUL-terminated string that outlives the call.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// A required UTF-8 string argument.
pub(crate) fn text<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    std::str::from_utf8(bytes(p, name)?)
        .map_err(|e| Error::invalid(format!("argument `{name}` is not valid UTF-8: {e}")))
}

/// An optional UTF-8 string argument (NULL gives `None`).
pub(crate) fn opt_text<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        text(p, name).map(Some)
    }
}

/// A required path argument: any bytes but NUL, not empty.
pub(crate) fn path(p: *const c_char, name: &str) -> Result<PathBuf> {
    let b = bytes(p, name)?;
    if b.is_empty() {
        return Err(Error::invalid(format!("argument `{name}` is an empty path")));
    }
    Ok(PathBuf::from(OsStr::from_bytes(b)))
}

/// A required JSON argument parsed into `T`.
pub(crate) fn json<T: DeserializeOwned>(p: *const c_char, name: &str) -> Result<T> {
    let s = text(p, name)?;
    serde_json::from_str(s)
        .map_err(|e| Error::invalid(format!("argument `{name}` is not valid JSON for its schema: {e}")))
}

/// An optional JSON argument: NULL (or an empty string) gives `T::default()`; in a JSON object,
/// keys left out take their default values (so `{"Filters":["dangling=true"]}` is enough).
pub(crate) fn json_or_default<T: DeserializeOwned + Serialize + Default>(p: *const c_char, name: &str) -> Result<T> {
    let given: serde_json::Value = match opt_text(p, name)? {
        None => return Ok(T::default()),
        Some(s) if s.trim().is_empty() => return Ok(T::default()),
        Some(_) => json(p, name)?,
    };
    let merged = match (serde_json::to_value(T::default()), given) {
        (Ok(serde_json::Value::Object(mut base)), serde_json::Value::Object(over)) => {
            base.extend(over);
            serde_json::Value::Object(base)
        }
        (_, other) => other,
    };
    serde_json::from_value(merged)
        .map_err(|e| Error::invalid(format!("argument `{name}` is not valid JSON for its schema: {e}")))
}

/// A required output pointer for one value of type `T`, cleared (set to `empty`) at once.
pub(crate) struct Out<T: Copy> {
    ptr: *mut T,
}

impl<T: Copy> Out<T> {
    /// Check `p` is not NULL and store `empty` in it.
    pub(crate) fn new(p: *mut T, name: &str, empty: T) -> Result<Self> {
        if p.is_null() {
            return Err(Error::invalid(format!("output argument `{name}` must not be NULL")));
        }
        // SAFETY: the caller passes a pointer to writable storage for one T.
        unsafe { *p = empty };
        Ok(Out { ptr: p })
    }

    /// Store the result.
    pub(crate) fn set(self, v: T) {
        // SAFETY: checked non-NULL in `new`.
        unsafe { *self.ptr = v };
    }
}

/// A required `char **` output.
pub(crate) type OutString = Out<*mut c_char>;

/// A required `char **` output, cleared to NULL.
pub(crate) fn out_string(p: *mut *mut c_char, name: &str) -> Result<OutString> {
    Out::new(p, name, ptr::null_mut())
}

impl OutString {
    /// Store an owned copy of `s`.
    pub(crate) fn set_string(self, s: String) {
        self.set(into_c_string(s));
    }

    /// Store `v` serialised as JSON.
    pub(crate) fn set_json<V: Serialize>(self, v: &V) -> Result<()> {
        let s = serde_json::to_string(v)
            .map_err(|e| Error::internal(format!("cannot serialise the result as JSON: {e}")))?;
        self.set_string(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(p: *mut c_char) -> String {
        assert!(!p.is_null());
        unsafe { CString::from_raw(p) }.into_string().unwrap()
    }

    #[test]
    fn panic_becomes_internal_with_message() {
        let mut err = ptr::null_mut();
        let st = guard(&mut err, || panic!("boom {}", 42));
        assert_eq!(st, isula_status::ISULA_INTERNAL);
        let m = take(err);
        assert!(m.contains("panic") && m.contains("boom 42"), "{m}");
        // NULL err is allowed
        assert_eq!(guard(ptr::null_mut(), || panic!("x")), isula_status::ISULA_INTERNAL);
    }

    #[test]
    fn errors_keep_kind_and_message_and_ok_clears_err() {
        let mut err = into_c_string("stale".into());
        let stale = err;
        // the stale pointer is the caller's; free it ourselves after guard overwrote it
        let st = guard(&mut err, || Err(Error::not_found("image foo not found")));
        drop(take(stale));
        assert_eq!(st, isula_status::ISULA_NOT_FOUND);
        assert_eq!(take(err), "image foo not found");
        let mut err = ptr::null_mut();
        assert_eq!(guard(&mut err, || Ok(())), isula_status::ISULA_OK);
        assert!(err.is_null());
    }

    #[test]
    fn the_last_failed_call_keeps_its_reason_until_the_next_call() {
        let st = guard(ptr::null_mut(), || Err(Error::not_found("x").with_reason(Reason::NoSuchImage)));
        assert_eq!((st, last_reason()), (isula_status::ISULA_NOT_FOUND, Some(Reason::NoSuchImage)));
        guard(ptr::null_mut(), || Err(Error::internal("no reason")));
        assert_eq!(last_reason(), None);
        guard(ptr::null_mut(), || Err(Error::conflict("x").with_reason(Reason::NameInUse)));
        guard(ptr::null_mut(), || Ok(()));
        assert_eq!(last_reason(), None);
    }

    #[test]
    fn argument_checks() {
        assert_eq!(text(ptr::null(), "name").unwrap_err().kind(), isula_core::ErrorKind::InvalidArgument);
        let bad = b"\xff\xfe\0";
        let e = text(bad.as_ptr().cast(), "name").unwrap_err();
        assert!(e.to_string().contains("UTF-8") && e.to_string().contains("`name`"), "{e}");
        // paths may be any bytes
        assert_eq!(path(bad.as_ptr().cast(), "p").unwrap().as_os_str().as_bytes(), b"\xff\xfe");
        assert!(path(c"".as_ptr(), "p").is_err());
        let v: Vec<String> = json_or_default(ptr::null(), "o").unwrap();
        assert!(v.is_empty());
        #[derive(serde::Serialize, serde::Deserialize, Default, Debug)]
        struct Opts {
            all: bool,
            filters: Vec<String>,
        }
        let o: Opts = json_or_default(c"{\"filters\":[\"a=b\"]}".as_ptr(), "o").unwrap();
        assert!(!o.all && o.filters == ["a=b"]);
        let e = json_or_default::<Opts>(c"{\"all\":3}".as_ptr(), "o").unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        let e = json_or_default::<Opts>(c"[1]".as_ptr(), "o").unwrap_err();
        assert!(e.to_string().contains("`o`"), "{e}");
        let e = json::<Vec<String>>(c"{".as_ptr(), "o").unwrap_err();
        assert!(e.to_string().contains("`o`"), "{e}");
        assert!(out_string(ptr::null_mut(), "out").is_err());
        assert_eq!(take(into_c_string("a\0b".into())), "a\\u0000b");
    }
}
