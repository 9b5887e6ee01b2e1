//! Engine events (`docker events`): a subscription delivers events to a callback on a thread
//! owned by libisula until it is closed.

use std::ffi::{c_char, c_void, CString};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use isula_core::Error;
use isula_core::{next_live, Live};
use isula_core::{Event, EventFilter};

use crate::boundary::{guard, json_or_default, Out};
use crate::engine::{engine, isula_engine};
use crate::images::isula_json_cb;
use crate::status::isula_status;

include!(concat!(env!("OUT_DIR"), "/symver_events.rs"));

/// A live event subscription: opaque to C. Release with `isula_subscription_close`.
pub struct isula_subscription {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The C callback and its user pointer, moved to the delivery thread.
struct Sink {
    cb: unsafe extern "C" fn(*const c_char, *mut c_void),
    user: *mut c_void,
}

// SAFETY: the caller promises the callback and `user` may be used from a library thread
// (stated in `isula_events_subscribe`'s contract).
unsafe impl Send for Sink {}

impl Sink {
    fn deliver(&self, ev: &Event) {
        if let Ok(c) = serde_json::to_string(ev).map(|s| CString::new(s).unwrap_or_default()) {
            // SAFETY: the caller's callback, called with a NUL-terminated string valid during the call.
            unsafe { (self.cb)(c.as_ptr(), self.user) };
        }
    }
}

/// How often the delivery thread checks for `isula_subscription_close`.
const POLL: Duration = Duration::from_millis(50);

/// Subscribe to engine events. Each event is passed to `callback` as one JSON object
/// (`{"Type":"container","Action":"start","Actor":{"ID":"...","Attributes":{...}},"time":...,
/// "timeNano":...}`) on a thread owned by libisula, in order, until the subscription is closed.
///
/// - `engine` (borrowed, required): an open handle.
/// - `options_json` (borrowed, optional): `EventFilter`, `{"type":["container"],
///   "event":["start","die"],"container":["web"],"image":[],"label":["k=v"],
///   "since":<nanoseconds since the epoch>,"until":...}` (every key optional; with `since`,
///   past events are delivered first, each event once; with `until`, delivery ends once that
///   time has passed); NULL for all new events.
/// - `callback` (required): see `isula_json_cb`; here it runs on a library thread, so it must
///   be safe to call from another thread than the subscriber's.
/// - `user` (borrowed, optional): passed back to `callback` unchanged; must stay valid until
///   the subscription is closed.
/// - `out` (borrowed, required): receives the subscription, owned by the caller (release
///   with `isula_subscription_close`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_events_subscribe(
    engine: *const isula_engine,
    options_json: *const c_char,
    callback: isula_json_cb,
    user: *mut c_void,
    out: *mut *mut isula_subscription,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = Out::new(out, "out", ptr::null_mut())?;
        let e = self::engine(engine)?;
        let cb = callback.ok_or_else(|| Error::invalid("argument `callback` must not be NULL"))?;
        let filter: EventFilter = json_or_default(options_json, "options_json")?;
        let (history, rx) = e.events(&filter);
        let stop = Arc::new(AtomicBool::new(false));
        let sink = Sink { cb, user };
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("isula-events".into())
            .spawn(move || {
                let sink = sink;
                for ev in &history {
                    if flag.load(Ordering::SeqCst) {
                        return;
                    }
                    sink.deliver(ev);
                }
                while !flag.load(Ordering::SeqCst) {
                    match next_live(&rx, &filter, POLL) {
                        Live::Event(ev) => sink.deliver(&ev),
                        Live::Idle => {}
                        Live::End => return,
                    }
                }
            })
            .map_err(|e| Error::internal(format!("cannot start the event delivery thread: {e}")))?;
        out.set(Box::into_raw(Box::new(isula_subscription { stop, thread: Some(thread) })));
        Ok(())
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
    if subscription.is_null() {
        return;
    }
    // SAFETY: came from Box::into_raw in `isula_events_subscribe` (caller's contract).
    let mut sub = unsafe { Box::from_raw(subscription) };
    let _ = guard(ptr::null_mut(), move || {
        sub.stop.store(true, Ordering::SeqCst);
        if let Some(t) = sub.thread.take() {
            let _ = t.join();
        }
        Ok(())
    });
}
