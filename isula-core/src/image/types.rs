//! The option and result types of the image operations: [`isula_types::image`].

pub use isula_types::image::*;
