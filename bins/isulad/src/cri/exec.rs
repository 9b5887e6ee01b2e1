//! ExecSync: run a command in a container, collect its output (capped) and exit code, with
//! a timeout after which the process is killed.

use std::time::{Duration, Instant};

use isula_core::{AttachEvent, Engine, Exec, ExecOptions};
use k8s_cri::v1 as cri;
use tonic::Status;

use super::meta::require_id;
use super::Shared;
use crate::blocking::blocking;

/// Most bytes kept of each of stdout and stderr (the rest is read and dropped), as CRI-O.
pub(crate) const OUTPUT_CAP: usize = 16 << 20;

/// Output of an exec that may have timed out.
struct Collected {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// `None` when the timeout passed first.
    exit_code: Option<i32>,
}

fn push_capped(buf: &mut Vec<u8>, data: &[u8]) {
    let room = OUTPUT_CAP.saturating_sub(buf.len());
    buf.extend_from_slice(&data[..data.len().min(room)]);
}

/// Kill the exec's process and everything it started (a timed-out ExecSync).
fn kill(exec: &Exec) {
    if let Err(e) = exec.kill(libc::SIGKILL) {
        log::warn!("ExecSync: cannot kill exec {} after its timeout: {e}", exec.id);
    }
}

fn run(engine: &Engine, id: &str, cmd: Vec<String>, timeout: Option<Duration>) -> isula_core::Result<Collected> {
    let opts = ExecOptions { cmd, ..Default::default() };
    let mut exec = engine.containers().exec(id, &opts)?;
    let mut stream =
        exec.take_stream().ok_or_else(|| isula_core::Error::internal("exec started without an output stream"))?;
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut out = Collected { stdout: Vec::new(), stderr: Vec::new(), exit_code: None };
    loop {
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                kill(&exec);
                let _ = exec.wait_timeout(Duration::from_secs(5));
                return Ok(out);
            }
            let _ = stream.socket().set_read_timeout(Some(left));
        }
        match stream.read_event() {
            Ok(Some(AttachEvent::Stdout(b))) => push_capped(&mut out.stdout, &b),
            Ok(Some(AttachEvent::Stderr(b))) => push_capped(&mut out.stderr, &b),
            Ok(Some(AttachEvent::Exit(st))) => {
                out.exit_code = Some(st.code);
                // Records the exit (exec_die) once.
                let _ = exec.wait_timeout(Duration::from_secs(5));
                return Ok(out);
            }
            Ok(None) => {
                out.exit_code = Some(match deadline {
                    Some(d) => match exec.wait_timeout(d.saturating_duration_since(Instant::now()))? {
                        Some(c) => c,
                        None => {
                            kill(&exec);
                            return Ok(out);
                        }
                    },
                    None => exec.wait()?,
                });
                return Ok(out);
            }
            // The read timed out: the deadline check above kills the process.
            Err(_) if deadline.is_some_and(|d| Instant::now() >= d) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// ExecSync: `DEADLINE_EXCEEDED` when the command outlives `timeout` seconds (0: no timeout).
pub(crate) async fn exec_sync(shared: &Shared, r: cri::ExecSyncRequest) -> Result<cri::ExecSyncResponse, Status> {
    require_id("container", &r.container_id)?;
    if r.cmd.is_empty() {
        return Err(Status::invalid_argument("ExecSync needs a command"));
    }
    if r.timeout < 0 {
        return Err(Status::invalid_argument(format!("timeout {} is negative", r.timeout)));
    }
    let timeout = (r.timeout > 0).then(|| Duration::from_secs(r.timeout as u64));
    let engine = shared.engine.clone();
    let (id, cmd) = (r.container_id.clone(), r.cmd.clone());
    let out = blocking(move || run(&engine, &id, cmd, timeout)).await?;
    match out.exit_code {
        Some(exit_code) => Ok(cri::ExecSyncResponse { stdout: out.stdout, stderr: out.stderr, exit_code }),
        None => Err(Status::deadline_exceeded(format!(
            "command {:?} in container {} timed out after {}s",
            r.cmd, r.container_id, r.timeout
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_capped() {
        let mut b = Vec::new();
        push_capped(&mut b, &vec![1u8; OUTPUT_CAP - 1]);
        push_capped(&mut b, &[2, 3, 4]);
        assert_eq!(b.len(), OUTPUT_CAP);
        assert_eq!(b[OUTPUT_CAP - 1], 2);
    }
}
