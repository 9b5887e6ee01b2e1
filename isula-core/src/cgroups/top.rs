//! The processes of a cgroup and `docker top`: host `ps` output filtered to them.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::Cgroup;
use crate::error::{Error, Result};

/// `top` output: the `ps` header titles and one row per process of the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopResult {
    /// Column titles (`UID`, `PID`, `PPID`, …, `CMD`).
    pub titles: Vec<String>,
    /// One row per process; the last column holds the rest of the line (the command with its spaces).
    pub processes: Vec<Vec<String>>,
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    let text = std::fs::read_to_string(&procs).map_err(|e| Error::io(&procs, "read", e))?;
    out.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
    // Nested cgroups (a runtime or the container itself may create them) belong to it too.
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&e.path(), out)?;
            }
        }
    }
    Ok(())
}

impl Cgroup {
    /// Processes in the cgroup and its sub-cgroups (`cgroup.procs`), sorted.
    pub(crate) fn pids(&self) -> Result<Vec<i32>> {
        let dir = self.procs_dir()?;
        let mut out = Vec::new();
        collect_pids(dir, &mut out)?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// Split on ASCII whitespace only (command lines may hold other Unicode spaces).
fn fields(line: &str) -> Vec<&str> {
    line.split(|c: char| c.is_ascii_whitespace()).filter(|f| !f.is_empty()).collect()
}

/// Keep the rows of `ps` output whose `PID` column is one of `pids`. Thread rows (`-` in the
/// PID column, as `ps -m` prints) follow the process row above them. Fields past the header's
/// count are joined into the last column. No `PID` column is an InvalidArgument error.
pub(super) fn filter_ps_output(output: &str, pids: &[i32]) -> Result<TopResult> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or("");
    let titles: Vec<String> = fields(header).into_iter().map(String::from).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::invalid("couldn't find the PID field in the ps output (ps arguments must show PID)"))?;
    let mut res = TopResult { titles, processes: Vec::new() };
    let mut in_container = false;
    for line in lines {
        let f = fields(line);
        if f.len() <= pid_col {
            continue;
        }
        let keep = if f[pid_col] == "-" {
            in_container
        } else {
            let pid: i32 = f[pid_col]
                .parse()
                .map_err(|_| Error::invalid(format!("unexpected pid {:?} in the ps output", f[pid_col])))?;
            in_container = pids.contains(&pid);
            in_container
        };
        if keep {
            let n = res.titles.len();
            let mut row: Vec<String> = f.iter().take(n.saturating_sub(1)).map(|s| s.to_string()).collect();
            if f.len() >= n {
                row.push(f[n - 1..].join(" "));
            }
            res.processes.push(row);
        }
    }
    Ok(res)
}

/// `docker top`: run the host's `ps` with `ps_args` (default `-ef`) and keep the container's
/// processes (those in `cg`). `ps` is first asked for just those pids (`-q`); arguments that
/// cannot be combined with `-q` fall back to the full list, filtered here.
pub(crate) fn top(cg: &Cgroup, ps_args: &[String]) -> Result<TopResult> {
    let pids = cg.pids()?;
    let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
    let list = pids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",");
    let run = |extra: &[String]| -> Result<std::process::Output> {
        Command::new("ps")
            .args(&args)
            .args(extra)
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| Error::unavailable(format!("cannot run ps: {e}")).with_source(e))
    };
    let mut out = if pids.is_empty() { None } else { Some(run(&["-q".into(), list])?) };
    if !out.as_ref().is_some_and(|o| o.status.success()) {
        out = Some(run(&[])?);
    }
    let out = out.expect("ps ran");
    if !out.status.success() {
        return Err(Error::invalid(format!("ps {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())));
    }
    filter_ps_output(&String::from_utf8_lossy(&out.stdout), &pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_rows_to_container_pids() {
        let out = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 03:00 ?        00:00:01 /sbin/init
root         420       1  0 03:01 ?        00:00:00 sleep 1000
root         421     420  0 03:01 ?        00:00:00 sh -c echo  hi there
root         500       1  0 03:01 ?        00:00:00 other
";
        let t = filter_ps_output(out, &[420, 421]).unwrap();
        assert_eq!(t.titles, ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
        assert_eq!(t.processes.len(), 2);
        assert_eq!(t.processes[0][1], "420");
        assert_eq!(t.processes[0][7], "sleep 1000");
        assert_eq!(t.processes[1][7], "sh -c echo hi there");
        assert!(filter_ps_output(out, &[]).unwrap().processes.is_empty());
    }

    #[test]
    fn thread_rows_follow_their_process() {
        let out =
            "  PID TTY  TIME CMD\n  420 ?  00:00:00 a\n    - -  00:00:00 -\n  500 ?  00:00:00 b\n    - -  00:00:00 -\n";
        let t = filter_ps_output(out, &[420]).unwrap();
        assert_eq!(t.processes.len(), 2);
        assert_eq!(t.processes[1][0], "-");
        let e = filter_ps_output("USER CMD\nroot x\n", &[1]).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(filter_ps_output(" PID CMD\n abc x\n", &[1]).is_err());
    }
}
