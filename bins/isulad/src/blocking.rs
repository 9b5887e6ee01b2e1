//! Running engine calls on tokio's blocking pool.

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
