//! Connecting a tonic [`Channel`] to the daemon over a unix socket or TCP.

use std::path::PathBuf;

use hyper_util::rt::TokioIo;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

use crate::addr::Addr;

/// PEM material for mutual TLS over TCP.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// CA certificate(s) that signed the peer's certificate.
    pub ca: Vec<u8>,
    /// Own certificate chain.
    pub cert: Vec<u8>,
    /// Own private key.
    pub key: Vec<u8>,
}

/// Connect to `addr` now (not lazily), so a daemon that is not running is reported at once.
/// `tls` is used for TCP addresses (mutual TLS); unix sockets ignore it.
pub async fn connect(addr: &Addr, tls: Option<&TlsFiles>) -> Result<Channel, tonic::transport::Error> {
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
        Addr::Tcp(hp) => match tls {
            None => Endpoint::from_shared(format!("http://{hp}"))?.connect().await,
            Some(t) => {
                let host = hp.rsplit_once(':').map_or(hp.as_str(), |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let cfg = ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(&t.ca))
                    .identity(Identity::from_pem(&t.cert, &t.key))
                    .domain_name(host);
                Endpoint::from_shared(format!("https://{hp}"))?.tls_config(cfg)?.connect().await
            }
        },
    }
}
