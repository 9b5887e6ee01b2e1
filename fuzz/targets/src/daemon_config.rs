//! daemon.json, parsed by `isula_core::EngineConfig::from_json` as isulad reads it; an
//! accepted config must also pass the checks isulad makes at start-up.

use isula_core::EngineConfig;

/// Parses `data` as daemon.json.
pub fn daemon_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = EngineConfig::from_json(text) else { return };
    cfg.validate().unwrap_or_else(|e| panic!("from_json accepted a config validate refuses: {e}"));
    let _ = (cfg.ingest_max_age(), cfg.stream_idle_timeout(), cfg.cgroup_driver(), cfg.default_bridge_address());
    let _ = cfg.runtime("runc");
    // What isulad would write back (e.g. `isula info`) reads back the same.
    let json = serde_json::to_string(&cfg).expect("serialise config");
    let again: EngineConfig = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(serde_json::to_string(&again).expect("serialise config"), json);
}
