//! Running engine calls on tokio's blocking pool, and stream feeders on threads of their own.

use tonic::Status;

use crate::status::status;

/// Run the blocking engine call `f` on the blocking pool; engine errors become statuses.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce() -> isula_core::Result<T> + Send + 'static,
{
    let _busy = crate::memory::busy();
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            log::debug!("engine error: {e}");
            Err(status(&e))
        }
        Err(e) => Err(Status::internal(format!("engine call failed: {e}"))),
    }
}

/// Run `f`, which lasts as long as a client's stream does (a wait, a followed log, an attach,
/// an exec's output, a stats or event feed), on a thread of its own rather than the blocking
/// pool: the pool has 64 threads, and as many waiting clients would take them all and stall
/// every other call of the daemon.
pub(crate) fn spawn_stream(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), Status> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(|_| ())
        .map_err(|e| Status::unavailable(format!("cannot start a thread for the {name} stream: {e}")))
}
