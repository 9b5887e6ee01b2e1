//! Parsers of Docker's string forms of create options: [`isula_types::container::parse`]
//! (shared with the `isula` CLI). Their errors convert to
//! [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument).

pub(crate) use isula_types::container::parse::*;
