//! isulad's CRI v1 RuntimeService and ImageService driven over the daemon's socket with a
//! generated CRI client (k8s-cri), one module per area.

mod support;

mod bad_input;
mod containers;
mod images;
mod pods;
mod runtime;
mod security;
mod stream_spdy;
mod stream_urls;
mod stream_websocket;
