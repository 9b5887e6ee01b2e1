//! One module per verb: its clap `Args` and `run`.

pub mod completion;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod load;
pub mod login;
pub mod logout;
pub mod pull;
pub mod push;
pub mod rmi;
pub mod save;
pub mod tag;
pub mod version;

use std::io::Read;

use tokio::sync::mpsc;

/// Size of the chunks streamed to the daemon.
pub const CHUNK: usize = 256 * 1024;

/// Read `input` on a thread and deliver `make(first, chunk)` messages through a channel
/// (first = true for the first message). A read error ends the stream and is reported
/// through the returned receiver of errors.
pub fn stream_reader<T: Send + 'static>(
    mut input: Box<dyn Read + Send>,
    make: impl Fn(bool, Vec<u8>) -> T + Send + 'static,
) -> (mpsc::Receiver<T>, std::sync::mpsc::Receiver<std::io::Error>) {
    let (tx, rx) = mpsc::channel(4);
    let (etx, erx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = true;
        loop {
            let mut buf = vec![0u8; CHUNK];
            let mut n = 0;
            // Fill the chunk (pipes deliver little at a time).
            while n < CHUNK {
                match input.read(&mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = etx.send(e);
                        return;
                    }
                }
            }
            if n == 0 && !first {
                return;
            }
            buf.truncate(n);
            if tx.blocking_send(make(first, buf)).is_err() {
                return;
            }
            first = false;
            if n < CHUNK {
                return;
            }
        }
    });
    (rx, erx)
}
