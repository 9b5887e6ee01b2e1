//! Plain serde types of the container operations (inputs and outputs of the
//! [`Engine`](crate::Engine) container methods), in Docker's JSON shapes.

pub use isula_types::container::inspect::{ContainerInspect, InspectGraphDriver, InspectState};
pub use isula_types::container::types::{
    ContainerSummary, ExecOptions, ExecOutput, ListOptions, Port, RemoveOptions, WaitCondition,
};

/// Exit code for a start error, as Docker's `run` returns it: 127 when the command was not
/// found, 126 when it could not be invoked, `None` for other errors (Docker then uses 128 in
/// the container's state, 125 from the CLI). Driven by the error's [`Reason`](crate::Reason),
/// set where the runtime's message is classified; the CLI maps the same reason.
pub fn start_error_exit_code(e: &crate::Error) -> Option<i32> {
    e.start_exit_code()
}
