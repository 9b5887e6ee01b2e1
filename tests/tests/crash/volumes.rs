//! Crash points of volume create.

use isula_tests::env::require_root;

use crate::support::{run_op, run_points, Case, Op, VOLUME};

/// The steps of `Volumes::create`.
pub(crate) const CREATE: &[&str] = &["volume.create.after-tmp", "volume.create.after-rename"];

#[test]
fn volume_create_killed_at_each_step() {
    if !require_root() {
        return;
    }
    run_points(CREATE, |p| {
        let mut c = Case::new(p, Op::Volume, None);
        c.crash(VOLUME);
        c.assert_no_leftovers("after the crash", false);
        let names: Vec<String> = c.e().volumes().list(&[]).unwrap().into_iter().map(|v| v.name).collect();
        assert!(names.is_empty() || names == [VOLUME], "{p}: volumes {names:?}");
        run_op(c.e(), Op::Volume, VOLUME).unwrap_or_else(|err| panic!("{p}: retry create: {err}"));
        let v = c.e().volumes().inspect(VOLUME).unwrap_or_else(|err| panic!("{p}: inspect: {err}"));
        assert!(std::path::Path::new(&v.mountpoint).is_dir(), "{p}: mountpoint {} missing", v.mountpoint);
        c.remove_everything();
        c.reopen();
        c.assert_no_leftovers("after removing everything and reopening", false);
    });
}
