//! CNI plugin results (what attach reads from a plugin's stdout) and CNI configuration
//! lists (what the engine loads from the CNI config directory).

use isula_core::fuzzing;

/// First byte: bit 0 chooses a result (read for `eth0` and `eth1`) or a configuration list.
pub fn cni(data: &[u8]) {
    let Some((&sel, doc)) = data.split_first() else { return };
    if sel & 1 == 0 {
        for ifname in ["eth0", "eth1"] {
            let _ = fuzzing::cni_result(doc, ifname);
        }
    } else if let Ok(types) = fuzzing::cni_conflist(doc) {
        assert!(!types.is_empty(), "a configuration list without plugins was accepted");
    }
}
