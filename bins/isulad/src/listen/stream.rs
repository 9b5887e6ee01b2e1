//! An accepted connection whose inbound bytes go through the `:authority` [`Rewriter`]
//! (the unix listeners' streams; the outbound direction is untouched).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;

use super::authority::Rewriter;

/// How many bytes are read from the client at a time.
const CHUNK: usize = 16 * 1024;

/// A stream whose reads yield the client's bytes with invalid `:authority` values replaced.
pub(crate) struct AuthorityFixed<S> {
    inner: S,
    rewriter: Rewriter,
    /// Bytes read from `inner` (reused).
    scratch: Box<[u8]>,
    /// Rewritten bytes not yet handed to the reader, from `pos` on.
    pending: Vec<u8>,
    pos: usize,
    /// `inner` reached end of file.
    eof: bool,
}

impl<S> AuthorityFixed<S> {
    /// Wrap an accepted connection.
    pub(crate) fn new(inner: S) -> Self {
        AuthorityFixed {
            inner,
            rewriter: Rewriter::new(),
            scratch: vec![0; CHUNK].into_boxed_slice(),
            pending: Vec::new(),
            pos: 0,
            eof: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AuthorityFixed<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pos < this.pending.len() {
                let n = buf.remaining().min(this.pending.len() - this.pos);
                buf.put_slice(&this.pending[this.pos..this.pos + n]);
                this.pos += n;
                if this.pos == this.pending.len() {
                    this.pending.clear();
                    this.pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut read = ReadBuf::new(&mut this.scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.eof = true;
                this.rewriter.finish(&mut this.pending);
            } else {
                // Bytes held back (an incomplete frame header or header block) leave
                // `pending` empty: read on.
                this.rewriter.feed(read.filled(), &mut this.pending);
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AuthorityFixed<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S: Connected> Connected for AuthorityFixed<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_come_rewritten_and_writes_go_through() {
        let (client, server) = tokio::net::UnixStream::pair().unwrap();
        let mut fixed = AuthorityFixed::new(server);
        let (mut rd, mut wr) = client.into_split();
        // A preface and a HEADERS frame with `:authority: /s` (literal, indexed name 1),
        // written in two pieces that split the frame header.
        let mut input = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        input.extend_from_slice(&[0, 0, 4, 1, 4, 0, 0, 0, 1, 0x01, 2, b'/', b's']);
        let writer = tokio::spawn(async move {
            wr.write_all(&input[..30]).await.unwrap();
            tokio::task::yield_now().await;
            wr.write_all(&input[30..]).await.unwrap();
            wr.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        fixed.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        let block = [0x00, 10, b':', b'a', b'u', b't', b'h', b'o', b'r', b'i', b't', b'y', 9];
        let mut want = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        want.extend_from_slice(&[0, 0, (block.len() + 9) as u8, 1, 4, 0, 0, 0, 1]);
        want.extend_from_slice(&block);
        want.extend_from_slice(b"localhost");
        assert_eq!(got, want);
        fixed.write_all(b"pong").await.unwrap();
        let mut back = [0; 4];
        rd.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"pong");
        assert!(fixed.connect_info().peer_cred.is_some());
    }
}
