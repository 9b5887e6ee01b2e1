//! Fallback cleanup of the bridge plugin's IP-masquerade rules.
//!
//! The bridge plugin's DEL learns the container's addresses from inside the namespace; when the
//! namespace is already gone it removes nothing from iptables. The runtime then removes the
//! rules itself: every nat rule carrying the plugin's comment `name: "<net>" id: "<container>"`,
//! and the per-container chains they jump to.

use std::collections::BTreeSet;
use std::process::Command;

use crate::error::{Error, Result};

/// Splits an `iptables-save` rule line into arguments (double quotes with backslash escapes).
pub(crate) fn split_rule(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    let mut has = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_q => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                in_q = !in_q;
                has = true;
            }
            ' ' if !in_q => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                has = false;
            }
            c => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn iptables(args: &[String]) -> Result<()> {
    let out = Command::new("iptables").arg("-w").args(args).output().map_err(|e| Error::io("iptables", "run", e))?;
    if !out.status.success() {
        return Err(Error::internal(format!(
            "iptables {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Removes the masquerade rules and chains of (`network`, `container_id`) from the nat table.
pub(crate) fn teardown_ipmasq(network: &str, container_id: &str) -> Result<()> {
    let comment = format!("name: \"{network}\" id: \"{container_id}\"");
    let out =
        Command::new("iptables-save").args(["-t", "nat"]).output().map_err(|e| Error::io("iptables-save", "run", e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rules: Vec<Vec<String>> =
        text.lines().filter(|l| l.starts_with("-A ")).map(split_rule).filter(|r| r.contains(&comment)).collect();
    let mut chains = BTreeSet::new();
    for r in &rules {
        if let Some(i) = r.iter().position(|t| t == "-j") {
            if r.get(i + 1).is_some_and(|c| c.starts_with("CNI-")) {
                chains.insert(r[i + 1].clone());
            }
        }
        if r[1].starts_with("CNI-") {
            chains.insert(r[1].clone());
        }
    }
    // Jumps into the chains first (outside them), then the chains themselves.
    for r in rules.iter().filter(|r| !chains.contains(&r[1])) {
        let mut args = vec!["-t".to_string(), "nat".to_string(), "-D".to_string()];
        args.extend(r[1..].iter().cloned());
        iptables(&args)?;
    }
    for c in &chains {
        let base = ["-t".to_string(), "nat".to_string()];
        iptables(&[&base[..], &["-F".to_string(), c.clone()]].concat())?;
        iptables(&[&base[..], &["-X".to_string(), c.clone()]].concat())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_save_line() {
        let l = r#"-A POSTROUTING -s 10.1.2.8/32 -m comment --comment "name: \"n\" id: \"c\"" -j CNI-3bc"#;
        let t = split_rule(l);
        assert_eq!(
            t,
            vec![
                "-A",
                "POSTROUTING",
                "-s",
                "10.1.2.8/32",
                "-m",
                "comment",
                "--comment",
                r#"name: "n" id: "c""#,
                "-j",
                "CNI-3bc"
            ]
        );
    }
}
