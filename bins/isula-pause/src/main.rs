//! `isula-pause`: the infra process of an isula pod sandbox.
//!
//! It holds the pod's namespaces and does nothing else: it blocks every signal, then waits for
//! them with `sigtimedwait`. SIGCHLD reaps every exited child (it may be PID 1 of the pod's PID
//! namespace); SIGTERM and SIGINT end it with status 0. Linked statically (see build.rs) so
//! that it runs from a rootfs holding nothing else.
//!
//! (A `no_std` build with raw system calls would be smaller, but stable rustc refuses `no_std`
//! executables under the workspace's `panic = "unwind"` profiles, and cargo cannot set
//! `panic = "abort"` for one package.)

// Four libc calls on values owned here; the process is single-threaded.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

/// Reaps every child that has exited, without blocking.
fn reap() {
    loop {
        // SAFETY: waitpid with a null status pointer writes nothing.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if r <= 0 {
            return;
        }
    }
}

fn main() {
    let mut all = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the set; sigprocmask reads it and writes no old set.
    let all = unsafe {
        libc::sigfillset(all.as_mut_ptr());
        let all = all.assume_init();
        if libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut()) != 0 {
            std::process::exit(1);
        }
        all
    };
    loop {
        // SAFETY: the set is initialised; no siginfo and no timeout are asked for.
        let sig = unsafe { libc::sigtimedwait(&all, std::ptr::null_mut(), std::ptr::null()) };
        match sig {
            libc::SIGTERM | libc::SIGINT => {
                reap();
                std::process::exit(0);
            }
            libc::SIGCHLD => reap(),
            _ => {}
        }
    }
}
