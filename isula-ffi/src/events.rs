//! Engine events (`docker events`): a subscription delivers events to a callback.
//!
//! NOT YET IMPLEMENTED in this build: `isula_events_subscribe` checks its arguments and
//! returns `ISULA_UNIMPLEMENTED` until the engine's event bus is wired in. The signatures
//! are final.

use std::ffi::{c_char, c_void};
use std::ptr;

use isula_core::Error;

use crate::boundary::{guard, json_or_default, Out};
use crate::engine::{engine, isula_engine};
use crate::images::isula_json_cb;
use crate::status::isula_status;

/// A live event subscription: opaque to C. Release with `isula_subscription_close`.
pub struct isula_subscription {
    _private: (),
}

/// Subscribe to engine events. Each event is passed to `callback` as one JSON object
/// (`{"Type":"container","Action":"start","Actor":{"ID":"...","Attributes":{...}},"time":...,
/// "timeNano":...}`) on a thread owned by libisula, in order, until the subscription is closed.
///
/// - `engine` (borrowed, required): an open handle.
/// - `options_json` (borrowed, optional): `EventFilter`, `{"types":["container"],
///   "events":["start","die"],"containers":["web"],"images":[],"labels":["k=v"],
///   "since":<nanoseconds since the epoch>,"until":...}` (every key optional; with `since`,
///   past events are delivered first); NULL for all new events.
/// - `callback` (required): see `isula_json_cb`; here it runs on a library thread, so it must
///   be safe to call from another thread than the subscriber's.
/// - `user` (borrowed, optional): passed back to `callback` unchanged; must stay valid until
///   the subscription is closed.
/// - `out` (borrowed, required): receives the subscription, owned by the caller (release
///   with `isula_subscription_close`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread. Currently returns `ISULA_UNIMPLEMENTED`.
#[no_mangle]
pub unsafe extern "C" fn isula_events_subscribe(
    engine: *const isula_engine,
    options_json: *const c_char,
    callback: isula_json_cb,
    user: *mut c_void,
    out: *mut *mut isula_subscription,
    err: *mut *mut c_char,
) -> isula_status {
    let _ = user;
    guard(err, || {
        let _out = Out::new(out, "out", ptr::null_mut())?;
        let _e = self::engine(engine)?;
        if callback.is_none() {
            return Err(Error::invalid("argument `callback` must not be NULL"));
        }
        let _o: serde_json::Value = json_or_default(options_json, "options_json")?;
        Err(Error::unimplemented("events: the event stream is not available in this build of libisula yet"))
    })
}

/// Stop a subscription: after this returns, its callback is not running and is never called
/// again.
///
/// - `subscription` (owned, taken): from `isula_events_subscribe`, or NULL (no-op). It must
///   not be used afterwards. Must not be called from inside the subscription's callback.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_subscription_close(subscription: *mut isula_subscription) {
    if !subscription.is_null() {
        // SAFETY: came from Box::into_raw in `isula_events_subscribe` (caller's contract).
        drop(unsafe { Box::from_raw(subscription) });
    }
}
