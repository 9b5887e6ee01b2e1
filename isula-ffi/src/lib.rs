//! C ABI over isula-core (filled in by the C ABI issue).
