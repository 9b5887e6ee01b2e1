//! Exec, Attach and PortForward: check the request, keep it in the streaming server and
//! return the URL the client connects to ([`crate::stream`]).

use isula_core::PodState;
use k8s_cri::v1 as cri;
use tonic::Status;

use super::meta::require_id;
use super::Shared;
use crate::blocking::blocking;
use crate::stream::{Command, Pending};

/// The checks kubelet's runtimes make on the streams an exec or attach asks for.
fn check_streams(stdin: bool, stdout: bool, stderr: bool, tty: bool) -> Result<(), Status> {
    if !(stdin || stdout || stderr) {
        return Err(Status::invalid_argument("one of stdin, stdout, or stderr must be set"));
    }
    if tty && stderr {
        return Err(Status::invalid_argument("tty and stderr cannot both be true"));
    }
    Ok(())
}

/// `FailedPrecondition` unless container `id` runs; its full id.
async fn running_container(shared: &Shared, id: &str) -> Result<String, Status> {
    let engine = shared.engine.clone();
    let key = id.to_string();
    let i = blocking(move || engine.containers().inspect(&key)).await?;
    if !i.state.running || i.state.paused {
        return Err(Status::failed_precondition(format!("container {} is not running ({})", i.id, i.state.status)));
    }
    Ok(i.id)
}

fn url(shared: &Shared, req: Pending) -> Result<String, Status> {
    shared.stream.url(req)
}

/// Exec: the URL of a streaming exec of `r.cmd`.
pub(crate) async fn exec(shared: &Shared, r: cri::ExecRequest) -> Result<cri::ExecResponse, Status> {
    require_id("container", &r.container_id)?;
    if r.cmd.is_empty() {
        return Err(Status::invalid_argument("Exec needs a command"));
    }
    check_streams(r.stdin, r.stdout, r.stderr, r.tty)?;
    let container_id = running_container(shared, &r.container_id).await?;
    let cmd = Command { container_id, cmd: r.cmd, tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr };
    Ok(cri::ExecResponse { url: url(shared, Pending::Exec(cmd))? })
}

/// Attach: the URL of a stream attached to the container's process.
pub(crate) async fn attach(shared: &Shared, r: cri::AttachRequest) -> Result<cri::AttachResponse, Status> {
    require_id("container", &r.container_id)?;
    check_streams(r.stdin, r.stdout, r.stderr, r.tty)?;
    let container_id = running_container(shared, &r.container_id).await?;
    let cmd = Command { container_id, cmd: Vec::new(), tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr };
    Ok(cri::AttachResponse { url: url(shared, Pending::Attach(cmd))? })
}

/// PortForward: the URL through which ports of the pod are reached (the ports are chosen
/// by the client per stream, as with kubelet's runtimes).
pub(crate) async fn port_forward(
    shared: &Shared,
    r: cri::PortForwardRequest,
) -> Result<cri::PortForwardResponse, Status> {
    require_id("pod sandbox", &r.pod_sandbox_id)?;
    if let Some(p) = r.port.iter().find(|p| !(1..=65535).contains(*p)) {
        return Err(Status::invalid_argument(format!("port {p} is out of range")));
    }
    let engine = shared.engine.clone();
    let key = r.pod_sandbox_id.clone();
    let pod = blocking(move || engine.pods().inspect(&key)).await?;
    if pod.state != PodState::Ready {
        return Err(Status::failed_precondition(format!("pod sandbox {} is not ready", pod.id)));
    }
    Ok(cri::PortForwardResponse { url: url(shared, Pending::PortForward { pod_id: pod.id })? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_checks() {
        assert!(check_streams(false, false, false, false).is_err());
        assert!(check_streams(false, true, true, true).is_err());
        assert!(check_streams(true, true, false, true).is_ok());
        assert!(check_streams(false, false, true, false).is_ok());
    }
}
