//! Streams: attach, streamed exec, a stats stream and a log follow, each delivered to a callback
//! on a thread owned by libisula until it ends or the caller stops it (`isula_stream_close`,
//! or `isula_engine_close` for every stream of the engine).

use std::ffi::{c_char, c_void, CString};
use std::net::Shutdown;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use isula_core::unstable::follow_logs;
use isula_core::{AttachEvent, AttachStream, Engine, Error, ErrorKind, Reason, Result};
use isula_core::{ExecOptions, LogOptions, Status};
use serde::Serialize;

use crate::boundary::{guard, json, json_or_default, text, Out};
use crate::containers::LogEntry;
use crate::engine::{handle, isula_engine};
use crate::images::isula_json_cb;
use crate::status::isula_status;

include!(concat!(env!("OUT_DIR"), "/symver_streams.rs"));

/// A callback that receives output bytes of a process (attach and exec streams).
///
/// - `fd`: 1 for stdout, 2 for stderr (a TTY's output is all stdout).
/// - `data` (borrowed): `len` bytes, valid only during the call; not NUL-terminated.
/// - `user`: the `user` pointer given to the call that opened the stream.
///
/// Stream callbacks run on a thread owned by libisula, one call at a time, in output order.
/// They must not unwind through libisula and must not close their own stream or the engine.
pub type isula_output_cb = Option<unsafe extern "C" fn(fd: i32, data: *const u8, len: usize, user: *mut c_void)>;

/// A running stream: opaque to C. Release with `isula_stream_close`.
pub struct isula_stream {
    ctl: Arc<Ctl>,
}

/// How a stream ended.
#[derive(Clone)]
enum End {
    /// The process exited with this code (attach, exec) or the data ended (0).
    Code(i32),
    /// Its thread failed.
    Failed(ErrorKind, String, Option<Reason>),
    /// Stopped by `isula_stream_close` or `isula_engine_close` before it ended.
    Stopped,
}

/// The control block of a stream, shared by its handle, its thread and the engine handle.
pub(crate) struct Ctl {
    stop: AtomicBool,
    /// The attach connection (attach and exec streams): stdin and resize go through it, and
    /// shutting it down wakes the reading thread.
    io: Mutex<Option<AttachStream>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    end: Mutex<Option<End>>,
    ended: Condvar,
}

/// Lock a mutex, ignoring poisoning (a panicking callback thread is caught already).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ctl {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Stop the stream: no callback runs after this returns (unless called from the
    /// stream's own thread, which then just stops delivering).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(s) = lock(&self.io).as_ref() {
            let _ = s.socket().shutdown(Shutdown::Both);
        }
        let t = lock(&self.thread).take();
        if let Some(t) = t {
            if t.thread().id() == std::thread::current().id() {
                return; // from a callback: the thread ends once it returns
            }
            let _ = t.join();
        }
        lock(&self.io).take();
        self.finish(End::Stopped);
    }

    /// Record the end (the first one wins) and wake waiters.
    fn finish(&self, end: End) {
        let mut e = lock(&self.end);
        if e.is_none() {
            *e = Some(end);
        }
        self.ended.notify_all();
    }

    /// Wait for the end, at most `timeout` (None: forever).
    fn wait(&self, timeout: Option<Duration>) -> Option<End> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut e = lock(&self.end);
        loop {
            if let Some(end) = e.as_ref() {
                return Some(end.clone());
            }
            e = match deadline {
                None => self.ended.wait(e).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    self.ended.wait_timeout(e, d - now).unwrap_or_else(|p| p.into_inner()).0
                }
            };
        }
    }
}

/// A C callback and its user pointer, moved to a stream thread.
struct Sink<F> {
    cb: F,
    user: *mut c_void,
}

// SAFETY: the caller promises the callback and `user` may be used from a library thread
// (stated in the contract of every function that opens a stream).
unsafe impl<F: Send> Send for Sink<F> {}

impl Sink<unsafe extern "C" fn(i32, *const u8, usize, *mut c_void)> {
    fn output(&self, fd: i32, data: &[u8]) {
        // SAFETY: the caller's callback, with a buffer valid during the call.
        unsafe { (self.cb)(fd, data.as_ptr(), data.len(), self.user) };
    }
}

