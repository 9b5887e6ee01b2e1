//! isulad's CRI v1 RuntimeService and ImageService driven over the daemon's socket.
