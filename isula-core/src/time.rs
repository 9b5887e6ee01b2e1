//! Timestamps as values: the engine's view of [`isula_types::time`] (one place for RFC 3339
//! in and out, `now()` and Docker's human durations).

pub use isula_types::time::*;