impl Sink<unsafe extern "C" fn(*const c_char, *mut c_void)> {
    fn json<T: Serialize>(&self, v: &T) {
        if let Ok(c) = serde_json::to_string(v).map(|s| CString::new(s).unwrap_or_default()) {
            // SAFETY: the caller's callback, with a NUL-terminated string valid during the call.
            unsafe { (self.cb)(c.as_ptr(), self.user) };
        }
    }
}

/// Start a stream thread running `body` and register it with the engine handle.
fn spawn(
    h: &isula_engine,
    name: &str,
    io: Option<AttachStream>,
    body: impl FnOnce(&Ctl) -> Result<i32> + Send + 'static,
) -> Result<*mut isula_stream> {
    let ctl = Arc::new(Ctl {
        stop: AtomicBool::new(false),
        io: Mutex::new(io),
        thread: Mutex::new(None),
        end: Mutex::new(None),
        ended: Condvar::new(),
    });
    let c = ctl.clone();
    // Hold the thread's start until it is registered, so a stop always finds the handle.
    let registered = lock(&ctl.thread);
    let t = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&c)));
            let end = match r {
                _ if c.stopped() => End::Stopped,
                Ok(Ok(code)) => End::Code(code),
                Ok(Err(e)) => End::Failed(e.kind(), e.to_string(), e.reason()),
                Err(_) => End::Failed(ErrorKind::Internal, "internal error (panic in a libisula stream)".into(), None),
            };
            c.finish(end);
        })
        .map_err(|e| Error::internal(format!("cannot start the stream thread: {e}")))?;
    let mut slot = registered;
    *slot = Some(t);
    drop(slot);
    let mut list = lock(&h.streams);
    list.retain(|w| w.strong_count() > 0);
    list.push(Arc::downgrade(&ctl));
    Ok(Box::into_raw(Box::new(isula_stream { ctl })))
}

/// The borrowed stream behind a handle argument.
fn stream<'a>(p: *const isula_stream) -> Result<&'a isula_stream> {
    if p.is_null() {
        return Err(Error::invalid("argument `stream` must not be NULL"));
    }
    // SAFETY: the caller passes a live stream (not yet closed).
    Ok(unsafe { &*p })
}

/// How often stream threads look at the stop flag while they wait for a process.
const POLL: Duration = Duration::from_millis(100);

/// Read attach events into `sink` until the exit frame or the end of the connection;
/// the exit code when the frame came.
fn pump(
    ctl: &Ctl,
    r: &mut AttachStream,
    sink: &Sink<unsafe extern "C" fn(i32, *const u8, usize, *mut c_void)>,
) -> Result<Option<i32>> {
    loop {
        if ctl.stopped() {
            return Ok(None);
        }
        match r.read_event() {
            Ok(Some(AttachEvent::Stdout(b))) => sink.output(1, &b),
            Ok(Some(AttachEvent::Stderr(b))) => sink.output(2, &b),
            Ok(Some(AttachEvent::Exit(st))) => return Ok(Some(st.code)),
            Ok(None) => return Ok(None),
            Err(_) if ctl.stopped() => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// The exit code of container `id` once it is not running (polling the stop flag).
fn container_exit(ctl: &Ctl, e: &Engine, id: &str) -> Result<i32> {
    use isula_core::WaitCondition;
    loop {
        if ctl.stopped() {
            return Ok(-1);
        }
        if let Some(code) = e.containers().wait_timeout(id, WaitCondition::NotRunning, Some(POLL))? {
            return Ok(code);
        }
    }
}

/// The required output callback of a stream call.
fn output_cb(cb: isula_output_cb) -> Result<Sink<unsafe extern "C" fn(i32, *const u8, usize, *mut c_void)>> {
    cb.map(|cb| Sink { cb, user: ptr::null_mut() }).ok_or_else(|| Error::invalid("argument `output` must not be NULL"))
}

/// Attach to a running container's stdio (`docker attach`): output produced from now on goes
/// to `output` on a library thread; stdin (when the container was created with `OpenStdin`)
/// is written with `isula_stream_write_stdin`. The stream ends when the container exits:
/// `isula_stream_wait` then gives its exit code.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `output` (required): receives stdout (fd 1) and stderr (fd 2) bytes; see `isula_output_cb`.
/// - `user` (borrowed, optional): passed back to `output` unchanged; never dereferenced by
///   libisula, and must stay valid until the stream is closed.
/// - `out_stream` (borrowed, required): receives the stream, owned by the caller (release with
///   `isula_stream_close`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_FAILED_PRECONDITION` when the container
///   is not running.
///
/// Thread safety: safe from any thread; `output` runs on a library thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_attach(
    engine: *const isula_engine,
    id: *const c_char,
    output: isula_output_cb,
    user: *mut c_void,
    out_stream: *mut *mut isula_stream,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = Out::new(out_stream, "out_stream", ptr::null_mut())?;
        let h = handle(engine)?;
        let id = text(id, "id")?.to_string();
        let mut sink = output_cb(output)?;
        sink.user = user;
        let conn = h.inner.containers().attach(&id)?;
        let mut reader = conn.try_clone()?;
        let e = h.inner.clone();
        out.set(spawn(h, "isula-attach", Some(conn), move |ctl| {
            let sink = sink;
            match pump(ctl, &mut reader, &sink)? {
                Some(code) => Ok(code),
                None => container_exit(ctl, &e, &id),
            }
        })?);
        Ok(())
    })
}

