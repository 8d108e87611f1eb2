//! Strategies for property tests (feature `test-util`): events of every
//! type whose fields hold arbitrary values — sometimes well formed,
//! sometimes any unicode, control characters, huge strings, any number or
//! any enum value — as a log written by an older or broken version, or
//! damaged, might hold them.

use icr_proto::Timestamp;
use icr_proto::pb::event_payload::Kind;
use icr_proto::pb::*;
use proptest::prelude::*;

/// A few valid NHS numbers, so that events meet the same patients.
const NHS: &[&str] = &["9434765919", "9434765870", "4010232137"];
/// Codes and ids seen again and again, so that events meet the same state.
const CODES: &[&str] = &["RKB", "M86003", "QWU", "R8000", "rel-1", "att-1", ""];
/// Dates, well formed or nearly.
const DATES: &[&str] = &["1970-01-01", "2010-06-30", "2999-12-31", "1970-02-30", ""];

/// Text for a field: usually one of `common`, otherwise arbitrary unicode
/// (control characters included) or long.
pub fn text(common: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        4 => prop::sample::select(common).prop_map(str::to_owned),
        2 => any::<String>(),
        1 => (any::<char>(), 0usize..3000).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
    .boxed()
}

/// An enum number: usually near the known range, sometimes anything.
pub fn enum_value() -> BoxedStrategy<i32> {
    prop_oneof![4 => -1i32..22, 1 => any::<i32>()].boxed()
}

/// An optional timestamp: absent, plausible, or any pair of numbers
/// (out of range, negative nanoseconds).
pub fn timestamp() -> BoxedStrategy<Option<Timestamp>> {
    let plausible = (1_500_000_000i64..2_500_000_000, 0i32..1_000_000_000);
    prop_oneof![
        1 => Just(None),
        2 => plausible.prop_map(|(seconds, nanos)| Some(Timestamp { seconds, nanos })),
        1 => any::<(i64, i32)>().prop_map(|(seconds, nanos)| Some(Timestamp { seconds, nanos })),
    ]
    .boxed()
}

fn nhs() -> BoxedStrategy<String> {
    text(NHS)
}

fn code() -> BoxedStrategy<String> {
    text(CODES)
}

fn patient_kind() -> BoxedStrategy<Kind> {
    prop_oneof![
        (nhs(), code(), text(DATES)).prop_map(|(nhs_number, gp_practice_ods, date_of_birth)| {
            Kind::PatientRegistered(PatientRegistered {
                nhs_number,
                gp_practice_ods,
                date_of_birth,
            })
        }),
        (nhs(), enum_value(), code()).prop_map(|(nhs_number, scope, attorney_id)| {
            Kind::ObjectionRecorded(ObjectionRecorded {
                nhs_number,
                scope,
                attorney_id,
            })
        }),
        (nhs(), enum_value(), code()).prop_map(|(nhs_number, scope, attorney_id)| {
            Kind::ObjectionWithdrawn(ObjectionWithdrawn {
                nhs_number,
                scope,
                attorney_id,
            })
        }),
        (
            nhs(),
            code(),
            enum_value(),
            code(),
            text(DATES),
            text(DATES)
        )
            .prop_map(
                |(nhs_number, attorney_id, kind, verified_by, valid_from, valid_until)| {
                    Kind::PowerOfAttorneyRegistered(PowerOfAttorneyRegistered {
                        nhs_number,
                        attorney_id,
                        kind,
                        verified_by,
                        valid_from,
                        valid_until,
                    })
                }
            ),
        (nhs(), code()).prop_map(|(nhs_number, attorney_id)| {
            Kind::PowerOfAttorneyRevoked(PowerOfAttorneyRevoked {
                nhs_number,
                attorney_id,
            })
        }),
        (nhs(), code(), code(), enum_value()).prop_map(
            |(nhs_number, relationship_id, organisation_ods, kind)| {
                Kind::CareRelationshipStarted(CareRelationshipStarted {
                    nhs_number,
                    relationship_id,
                    organisation_ods,
                    kind,
                })
            }
        ),
        (nhs(), code()).prop_map(|(nhs_number, relationship_id)| {
            Kind::CareRelationshipEnded(CareRelationshipEnded {
                nhs_number,
                relationship_id,
            })
        }),
        (nhs(), code(), timestamp(), code()).prop_map(
            |(nhs_number, organisation_ods, until, attorney_id)| {
                Kind::PermissionToViewGranted(PermissionToViewGranted {
                    nhs_number,
                    organisation_ods,
                    until,
                    attorney_id,
                })
            }
        ),
        (nhs(), code(), code()).prop_map(|(nhs_number, organisation_ods, attorney_id)| {
            Kind::PermissionToViewRevoked(PermissionToViewRevoked {
                nhs_number,
                organisation_ods,
                attorney_id,
            })
        }),
    ]
    .boxed()
}

