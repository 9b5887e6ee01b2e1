//! Docker semantics of the container lifecycle through `Engine` (runc and crun, as root):
//! signal delivery, manual stops versus restart policies, health persisted across a reopen,
//! command-not-found exit codes.

mod containers_common;

use std::time::Duration;

use containers_common::*;
use isula_core::container::{ExecOptions, WaitCondition};
use isula_core::logs::LogOptions;

fn logs_text(env: &Env, id: &str) -> String {
    let mut s = String::new();
    env.e()
        .logs(id, &LogOptions::default(), &mut |l| {
            s.push_str(&l.log);
            true
        })
        .unwrap();
    s
}

#[test]
fn init_starts_with_empty_signal_mask_and_gets_usr1() {
    if !prerequisites() {
        return;
    }
    for rt in RUNTIMES {
        let env = Env::new(rt);
        let e = env.e();
        let id = e
            .run(&env.opts(&[
                "sh",
                "-c",
                "grep -E 'Sig(Blk|Ign)' /proc/1/status; trap 'echo got-usr1; exit 7' USR1; echo ready; while true; do sleep 0.1; done",
            ]))
            .unwrap();
        assert!(eventually(Duration::from_secs(20), || logs_text(&env, &id).contains("ready")), "{rt}");
        let text = logs_text(&env, &id);
        let blk = text.lines().find(|l| l.starts_with("SigBlk:")).unwrap_or_else(|| panic!("{rt}: {text}"));
        assert_eq!(blk.split_whitespace().nth(1), Some("0000000000000000"), "{rt}: {text}");
        // an exec'd process too
        let x = e
            .exec(
                &id,
                &ExecOptions {
                    cmd: vec!["grep".into(), "SigBlk".into(), "/proc/self/status".into()],
                    ..Default::default()
                },
            )
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&x.stdout).split_whitespace().nth(1), Some("0000000000000000"), "{rt}");
        e.kill(&id, "USR1").unwrap();
        assert_eq!(e.wait(&id, WaitCondition::NotRunning).unwrap(), 7, "{rt}: {}", logs_text(&env, &id));
        assert!(logs_text(&env, &id).contains("got-usr1"), "{rt}");
    }
}
