//! Crash points for tests: [`hit`] kills the process on the spot when the environment
//! variable [`ENV`] names the point, so that a test can check what `Engine::open` makes of
//! a root left at that step.
//!
//! Only with the `test-util` feature: without it [`hit`] is an empty inline function and
//! the names are not in the binary. Names are `<area>.<op>.<step>` and every one is listed
//! in [`POINTS`] (the crash tests run each of them).

/// The environment variable naming the point to crash at (read once, at the first point).
#[cfg(feature = "test-util")]
pub const ENV: &str = "ISULA_FAILPOINT";

/// Every crash point, in the order of the operations' steps.
#[cfg(feature = "test-util")]
pub const POINTS: &[&str] = &[
    // Containers::create (and Containers::run, the same steps with the runtime's run)
    "container.create.after-snapshot",
    "container.create.after-bundle",
    "container.create.after-runtime-create",
    "container.create.after-record",
    // Containers::start (a stopped container: the runtime's create, then its start)
    "container.start.before-runtime-create",
    "container.start.after-runtime-create",
    "container.start.after-created-record",
    "container.start.after-runtime-start",
    "container.start.after-record",
    // Containers::remove
    "container.remove.after-kill",
    "container.remove.after-mark-removing",
    "container.remove.after-runtime-delete",
    "container.remove.after-shim-dir",
    "container.remove.after-snapshot",
    "container.remove.after-dir",
    // Images::load
    "image.load.after-archive",
    "image.load.after-blobs",
    // Images::pull
    "image.pull.mid-download",
    "image.pull.after-blob-commit",
    "image.pull.after-fetch",
    // Image registration (load and pull)
    "image.register.after-stage",
    "image.register.after-layer-link",
    "image.register.after-layer-commit",
    "image.register.after-flush",
    "image.register.after-record",
    // Volumes::create
    "volume.create.after-tmp",
    "volume.create.after-rename",
    // Pods::run
    "pod.run.after-dir",
    "pod.run.after-netns",
    "pod.run.after-cni-add",
    "pod.run.after-files",
    "pod.run.after-infra",
    "pod.run.after-record",
];

/// Kill this process with SIGKILL (no unwinding, no destructors, no flush) when [`ENV`] is
/// `name`. `name` must be in [`POINTS`].
#[cfg(feature = "test-util")]
pub(crate) fn hit(name: &str) {
    use std::sync::OnceLock;
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    debug_assert!(POINTS.contains(&name), "crash point {name} is not in failpoint::POINTS");
    if ARMED.get_or_init(|| std::env::var(ENV).ok()).as_deref() == Some(name) {
        eprintln!("isula: crash point {name}: SIGKILL");
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
        // The signal is delivered before kill(2) returns; never go on past the point.
        std::process::abort();
    }
}

/// Without the `test-util` feature: nothing.
#[cfg(not(feature = "test-util"))]
#[inline(always)]
pub(crate) fn hit(_name: &str) {}
