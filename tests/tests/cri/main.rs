//! End-to-end tests of pod sandboxes (the core API) and of isulad's CRI v1 services over its
//! socket (one test binary with modules).

mod pods;
mod service;
