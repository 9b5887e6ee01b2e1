//! Shared test support: images built from busybox-static, temporary engine roots.