/// Run a command in a running container with its stdio streamed (`docker exec [-i] [-t]`):
/// output goes to `output` on a library thread, stdin is written with
/// `isula_stream_write_stdin` (with `"AttachStdin":true`) and closed with
/// `isula_stream_close_stdin`, a TTY is sized with `isula_stream_resize`. The stream ends
/// when the process exits: `isula_stream_wait` then gives its exit code. With `"Detach":true`
/// nothing is streamed and the stream just waits for the exit.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `options_json` (borrowed, required): `ExecOptions`, e.g.
///   `{"Cmd":["sh"],"AttachStdin":true,"Tty":false,"Env":["A=b"],"User":"0:0","WorkingDir":"/"}`.
/// - `output` (required): receives stdout (fd 1) and stderr (fd 2) bytes; see `isula_output_cb`.
/// - `user` (borrowed, optional): passed back to `output` unchanged; must stay valid until the
///   stream is closed.
/// - `out_stream` (borrowed, required): receives the stream, owned by the caller (release with
///   `isula_stream_close`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Closing the stream (or the engine) before the process exits leaves it running.
/// Thread safety: safe from any thread; `output` runs on a library thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_exec_start(
    engine: *const isula_engine,
    id: *const c_char,
    options_json: *const c_char,
    output: isula_output_cb,
    user: *mut c_void,
    out_stream: *mut *mut isula_stream,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = Out::new(out_stream, "out_stream", ptr::null_mut())?;
        let h = handle(engine)?;
        let id = text(id, "id")?;
        let opts: ExecOptions = json(options_json, "options_json")?;
        let mut sink = output_cb(output)?;
        sink.user = user;
        let mut exec = h.inner.containers().exec(id, &opts)?;
        let mut reader = exec.take_stream();
        let writer = reader.as_ref().map(AttachStream::try_clone).transpose()?;
        out.set(spawn(h, "isula-exec", writer, move |ctl| {
            let sink = sink;
            if let Some(r) = reader.as_mut() {
                pump(ctl, r, &sink)?;
            }
            // The shim's record of the exit (and the exec_die event) is the authority.
            loop {
                if ctl.stopped() {
                    return Ok(-1);
                }
                if let Some(code) = exec.wait_timeout(POLL)? {
                    return Ok(code);
                }
            }
        })?);
        Ok(())
    })
}

