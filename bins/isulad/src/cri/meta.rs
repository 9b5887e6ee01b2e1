//! What a CRI container keeps in reserved labels of its engine container, so that the CRI
//! gets back exactly what it gave (the engine merges image labels into container labels),
//! and small helpers shared by the CRI files (filters, times, not-found handling).

use std::collections::{BTreeMap, HashMap};

use isula_core::time::Timestamp;
use k8s_cri::v1 as cri;
use tonic::{Code, Status};

/// Prefix of the reserved labels; stripped from every label map the CRI returns.
pub(crate) const PREFIX: &str = "io.isula.cri.";
/// Marks an engine container as a CRI container (value `container`).
pub(crate) const KIND: &str = "io.isula.cri.kind";
/// CRI metadata name.
pub(crate) const NAME: &str = "io.isula.cri.name";
/// CRI metadata attempt.
pub(crate) const ATTEMPT: &str = "io.isula.cri.attempt";
/// The CRI labels as given (JSON object).
pub(crate) const LABELS: &str = "io.isula.cri.labels";
/// The CRI annotations as given (JSON object).
pub(crate) const ANNOTATIONS: &str = "io.isula.cri.annotations";
/// The image as the CRI named it.
pub(crate) const IMAGE: &str = "io.isula.cri.image";
/// The absolute log path (`log_directory` joined with `log_path`), empty without one.
pub(crate) const LOG_PATH: &str = "io.isula.cri.log-path";
/// The pod sandbox id.
pub(crate) const POD: &str = "io.isula.cri.pod";

/// The CRI identity of an engine container, read back from its reserved labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CriMeta {
    /// Metadata name and attempt.
    pub metadata: cri::ContainerMetadata,
    /// Labels as given.
    pub labels: HashMap<String, String>,
    /// Annotations as given.
    pub annotations: HashMap<String, String>,
    /// Image as given.
    pub image: String,
    /// Absolute log path (may be empty).
    pub log_path: String,
    /// Pod sandbox id.
    pub pod: String,
}

/// The reserved labels for a CRI container.
pub(crate) fn encode(m: &CriMeta) -> BTreeMap<String, String> {
    let json = |v: &HashMap<String, String>| {
        let sorted: BTreeMap<&String, &String> = v.iter().collect();
        serde_json::to_string(&sorted).unwrap_or_else(|_| "{}".into())
    };
    BTreeMap::from([
        (KIND.to_string(), "container".to_string()),
        (NAME.to_string(), m.metadata.name.clone()),
        (ATTEMPT.to_string(), m.metadata.attempt.to_string()),
        (LABELS.to_string(), json(&m.labels)),
        (ANNOTATIONS.to_string(), json(&m.annotations)),
        (IMAGE.to_string(), m.image.clone()),
        (LOG_PATH.to_string(), m.log_path.clone()),
        (POD.to_string(), m.pod.clone()),
    ])
}

/// The CRI identity of a container from its labels; `None` when it is not a CRI container.
pub(crate) fn decode(labels: &BTreeMap<String, String>) -> Option<CriMeta> {
    if labels.get(KIND).map(String::as_str) != Some("container") {
        return None;
    }
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let map = |k: &str| serde_json::from_str::<HashMap<String, String>>(&get(k)).unwrap_or_default();
    Some(CriMeta {
        metadata: cri::ContainerMetadata { name: get(NAME), attempt: get(ATTEMPT).parse().unwrap_or(0) },
        labels: map(LABELS),
        annotations: map(ANNOTATIONS),
        image: get(IMAGE),
        log_path: get(LOG_PATH),
        pod: get(POD),
    })
}

/// Whether `labels` has every key/value of `selector`.
pub(crate) fn selects(selector: &HashMap<String, String>, labels: &HashMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Labels or annotations as the CRI's map type.
pub(crate) fn to_hash(m: &BTreeMap<String, String>) -> HashMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Labels or annotations from the CRI's map type.
pub(crate) fn to_btree(m: &HashMap<String, String>) -> BTreeMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Nanoseconds since the epoch, 0 for "not set".
pub(crate) fn nanos(t: Timestamp) -> i64 {
    if t.is_zero() || t.unix_nanos() <= 0 {
        0
    } else {
        i64::try_from(t.unix_nanos()).unwrap_or(i64::MAX)
    }
}

/// Now, in nanoseconds since the epoch.
pub(crate) fn now_nanos() -> i64 {
    nanos(isula_core::time::now())
}

/// `Ok(())` for a NOT_FOUND status (stop and remove of unknown objects succeed in the CRI).
pub(crate) fn ignore_not_found(r: Result<(), Status>) -> Result<(), Status> {
    match r {
        Err(s) if s.code() == Code::NotFound => Ok(()),
        other => other,
    }
}

/// `INVALID_ARGUMENT` unless `id` is given.
pub(crate) fn require_id(what: &str, id: &str) -> Result<(), Status> {
    if id.trim().is_empty() {
        return Err(Status::invalid_argument(format!("{what} id is empty")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_selectors() {
        let m = CriMeta {
            metadata: cri::ContainerMetadata { name: "web".into(), attempt: 3 },
            labels: HashMap::from([("a".into(), "1".into()), ("io.isula.cri.x".into(), "y".into())]),
            annotations: HashMap::from([("n".into(), "v".into())]),
            image: "busybox".into(),
            log_path: "/var/log/pods/x/web/3.log".into(),
            pod: "abc".into(),
        };
        let mut labels = encode(&m);
        // The engine merges image labels in: they do not come back.
        labels.insert("maintainer".into(), "someone".into());
        assert_eq!(decode(&labels), Some(m.clone()));
        assert_eq!(decode(&BTreeMap::from([("a".into(), "1".into())])), None);
        assert!(selects(&HashMap::from([("a".into(), "1".into())]), &m.labels));
        assert!(!selects(&HashMap::from([("a".into(), "2".into())]), &m.labels));
        assert!(selects(&HashMap::new(), &m.labels));
        assert_eq!(nanos(Timestamp::ZERO), 0);
        assert_eq!(nanos(Timestamp::from_unix_secs(2)), 2_000_000_000);
        assert!(ignore_not_found(Err(Status::not_found("x"))).is_ok());
        assert!(ignore_not_found(Err(Status::internal("x"))).is_err());
        assert!(require_id("container", " ").is_err());
    }
}
