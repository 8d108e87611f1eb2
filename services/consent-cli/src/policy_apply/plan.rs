//! What `policy apply` would change: the pack's policy set against the
//! policy the service's log holds now, as a list of changes, each with the
//! request id it is submitted under and the stream version it was planned
//! against.
//!
//! A pack *owns* the one region its organisations are in: every pack lists
//! the organisations of its own region (QWU for coventry-warwickshire, QOX
//! for bsw and bath-north-east-somerset, QM7 for my-care-record), and a
//! pack whose organisations are in more than one region is refused. The
//! other regions it declares are neighbours, named so that their codes are
//! known (as viewing regions), with placeholder settings. Only the owned
//! region's settings are set from the pack, and only organisations of the
//! owned region that the pack does not list leave. A neighbour the log
//! does not know yet is created from the pack's placeholder; a neighbour it
//! already holds is left as it is and shown as skipped.
//!
//! Applying overwrites only what this pack wrote last. Where the owned
//! region's settings, an organisation to leave, or an organisation to join
//! again or differently were last written by another pack (bsw and
//! bath-north-east-somerset both own QOX), by an administrator's own
//! command or by a writer the request id does not name, the plan names it
//! as a take-over, and applying it needs `--take-over` (see [`writer`]).
//! Roles are shared by every region and are set from any pack that lists
//! them.
//!
//! A request id names the pack, the stream, the stream version the change
//! was planned against and a digest of the change. Re-running after a
//! partial failure plans the changes not yet made against the same
//! versions, so they go under the same ids and the service applies each at
//! most once; a later, different change to the same stream gets a new id.
//! The version is also sent as the request's expected stream version, so a
//! change made to the stream since the plan was read is never overwritten:
//! the service refuses the write (`Aborted`).
//!
//! [`writer`]: super::writer

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};

use icr_events::StreamId;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::{ConsentModel, EventPayload, OrganisationLeft, Purpose, RecordedEvent};
use prost::Message;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::writer::{Writer, Written, placeholder_prefix};
use crate::names;

/// The policy the log holds: the latest event of each policy stream
/// (`organisation/RKB`, `role/R8000`, `region/QWU`), that stream's version
/// and who wrote it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CurrentPolicy {
    streams: BTreeMap<String, (u64, EventPayload)>,
    /// Who wrote each stream, placeholders aside; a stream only
    /// placeholders wrote has no entry.
    written: BTreeMap<String, Written>,
}

impl CurrentPolicy {
    /// Folds one policy event, in log order; other events are ignored.
    pub(crate) fn apply(&mut self, event: &RecordedEvent) {
        if let Some(payload) = &event.payload {
            self.streams.insert(
                event.stream.clone(),
                (event.stream_version, payload.clone()),
            );
            if let Some(writer) = Writer::of(event) {
                let earlier = self.written.remove(&event.stream);
                self.written
                    .insert(event.stream.clone(), Written::by(earlier, writer));
            }
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
    /// A neighbouring region the service does not know yet: created from
    /// the pack's placeholder so that its code is known.
    Placeholder,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Changed => "changed",
            Self::Rejoins => "rejoins",
            Self::NotInPack => "not in the pack",
            Self::Placeholder => "new neighbour (placeholder)",
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
    /// The stream's version the change was planned against (0: the stream
    /// is new), sent as the expected stream version.
    pub(crate) version: u64,
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

/// A neighbouring region the service already holds: not the pack's to
/// change, so left as it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Skipped {
    /// The region's policy stream.
    pub(crate) stream: String,
    /// The region's policy as the service holds it.
    pub(crate) current: EventPayload,
}

impl Skipped {
    /// The skipped region as a record of the plan table.
    pub(crate) fn record(&self) -> Value {
        json!({
            "action": "skip",
            "stream": self.stream,
            "why": "exists, not the pack's region",
            "detail": format!("kept as it is: {}", detail(&self.current)),
        })
    }
}

/// A planned change that overwrites what someone other than this pack
/// wrote last: made only when asked for (`--take-over`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TakeOver {
    /// The stream the change overwrites.
    pub(crate) stream: String,
    /// The change, as the plan names it (`set-region`, `leave-org`, …).
    pub(crate) action: &'static str,
    /// Who wrote the stream last, as the plan names them.
    pub(crate) written_by: String,
}

impl TakeOver {
    /// The take-over as a record of the plan table.
    pub(crate) fn record(&self) -> Value {
        json!({
            "action": "take-over",
            "stream": self.stream,
            "why": format!("last written by {}", self.written_by),
            "detail": format!("{} needs --take-over", self.action),
        })
    }