/// Stream a container's resource usage (`docker stats`): one `ContainerStats` JSON object
/// (`{"id":...,"name":...,"stats":{...},"cpu_percent":1.5,"memory_percent":0.3,...}`) about
/// every second to `callback` on a library thread, until the container stops (then
/// `isula_stream_wait` gives 0) or the stream is closed (within about a second).
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `callback` (required): receives each sample; see `isula_json_cb` (but it runs on a
///   library thread).
/// - `user` (borrowed, optional): passed back to `callback` unchanged; must stay valid until
///   the stream is closed.
/// - `out_stream` (borrowed, required): receives the stream, owned by the caller (release with
///   `isula_stream_close`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_NOT_FOUND` for an unknown container.
///
/// Thread safety: safe from any thread; `callback` runs on a library thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_stats_stream(
    engine: *const isula_engine,
    id: *const c_char,
    callback: isula_json_cb,
    user: *mut c_void,
    out_stream: *mut *mut isula_stream,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = Out::new(out_stream, "out_stream", ptr::null_mut())?;
        let h = handle(engine)?;
        let id = h.inner.containers().record(text(id, "id")?)?.id;
        let cb = callback.ok_or_else(|| Error::invalid("argument `callback` must not be NULL"))?;
        let sink = Sink { cb, user };
        let e = h.inner.clone();
        out.set(spawn(h, "isula-stats", None, move |ctl| {
            let sink = sink;
            e.containers().stats(&id, true, &mut |s| {
                if ctl.stopped() {
                    return false;
                }
                sink.json(s);
                !ctl.stopped()
            })?;
            Ok(0)
        })?);
        Ok(())
    })
}

/// Follow a container's log (`docker logs -f`): the entries so far, then new ones as they are
/// written, each as `{"Stream":"stdout","Time":"2024-...Z","Log":"hello\n"}` to `callback` on a
/// library thread, until the container stops (the rest of the log is delivered, then
/// `isula_stream_wait` gives 0) or the stream is closed.
///
/// - `engine` (borrowed, required): an open handle.
/// - `id` (borrowed, required): container id, unique id prefix or name.
/// - `options_json` (borrowed, optional): as for `isula_container_logs` (`Tail`, `Since`,
///   `Until`, `Stdout`, `Stderr`; `Follow` is implied); NULL for everything.
/// - `callback` (required): receives each entry; see `isula_json_cb` (but it runs on a library
///   thread).
/// - `user` (borrowed, optional): passed back to `callback` unchanged; must stay valid until
///   the stream is closed.
/// - `out_stream` (borrowed, required): receives the stream, owned by the caller (release with
///   `isula_stream_close`); NULL on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread; `callback` runs on a library thread.
#[no_mangle]
pub unsafe extern "C" fn isula_container_logs_follow(
    engine: *const isula_engine,
    id: *const c_char,
    options_json: *const c_char,
    callback: isula_json_cb,
    user: *mut c_void,
    out_stream: *mut *mut isula_stream,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = Out::new(out_stream, "out_stream", ptr::null_mut())?;
        let h = handle(engine)?;
        let rec = h.inner.containers().record(text(id, "id")?)?;
        let mut opts: LogOptions = json_or_default(options_json, "options_json")?;
        opts.follow = true;
        let cb = callback.ok_or_else(|| Error::invalid("argument `callback` must not be NULL"))?;
        if rec.log_path.as_os_str().is_empty() {
            return Err(Error::precondition(format!(
                "configured logging driver does not support reading (container {} logs to none)",
                rec.id
            )));
        }
        let sink = Sink { cb, user };
        let e = h.inner.clone();
        out.set(spawn(h, "isula-logs", None, move |ctl| {
            let sink = sink;
            let keep = || {
                !ctl.stopped()
                    && e.containers()
                        .record(&rec.id)
                        .is_ok_and(|r| r.state.status.is_active() || r.state.status == Status::Restarting)
            };
            follow_logs(&rec.log_path, &opts, &keep, &mut |l| {
                if ctl.stopped() {
                    return false;
                }
                sink.json(&LogEntry { stream: l.stream, time: l.time, log: l.log });
                true
            })?;
            Ok(0)
        })?);
        Ok(())
    })
}

/// Run `f` on the attach connection of an attach or exec stream.
fn with_io(p: *const isula_stream, f: impl FnOnce(&mut AttachStream) -> Result<()>) -> Result<()> {
    let s = stream(p)?;
    let mut io = lock(&s.ctl.io);
    match io.as_mut() {
        Some(c) => f(c),
        None if s.ctl.stopped() => Err(Error::precondition("the stream is closed")),
        None => Err(Error::precondition("this stream has no process input (not an attach or attached exec stream)")),
    }
}

