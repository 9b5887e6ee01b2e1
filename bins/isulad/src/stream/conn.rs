//! A client connection of the streaming server after its request head: a socket that can be
//! cloned for a reader and a writer thread, plus the bytes already read past the head.
//! Plain TCP connections are the TCP socket itself; TLS connections are the local end of a
//! socket pair whose other end [`super::tls`] encrypts onto the TCP socket.

use std::io::{Cursor, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The byte stream under an upgraded connection.
#[derive(Debug)]
pub(crate) enum Socket {
    /// A plain TCP connection.
    Tcp(TcpStream),
    /// The clear-text end of a TLS connection.
    Unix(UnixStream),
}

impl Socket {
    /// A second handle on the same socket (for a second thread).
    pub(crate) fn try_clone(&self) -> std::io::Result<Socket> {
        Ok(match self {
            Socket::Tcp(s) => Socket::Tcp(s.try_clone()?),
            Socket::Unix(s) => Socket::Unix(s.try_clone()?),
        })
    }

    /// Shut down one or both directions (wakes a thread blocked reading it).
    pub(crate) fn shutdown(&self, how: Shutdown) -> std::io::Result<()> {
        match self {
            Socket::Tcp(s) => s.shutdown(how),
            Socket::Unix(s) => s.shutdown(how),
        }
    }

    /// Limit how long a read may block (`None`: forever).
    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Socket::Tcp(s) => s.set_read_timeout(t),
            Socket::Unix(s) => s.set_read_timeout(t),
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            Socket::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf),
            Socket::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The reading half of a [`Conn`]: the leftover bytes, then the socket.
pub(crate) type ConnReader = std::io::Chain<Cursor<Vec<u8>>, Socket>;

/// An accepted connection whose request head has been read.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The socket.
    pub socket: Socket,
    /// Bytes the client sent after the head (already read from the socket).
    pub leftover: Vec<u8>,
    /// Close the connection after this long with no traffic either way.
    pub idle: std::time::Duration,
}

impl Conn {
    /// A reader that yields the leftover bytes first, then the socket's; and a writer. Both
    /// are handles on the one socket, so either may be shut down to end the other's wait.
    pub(crate) fn split(self) -> std::io::Result<(ConnReader, Socket)> {
        let w = self.socket.try_clone()?;
        Ok((Cursor::new(self.leftover).chain(self.socket), w))
    }
}
