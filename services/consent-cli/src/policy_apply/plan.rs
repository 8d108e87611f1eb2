//! What `policy apply` would change: the pack's policy set against the
//! policy the service's log holds now, as a list of changes, each with the
//! request id it is submitted under.
//!
//! A request id names the pack, the stream, the stream version the change
//! was planned against and a digest of the change. Re-running after a
//! partial failure plans the changes not yet made against the same
//! versions, so they go under the same ids and the service applies each at
//! most once; a later, different change to the same stream gets a new id.

use std::collections::{BTreeMap, BTreeSet};

use icr_events::StreamId;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{ConsentModel, EventPayload, OrganisationLeft, Purpose, RecordedEvent};
use prost::Message;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::names;

/// The policy the log holds: the latest event of each policy stream
/// (`organisation/RKB`, `role/R8000`, `region/QWU`) and that stream's
/// version.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CurrentPolicy {
    streams: BTreeMap<String, (u64, EventPayload)>,
}

impl CurrentPolicy {
    /// Folds one policy event, in log order; other events are ignored.
    pub(crate) fn apply(&mut self, event: &RecordedEvent) {
        if let Some(payload) = &event.payload {
            self.streams.insert(
                event.stream.clone(),
                (event.stream_version, payload.clone()),
            );
        }
    }

    /// The latest event of `stream` and its version.
    fn latest(&self, stream: &str) -> Option<&(u64, EventPayload)> {
        self.streams.get(stream)
    }
}

/// Why a change is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// The service has nothing on this stream.
    New,
    /// The service has it, set differently.
    Changed,
    /// The organisation left the agreement and the pack has it in.
    Rejoins,
    /// The organisation is in one of the pack's regions but not the pack.
    NotInPack,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Changed => "changed",
            Self::Rejoins => "rejoins",
            Self::NotInPack => "not in the pack",
        }
    }
}

/// One change to submit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    /// The policy stream changed.
    pub(crate) stream: String,
    /// Why it is needed.
    pub(crate) why: Why,
    /// The event the service should record.
    pub(crate) payload: EventPayload,
    /// The idempotency key it is submitted under.
    pub(crate) request_id: String,
}

impl Change {
    /// The RPC-like name of the change, as the plan shows it.
    pub(crate) fn action(&self) -> &'static str {
        match &self.payload.kind {
            Some(Kind::RegionPolicySet(_)) => "set-region",
            Some(Kind::OrganisationJoined(_)) => "join-org",
            Some(Kind::OrganisationLeft(_)) => "leave-org",
            Some(Kind::RolePolicySet(_)) => "set-role",
            _ => "other",
        }
    }

    /// The change as a record of the plan table.
    pub(crate) fn record(&self) -> Value {
        json!({
            "action": self.action(),
            "stream": self.stream,
            "why": self.why.as_str(),
            "detail": detail(&self.payload),
            "request_id": self.request_id,
        })
    }
}

/// The changes that make the service's policy match the pack's `desired`
/// events (regions, organisations, roles, as the pack loader gives them),
/// in that order, then the organisations of the pack's regions that the
/// pack no longer lists, to leave. Roles the pack does not list are left
/// alone: roles are shared by every region.
pub(crate) fn plan(pack: &str, desired: &[EventPayload], current: &CurrentPolicy) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut listed = BTreeSet::new();
    let mut regions = BTreeSet::new();
    for payload in desired {
        let Some(stream) = StreamId::of(payload).map(|s| s.to_string()) else {
            continue;
        };
        match &payload.kind {
            Some(Kind::RegionPolicySet(region)) => {
                regions.insert(region.region.clone());
            }
            Some(Kind::OrganisationJoined(_)) => {
                listed.insert(stream.clone());
            }
            _ => {}
        }
        let latest = current.latest(&stream);
        let why = match latest {
            None => Why::New,
            Some((_, now)) if matches!(now.kind, Some(Kind::OrganisationLeft(_))) => Why::Rejoins,
            Some((_, now)) if normalised(now) == normalised(payload) => continue,
            Some(_) => Why::Changed,
        };
        let version = latest.map_or(0, |(version, _)| *version);
        changes.push(change(pack, stream, version, why, payload.clone()));
    }
    for (stream, (version, payload)) in &current.streams {
        let Some(Kind::OrganisationJoined(joined)) = &payload.kind else {
            continue;
        };
        if regions.contains(&joined.region) && !listed.contains(stream) {
            let left = EventPayload {
                kind: Some(Kind::OrganisationLeft(OrganisationLeft {
                    ods_code: joined.ods_code.clone(),
                })),
            };
            changes.push(change(pack, stream.clone(), *version, Why::NotInPack, left));
        }
    }
    changes
}

fn change(pack: &str, stream: String, version: u64, why: Why, payload: EventPayload) -> Change {
    let digest = Sha256::digest(normalised(&payload).encode_to_vec());
    let short: String = digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Change {
        request_id: format!("policy-apply/{pack}/{stream}@{version}/{short}"),
        stream,
        why,
        payload,
    }
}

/// The event with its lists sorted: the order of sections, purposes or
/// viewing regions in a pack changes nothing the engine decides.
fn normalised(payload: &EventPayload) -> EventPayload {
    let mut payload = payload.clone();
    match &mut payload.kind {
        Some(Kind::RolePolicySet(role)) => {
            role.sections.sort_unstable();
            role.purposes.sort_unstable();
        }
        Some(Kind::RegionPolicySet(region)) => region.viewing_regions.sort_unstable(),
        _ => {}
    }
    payload
}

/// A line a person can check the change by.
fn detail(payload: &EventPayload) -> String {
    match &payload.kind {
        Some(Kind::RegionPolicySet(r)) => format!(
            "{}: {}, minimum age {}{}",
            r.name,
            names::short_name_of::<ConsentModel>(r.consent_model),
            r.minimum_age,
            if r.break_glass { ", break glass" } else { "" }
        ),
        Some(Kind::OrganisationJoined(o)) => format!("{} (region {})", o.name, o.region),
        Some(Kind::OrganisationLeft(o)) => format!("{} leaves the agreement", o.ods_code),
        Some(Kind::RolePolicySet(r)) => format!(
            "{}: {} sections for {}",
            r.description,
            r.sections.len(),
            names::short_names_of::<Purpose>(&r.purposes).join(", ")
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
