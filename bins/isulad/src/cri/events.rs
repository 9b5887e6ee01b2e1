//! GetContainerEvents: the engine's container events (create, start, die, destroy) of CRI
//! containers, as a stream of CRI events with the container's status where it still exists.

use isula_core::{next_live, Engine, Event, EventFilter, Live};
use k8s_cri::v1 as cri;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::containers::container_status;
use super::meta;
use super::pods::cri_status;
use super::Shared;

/// The stream type of GetContainerEvents.
pub(crate) type EventStream = ReceiverStream<Result<cri::ContainerEventResponse, Status>>;

/// The CRI event type of an engine container action.
fn event_type(action: &str) -> Option<cri::ContainerEventType> {
    match action {
        "create" => Some(cri::ContainerEventType::ContainerCreatedEvent),
        "start" => Some(cri::ContainerEventType::ContainerStartedEvent),
        "die" => Some(cri::ContainerEventType::ContainerStoppedEvent),
        "destroy" => Some(cri::ContainerEventType::ContainerDeletedEvent),
        _ => None,
    }
}

/// The CRI event for engine event `e` (blocking: reads the container and its pod).
fn cri_event(engine: &Engine, e: &Event) -> Option<cri::ContainerEventResponse> {
    let kind = event_type(&e.action)?;
    let mut out = cri::ContainerEventResponse {
        container_id: e.actor.id.clone(),
        container_event_type: kind as i32,
        created_at: e.time_nano,
        ..Default::default()
    };
    if let Ok((status, _)) = container_status(engine, &e.actor.id) {
        out.containers_statuses.push(status);
    }
    if let Some(pod) = e.actor.attributes.get(meta::POD) {
        if let Ok(p) = engine.pods().inspect(pod) {
            out.pod_sandbox_status = Some(cri_status(&p));
        }
    }
    Some(out)
}

/// Subscribe to the engine's bus and forward CRI container events until the client leaves.
pub(crate) fn subscribe(shared: &Shared) -> EventStream {
    let filter = EventFilter {
        types: vec!["container".into()],
        events: ["create", "start", "die", "destroy"].map(String::from).to_vec(),
        labels: vec![format!("{}=container", meta::KIND)],
        ..Default::default()
    };
    let (_history, live) = shared.engine.events(&filter);
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let engine = shared.engine.clone();
    let spawned = crate::blocking::spawn_stream("cri-events", move || {
        while !tx.is_closed() {
            match next_live(&live, &filter, std::time::Duration::from_millis(500)) {
                Live::Event(e) => {
                    if let Some(ev) = cri_event(&engine, &e) {
                        if tx.blocking_send(Ok(ev)).is_err() {
                            return;
                        }
                    }
                }
                Live::Idle => {}
                Live::End => return,
            }
        }
    });
    if let Err(e) = spawned {
        log::warn!("GetContainerEvents: {}", e.message());
    }
    ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_map_to_event_types() {
        assert_eq!(event_type("start"), Some(cri::ContainerEventType::ContainerStartedEvent));
        assert_eq!(event_type("destroy"), Some(cri::ContainerEventType::ContainerDeletedEvent));
        assert_eq!(event_type("exec_die"), None);
    }
}
