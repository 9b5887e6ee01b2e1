//! Crash points: for every step of container create, start and remove, image load and
//! pull, volume create and pod run, a child process runs the operation on a private root
//! until the engine kills itself at that step (`ISULA_FAILPOINT`, feature `test-util`);
//! the test then opens the root again and checks that what the crash left is consistent:
//! the object is either whole and usable or absent, nothing is left that the engine does
//! not show (mounts, runtime containers, shims, cgroups, netns, veths, IP allocations,
//! directories, layers, blobs, scratch and ingest files), the operation succeeds when
//! retried under the same name, and removing everything leaves nothing.
//!
//! One test per operation runs its points in turn (each point's failure is reported with
//! its name); the operations run in parallel.

mod support;

mod containers;
mod images;
mod pods;
mod volumes;

/// Not a test by itself: the body of the child process the crash tests start (without
/// their environment it does nothing).
#[test]
#[ignore = "child process of the crash-point tests"]
fn child() {
    support::child_main();
}

/// Every crash point of the engine has a case here, and every case names a real point.
#[test]
fn every_crash_point_is_tested() {
    use std::collections::BTreeSet;
    let cases: Vec<&str> = [
        containers::CREATE,
        containers::START,
        containers::REMOVE,
        images::LOAD,
        images::PULL,
        volumes::CREATE,
        pods::RUN,
    ]
    .concat();
    let tested: BTreeSet<&str> = cases.iter().copied().collect();
    let points: BTreeSet<&str> = isula_core::unstable::failpoint::POINTS.iter().copied().collect();
    let untested: Vec<_> = points.difference(&tested).collect();
    let unknown: Vec<_> = tested.difference(&points).collect();
    assert!(untested.is_empty(), "crash points without a case: {untested:?}");
    assert!(unknown.is_empty(), "cases of no crash point: {unknown:?}");
    assert_eq!(points.len(), isula_core::unstable::failpoint::POINTS.len(), "a point is listed twice");
}
