//! Giving freed heap memory back to the system after large transfers.

/// Return the heap's free pages to the kernel (glibc's `malloc_trim`). An image load, import,
/// pull, push or save moves megabytes through buffers that glibc would otherwise keep mapped
/// for the daemon's lifetime (measured: ~1.4 MiB of an idle daemon's RSS after one load).
pub(crate) fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // Allowed: libc::malloc_trim has no safe wrapper.
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim only walks the allocator's own free lists and unmaps free pages.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How many [`trim_after`] calls are running.
static TEARDOWNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Run `teardown` (a call that frees much memory, such as removing pods or containers); the last of
/// concurrent ones to finish returns the free heap to the system, so a burst of removals
/// trims once at its end instead of once per call. Measured: after 100 pods made and removed
/// in parallel, the daemon kept ~70 MiB RSS without it.
pub(crate) fn trim_after<T>(teardown: impl FnOnce() -> T) -> T {
    use std::sync::atomic::Ordering::SeqCst;
    TEARDOWNS.fetch_add(1, SeqCst);
    let r = teardown();
    if TEARDOWNS.fetch_sub(1, SeqCst) == 1 {
        release_free_heap();
    }
    r
}
