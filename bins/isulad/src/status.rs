//! Engine errors to gRPC statuses: one `ErrorKind` gives one code, the message is the engine's.
//!
//! `Conflict` (the object is in a state that forbids the call because of another object or
//! a concurrent change, e.g. removing an image a container uses) maps to `ABORTED`; `ABORTED`
//! is gRPC's code for conflicts and keeps them apart from `FAILED_PRECONDITION` (wrong state
//! of the object itself), so the CLI can tell the two apart.

use isula_core::{Error, ErrorKind};
use tonic::{Code, Status};

/// The gRPC code of an engine error kind.
pub(crate) fn code(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::FailedPrecondition => Code::FailedPrecondition,
        ErrorKind::Conflict => Code::Aborted,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::Unimplemented => Code::Unimplemented,
        ErrorKind::Internal => Code::Internal,
    }
}

/// The status for an engine error, carrying its full message and, when it has one, its
/// reason in the `isula-reason` metadata ([`isula_api::REASON_KEY`]).
pub(crate) fn status(e: &Error) -> Status {
    let mut s = Status::new(code(e.kind()), e.to_string());
    if let Some(r) = e.reason() {
        s.metadata_mut().insert(isula_api::REASON_KEY, tonic::metadata::MetadataValue::from_static(r.as_str()));
    }
    s
}

/// `INVALID_ARGUMENT` for a malformed JSON field of a request.
pub(crate) fn bad_json(field: &str, e: serde_json::Error) -> Status {
    Status::invalid_argument(format!("request field {field} is not valid JSON: {e}"))
}

/// Parse a JSON option field; an empty string gives the type's default.
pub(crate) fn parse_opts<T: serde::de::DeserializeOwned + Default>(field: &str, s: &str) -> Result<T, Status> {
    if s.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(s).map_err(|e| bad_json(field, e))
}

/// Serialise a reply value (cannot fail for the engine's plain types; reported as INTERNAL if it does).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Status> {
    serde_json::to_string(v).map_err(|e| Status::internal(format!("cannot encode reply: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_codes() {
        let e = Error::not_found("image \"x\" not found");
        let s = status(&e);
        assert_eq!(s.code(), Code::NotFound);
        assert!(s.message().contains("image \"x\""));
        assert_eq!(code(ErrorKind::Conflict), Code::Aborted);
        assert_eq!(code(ErrorKind::Unimplemented), Code::Unimplemented);
        assert_eq!(status(&Error::invalid("bad")).code(), Code::InvalidArgument);
        assert!(status(&Error::invalid("bad")).metadata().get(isula_api::REASON_KEY).is_none());
        for r in isula_core::Reason::ALL {
            let s = status(&Error::not_found("x").with_reason(r));
            assert_eq!(s.metadata().get(isula_api::REASON_KEY).unwrap().to_str().unwrap(), r.as_str());
        }
        #[derive(serde::Deserialize, Default, Debug)]
        struct O {
            a: u32,
        }
        assert_eq!(parse_opts::<O>("f", "").unwrap().a, 0);
        assert_eq!(parse_opts::<O>("f", "{\"a\":3}").unwrap().a, 3);
        let err = parse_opts::<O>("options_json", "{").unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains("options_json"));
    }
}
