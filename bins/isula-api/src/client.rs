//! Connecting a tonic [`Channel`] to the daemon over a unix socket or TCP.

use std::path::PathBuf;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::addr::Addr;

/// Connect to `addr` now (not lazily), so a daemon that is not running is reported at once.
pub async fn connect(addr: &Addr) -> Result<Channel, tonic::transport::Error> {
    match addr {
        Addr::Unix(path) => {
            let path: PathBuf = path.clone();
            // The URI is required by the API but unused: the connector ignores it.
            Endpoint::from_static("http://isulad.sock")
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        let s = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(s))
                    }
                }))
                .await
        }
        Addr::Tcp(hp) => {
            let ep = Endpoint::from_shared(format!("http://{hp}"))?;
            ep.connect().await
        }
    }
}
