//! One module per verb: its clap `Args` and `run`.

pub(crate) mod attach;
pub(crate) mod completion;
pub(crate) mod cp;
pub(crate) mod create;
pub(crate) mod events;
pub(crate) mod exec;
pub(crate) mod export;
pub(crate) mod images;
pub(crate) mod import;
pub(crate) mod info;
pub(crate) mod inspect;
pub(crate) mod kill;
pub(crate) mod load;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod logs;
pub(crate) mod network;
pub(crate) mod pause;
pub(crate) mod port;
pub(crate) mod ps;
pub(crate) mod pull;
pub(crate) mod push;
pub(crate) mod rename;
pub(crate) mod restart;
pub(crate) mod rm;
pub(crate) mod rmi;
pub(crate) mod run;
pub(crate) mod save;
pub(crate) mod start;
pub(crate) mod stats;
pub(crate) mod stop;
pub(crate) mod tag;
pub(crate) mod top;
pub(crate) mod unpause;
pub(crate) mod update;
pub(crate) mod version;
pub(crate) mod volume;
pub(crate) mod wait;

use std::io::Read;

use tokio::sync::mpsc;

/// Size of the chunks streamed to the daemon.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Read `input` on a thread and deliver `make(first, chunk)` messages through a channel
/// (first = true for the first message). A read error ends the stream and is reported
/// through the returned receiver of errors.
pub(crate) fn stream_reader<T: Send + 'static>(
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

/// Apply `op` to each object: print its name on success, the error on failure (status 1
/// when any failed; a connection failure stops at once with its own status).
pub(crate) fn each(
    ctx: &mut crate::ctx::Ctx,
    ids: &[String],
    mut op: impl FnMut(&mut crate::ctx::Ctx, &str) -> Result<(), crate::error::CliError>,
) -> crate::error::CmdResult {
    each_output(ctx, ids, |ctx, id| op(ctx, id).map(|()| id.to_string()))
}

/// [`each`], printing the line `op` returns instead of the name.
pub(crate) fn each_output(
    ctx: &mut crate::ctx::Ctx,
    ids: &[String],
    mut op: impl FnMut(&mut crate::ctx::Ctx, &str) -> Result<String, crate::error::CliError>,
) -> crate::error::CmdResult {
    let mut failed = false;
    for id in ids {
        match op(ctx, id) {
            Ok(line) => println!("{line}"),
            Err(e) if e.code == 1 => {
                eprintln!("{e}");
                failed = true;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(i32::from(failed))
}

/// A NotFound reply as Docker prints it for a container named by the user.
pub(crate) fn no_such(s: &tonic::Status, name: &str) -> crate::error::CliError {
    no_such_object(s, "container", name)
}

/// A NotFound reply as Docker prints it for a `what` (container, volume, network) named by
/// the user; any other reply as the daemon's error.
pub(crate) fn no_such_object(s: &tonic::Status, what: &str, name: &str) -> crate::error::CliError {
    if s.code() == tonic::Code::NotFound {
        return crate::error::CliError::new(format!("Error: No such {what}: {name}"));
    }
    crate::error::CliError::daemon(s)
}