fn policy_kind() -> BoxedStrategy<Kind> {
    prop_oneof![
        (code(), code(), code()).prop_map(|(ods_code, name, region)| {
            Kind::OrganisationJoined(OrganisationJoined {
                ods_code,
                name,
                region,
            })
        }),
        code().prop_map(|ods_code| Kind::OrganisationLeft(OrganisationLeft { ods_code })),
        (
            code(),
            code(),
            list(enum_value()),
            list(enum_value()),
            any::<bool>()
        )
            .prop_map(|(role_code, description, sections, purposes, clinical)| {
                Kind::RolePolicySet(RolePolicySet {
                    role_code,
                    description,
                    sections,
                    purposes,
                    clinical,
                })
            }),
        (
            code(),
            code(),
            enum_value(),
            any::<u32>(),
            list(code()),
            any::<[bool; 4]>()
        )
            .prop_flat_map(
                |(region, name, consent_model, minimum_age, viewing_regions, flags)| {
                    (any::<u32>(), text(DATES)).prop_map(move |(review_within_days, from)| {
                        Kind::RegionPolicySet(RegionPolicySet {
                            region: region.clone(),
                            name: name.clone(),
                            consent_model,
                            minimum_age,
                            viewing_regions: viewing_regions.clone(),
                            break_glass: flags[0],
                            self_claimed_relationship: flags[1],
                            review_within_days,
                            secondary_use_pseudonymised: flags[2],
                            children_social_care_from: from,
                        })
                    })
                }
            ),
        (code(), any::<u64>(), enum_value(), code()).prop_map(
            |(decision_id, audit_position, outcome, note)| {
                Kind::AccessReviewed(AccessReviewed {
                    decision_id,
                    audit_position,
                    outcome,
                    note,
                })
            }
        ),
    ]
    .boxed()
}

/// A short list of `item`s.
fn list<T: std::fmt::Debug + 'static>(item: BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
    prop::collection::vec(item, 0..6).boxed()
}

/// A payload of any type (or none) with arbitrary field values.
pub fn payload() -> BoxedStrategy<EventPayload> {
    prop_oneof![
        1 => Just(EventPayload { kind: None }),
        6 => patient_kind().prop_map(|kind| EventPayload { kind: Some(kind) }),
        3 => policy_kind().prop_map(|kind| EventPayload { kind: Some(kind) }),
    ]
    .boxed()
}

/// The stream a log would file `payload` under, or (sometimes) any text:
/// a damaged or foreign log need not agree with its payloads.
pub fn stream_of(payload: &EventPayload) -> BoxedStrategy<String> {
    let filed = crate::StreamId::of(payload).map_or_else(String::new, |s| s.to_string());
    prop_oneof![4 => Just(filed), 1 => text(&["patient/9434765919", "patient/", "role/R8000"])]
        .boxed()
}

/// A recorded event at `position` with an arbitrary payload and
/// arbitrary metadata (ids, actor, times, types, versions).
pub fn recorded_event(position: u64) -> BoxedStrategy<RecordedEvent> {
    payload()
        .prop_flat_map(move |payload| {
            let actor =
                (code(), code(), nhs()).prop_map(|(calling_system, user_id, on_behalf_of)| {
                    Some(Actor {
                        calling_system,
                        user_id,
                        on_behalf_of,
                    })
                });
            let meta = (
                code(),
                any::<u64>(),
                timestamp(),
                code(),
                any::<u32>(),
                code(),
            );
            (stream_of(&payload), actor, meta, Just(payload))
        })
        .prop_map(move |(stream, actor, meta, payload)| {
            let (id, stream_version, recorded_at, event_type, schema_version, request_id) = meta;
            RecordedEvent {
                id,
                position,
                stream,
                stream_version,
                recorded_at,
                actor,
                event_type,
                schema_version,
                request_id,
                payload: Some(payload),
                chain_hash: Vec::new(),
            }
        })
        .boxed()
}
