//! SPDY/3.1 as the Kubernetes streaming protocols use it (kubelet, client-go, crictl, all
//! through moby/spdystream): framing ([`frame`]), compressed header blocks ([`headers`]) and a
//! synchronous multiplexed [`Session`] over any duplex byte stream, in the client role (odd
//! stream ids, [`Session::open`]) or the server role (even ids, [`Session::accept`]).
//!
//! ```no_run
//! # fn f(sock: std::os::unix::net::UnixStream) -> Result<(), isula_spdy::Error> {
//! use std::io::{Read, Write};
//! use isula_spdy::{Headers, Role, Session};
//! let session = Session::new(sock.try_clone()?, sock, Role::Client)?;
//! let mut s = session.open(Headers::new().with("streamtype", "stdin"))?;
//! s.write_all(b"hello")?;
//! s.close_write()?; // FIN
//! let mut answer = Vec::new();
//! s.read_to_end(&mut answer)?; // until the peer's FIN
//! # Ok(()) }
//! ```
//!
//! Flow control: moby/spdystream, the peer in practice, neither sends nor honours
//! WINDOW_UPDATE and SETTINGS, so a sender that waited for window credit would stall after
//! 64 KiB. This implementation does the same as spdystream: it ignores both frames and sends
//! neither; backpressure comes from the connection itself. Each stream buffers at most
//! [`Config::stream_buffer`] received bytes; when a stream's buffer is full, the reader
//! thread waits (as spdystream's frame workers do), which stops reading the connection until
//! the stream's reader catches up, is dropped, or the stream is reset. See [`Session`].

mod dictionary;
pub mod frame;
pub mod headers;
mod session;
mod stream;

pub use headers::Headers;
pub use session::{Config, Role, Session};
pub use stream::{ResetHandle, Stream, StreamReader, StreamWriter};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection failed.
    #[error("SPDY connection: {0}")]
    Io(#[from] std::io::Error),
    /// The peer broke the protocol (the connection is then closed).
    #[error("SPDY protocol error: {0}")]
    Protocol(String),
    /// The connection is gone (closed by either side, or failed).
    #[error("SPDY connection closed")]
    Closed,
    /// Nothing happened in time.
    #[error("SPDY: timed out")]
    Timeout,
    /// The peer refused or reset the stream.
    #[error("SPDY stream {0} was reset by the peer")]
    Reset(u32),
    /// The operation does not fit the session's role (a server cannot open streams).
    #[error("SPDY: {0}")]
    Usage(&'static str),
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        use std::io::ErrorKind as K;
        match e {
            Error::Io(e) => e,
            Error::Closed => K::ConnectionAborted.into(),
            Error::Timeout => K::TimedOut.into(),
            Error::Reset(_) => std::io::Error::new(K::ConnectionReset, e.to_string()),
            other => std::io::Error::other(other.to_string()),
        }
    }
}
