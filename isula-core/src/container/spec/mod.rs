//! OCI runtime spec generation.