    /// The take-over as a clause of an error.
    pub(crate) fn sentence(&self) -> String {
        format!(
            "{} ({}) was last written by {}",
            self.stream, self.action, self.written_by
        )
    }
}

/// What applying a pack would do.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    /// The changes to submit, in order.
    pub(crate) changes: Vec<Change>,
    /// Neighbouring regions the pack declares differently from the
    /// service, left as the service has them.
    pub(crate) skipped: Vec<Skipped>,
    /// The changes that overwrite what another pack, an administrator or
    /// an unnamed writer wrote last, in plan order: applying them needs
    /// `--take-over`.
    pub(crate) taken_over: Vec<TakeOver>,
}

/// The region `desired` owns, the one its organisations are in, if it
/// lists any; a pack whose organisations are in more than one region is
/// refused, naming them.
fn owned_regions(pack: &str, desired: &[EventPayload]) -> Result<BTreeSet<String>> {
    let mut by_region: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for payload in desired {
        if let Some(Kind::OrganisationJoined(joined)) = &payload.kind {
            by_region
                .entry(joined.region.as_str())
                .or_default()
                .push(joined.ods_code.as_str());
        }
    }
    if by_region.len() > 1 {
        let listed: Vec<String> = by_region
            .iter()
            .map(|(region, organisations)| format!("{} in {region}", organisations.join(", ")))
            .collect();
        bail!(
            "pack {pack} lists organisations in more than one region ({}): a pack owns the one \
             region its organisations are in, so list each region's organisations in that \
             region's own pack",
            listed.join("; ")
        );
    }
    Ok(by_region.into_keys().map(str::to_owned).collect())
}

/// The changes that make the service's policy match the pack's `desired`
/// events (regions, organisations, roles, as the pack loader gives them),
/// in that order, then the organisations of the pack's owned region that
/// the pack does not list, to leave, and the changes among them that take
/// over what this pack did not write last. A region the pack does not own
/// is set only when the service does not know it yet. Roles the pack does
/// not list are left alone: roles are shared by every region.
pub(crate) fn plan(pack: &str, desired: &[EventPayload], current: &CurrentPolicy) -> Result<Plan> {
    let owned = owned_regions(pack, desired)?;
    let mut plan = Plan::default();
    let mut listed = BTreeSet::new();
    for payload in desired {
        let Some(stream) = StreamId::of(payload).map(|s| s.to_string()) else {
            continue;
        };
        let neighbour = match &payload.kind {
            Some(Kind::RegionPolicySet(region)) => !owned.contains(&region.region),
            Some(Kind::OrganisationJoined(_)) => {
                listed.insert(stream.clone());
                false
            }
            _ => false,
        };
        let latest = current.latest(&stream);
        let why = match latest {
            None if neighbour => Why::Placeholder,
            None => Why::New,
            Some((_, now)) if normalised(now) == normalised(payload) => continue,
            Some((_, now)) if neighbour => {
                plan.skipped.push(Skipped {
                    stream,
                    current: now.clone(),
                });
                continue;
            }
            Some((_, now)) if matches!(now.kind, Some(Kind::OrganisationLeft(_))) => Why::Rejoins,
            Some(_) => Why::Changed,
        };
        let version = latest.map_or(0, |(version, _)| *version);
        plan.changes
            .push(change(pack, stream, version, why, payload.clone()));
    }
    for (stream, (version, payload)) in &current.streams {
        let Some(Kind::OrganisationJoined(joined)) = &payload.kind else {
            continue;
        };
        if owned.contains(&joined.region) && !listed.contains(stream) {
            let left = EventPayload {
                kind: Some(Kind::OrganisationLeft(OrganisationLeft {
                    ods_code: joined.ods_code.clone(),
                })),
            };
            plan.changes
                .push(change(pack, stream.clone(), *version, Why::NotInPack, left));
        }
    }
    plan.taken_over = plan
        .changes
        .iter()
        .filter(|change| overwrites(change))
        .filter_map(|change| {
            let written = current.written.get(&change.stream)?;
            (!written.is(pack)).then(|| TakeOver {
                stream: change.stream.clone(),
                action: change.action(),
                written_by: written.describe(),
            })
        })
        .collect();
    Ok(plan)
}

/// Whether `change` overwrites something a pack owns: the owned region's
/// settings, an organisation's membership. New streams and placeholders
/// overwrite nothing; roles are shared by every region.
fn overwrites(change: &Change) -> bool {
    matches!(change.why, Why::Changed | Why::Rejoins | Why::NotInPack)
        && !matches!(change.payload.kind, Some(Kind::RolePolicySet(_)))
}

fn change(pack: &str, stream: String, version: u64, why: Why, payload: EventPayload) -> Change {
    let digest = Sha256::digest(normalised(&payload).encode_to_vec());
    let short: String = digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let prefix = match why {
        Why::Placeholder => placeholder_prefix(pack),
        _ => format!("policy-apply/{pack}/"),
    };
    Change {
        request_id: format!("{prefix}{stream}@{version}/{short}"),
        version,
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

#[cfg(test)]
#[path = "take_over_tests.rs"]
mod take_over_tests;
