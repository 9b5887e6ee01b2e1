//! gRPC definitions shared by isulad and isula (filled in by the daemon/CLI issue).
