//! [`CreateOptions`] and its parts: the shared data types of [`isula_types::container::options`].

pub use isula_types::container::options::*;
