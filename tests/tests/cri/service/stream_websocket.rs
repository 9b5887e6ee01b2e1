//! Streaming over WebSocket: exec, attach and port-forward through the CRI streaming server.