/// Write bytes to the stdin of an attach or exec stream's process (ignored when its stdin
/// is not open: created without `OpenStdin`, exec without `AttachStdin`).
///
/// - `stream` (borrowed, required): from `isula_container_attach` or `isula_container_exec_start`.
/// - `data` (borrowed): `len` bytes; may be NULL when `len` is 0.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success. `ISULA_UNAVAILABLE` when the process is gone.
///
/// Thread safety: safe from any thread, including the stream's callback.
#[no_mangle]
pub unsafe extern "C" fn isula_stream_write_stdin(
    stream: *const isula_stream,
    data: *const u8,
    len: usize,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let bytes: &[u8] = if len == 0 {
            &[]
        } else if data.is_null() {
            return Err(Error::invalid("argument `data` must not be NULL"));
        } else {
            // SAFETY: the caller passes `len` readable bytes.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        with_io(stream, |c| c.write_stdin(bytes))
    })
}

/// Close the stdin of an attach or exec stream's process (end of input, `^D` on a TTY).
///
/// - `stream` (borrowed, required): from `isula_container_attach` or `isula_container_exec_start`.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_stream_close_stdin(stream: *const isula_stream, err: *mut *mut c_char) -> isula_status {
    guard(err, || with_io(stream, AttachStream::close_stdin))
}

/// Set the TTY size of an attach or exec stream's process (when it has a TTY).
///
/// - `stream` (borrowed, required): from `isula_container_attach` or `isula_container_exec_start`.
/// - `rows`, `cols`: the new size, both above 0.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn isula_stream_resize(
    stream: *const isula_stream,
    rows: u16,
    cols: u16,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        if rows == 0 || cols == 0 {
            return Err(Error::invalid(format!("invalid TTY size {rows}x{cols}: both must be above 0")));
        }
        with_io(stream, |c| c.resize(rows, cols))
    })
}

/// Wait until a stream ends by itself: the process exited (attach, exec), the container
/// stopped (stats, log follow).
///
/// - `stream` (borrowed, required): an open stream.
/// - `timeout_ms`: the most to wait, in milliseconds; negative for no limit.
/// - `exit_code` (borrowed, optional): when not NULL, receives the process' exit code (attach,
///   exec; 128+signal when killed) or 0 (stats, log follow); -1 on failure.
/// - `err` (borrowed, optional): receives the error message on failure (free with
///   `isula_string_free`), NULL on success.
///
/// Returns `ISULA_UNAVAILABLE` ("timed out …") when it has not ended in time, the stream's own
/// error when it failed, and `ISULA_FAILED_PRECONDITION` with reason `cancelled` when it was
/// stopped by `isula_engine_close`. Thread safety: safe from any thread, not from the
/// stream's callback.
#[no_mangle]
pub unsafe extern "C" fn isula_stream_wait(
    stream: *const isula_stream,
    timeout_ms: i64,
    exit_code: *mut i32,
    err: *mut *mut c_char,
) -> isula_status {
    guard(err, || {
        let out = if exit_code.is_null() { None } else { Some(Out::new(exit_code, "exit_code", -1)?) };
        let s = self::stream(stream)?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        match s.ctl.wait(timeout) {
            None => Err(Error::unavailable(format!("timed out after {timeout_ms} ms waiting for the stream to end"))),
            Some(End::Code(c)) => {
                if let Some(o) = out {
                    o.set(c);
                }
                Ok(())
            }
            Some(End::Failed(kind, msg, reason)) => {
                let e = Error::new(kind, msg);
                Err(match reason {
                    Some(r) => e.with_reason(r),
                    None => e,
                })
            }
            Some(End::Stopped) => {
                Err(Error::precondition("the stream was stopped before it ended").with_reason(Reason::Cancelled))
            }
        }
    })
}

/// Stop a stream and release it: after this returns its callback is not running and is never
/// called again. A process behind an exec stream keeps running; an attached container too.
///
/// - `stream` (owned, taken): from a function that opens a stream, or NULL (no-op). It must
///   not be used afterwards. It may be closed before or after its engine.
///
/// Thread safety: safe from any thread. From inside the stream's own callback it only stops
/// the delivery (the callback is not called again once it returns).
#[no_mangle]
pub unsafe extern "C" fn isula_stream_close(stream: *mut isula_stream) {
    if stream.is_null() {
        return;
    }
    // SAFETY: came from Box::into_raw in `spawn` (caller's contract).
    let s = unsafe { Box::from_raw(stream) };
    let _ = guard(ptr::null_mut(), move || {
        s.ctl.stop();
        Ok(())
    });
}
