//! Streaming over SPDY/3.1: exec, attach and port-forward through the CRI streaming server.
