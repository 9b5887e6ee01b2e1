//! Shared test support: images built from busybox-static ([`images`]), per-test engine roots
//! and prerequisite checks ([`env`]), a local docker-registry ([`registry`]).

pub mod env;
pub mod images;
pub mod registry;
