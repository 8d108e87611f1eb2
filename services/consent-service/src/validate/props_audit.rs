//! Property tests for the policy and audit RPCs: arbitrary requests never
//! make a handler panic, and every refusal names a field of the request
//! (see `props.rs` for the shared service and what is checked).

use icr_events::EVENT_TYPES;
use icr_proto::pb::audit_service_server::AuditService;
use icr_proto::pb::authorize_at_request::At;
use icr_proto::pb::policy_admin_service_server::PolicyAdminService;
use icr_proto::pb::*;
use proptest::prelude::*;
use tonic::Request;

use super::props::{
    DATES, IDS, NHS, ODS, REASONS, ROLES, authorize_request, call, enum_value, fixture, judged,
    list, text, timestamp,
};

const REGIONS: &[&str] = &["QWU", "QHL", "QGH", ""];
const STREAMS: &[&str] = &["", "patient/9434765919", "role/R8000", "region/QWU"];
const PAGE_TOKENS: &[&str] = &["", "1", "2", "18446744073709551615", "18446744073709551616"];

fn policy_fields(more: &[&'static str]) -> Vec<&'static str> {
    ["request_id", "user_id", "x-calling-system"]
        .iter()
        .chain(more)
        .copied()
        .collect()
}

/// A page size: usually allowed, sometimes anything.
fn page_size() -> BoxedStrategy<u32> {
    prop_oneof![3 => 0u32..1100, 1 => any::<u32>()].boxed()
}

/// A position: usually small, sometimes anything.
fn position() -> BoxedStrategy<u64> {
    prop_oneof![3 => 0u64..100, 1 => any::<u64>()].boxed()
}

fn event_type() -> BoxedStrategy<String> {
    prop_oneof![3 => prop::sample::select(&EVENT_TYPES[..]).prop_map(str::to_owned), 1 => text(IDS)]
        .boxed()
}

proptest! {
    #[test]
    fn organisation_changes_refuse_only_by_naming_a_field(
        (request_id, ods_code, name, region, user_id, leave) in
            (text(IDS), text(ODS), text(IDS), text(REGIONS), text(IDS), any::<bool>()),
    ) {
        let h = &fixture().handle;
        if leave {
            let req = LeaveOrganisationRequest {
                request_id, ods_code, user_id, expected_stream_version: None,
            };
            judged(call(h.leave_organisation(Request::new(req))), &policy_fields(&["ods_code"]))?;
        } else {
            let req = JoinOrganisationRequest {
                request_id, ods_code, name, region, user_id, expected_stream_version: None,
            };
            let fields = policy_fields(&["ods_code", "name", "region"]);
            judged(call(h.join_organisation(Request::new(req))), &fields)?;
        }
    }

    #[test]
    fn role_policy_refuses_only_by_naming_a_field(
        (request_id, role_code, description, sections, purposes, user_id, clinical) in (
            text(IDS), text(ROLES), text(IDS), list(enum_value()), list(enum_value()), text(IDS),
            any::<bool>(),
        ),
    ) {
        let req = SetRolePolicyRequest {
            request_id, role_code, description, sections, purposes, user_id, clinical,
            expected_stream_version: None,
        };
        let fields = policy_fields(&["role_code", "description", "sections", "purposes"]);
        judged(call(fixture().handle.set_role_policy(Request::new(req))), &fields)?;
    }

    #[test]
    fn region_policy_refuses_only_by_naming_a_field(
        (request_id, region, name, consent_model, minimum_age, viewing_regions) in (
            text(IDS), text(REGIONS), text(IDS), enum_value(),
            prop_oneof![0u32..140, any::<u32>()], list(text(REGIONS)),
        ),
        (user_id, break_glass, self_claimed_relationship, review_within_days) in
            (text(IDS), any::<bool>(), any::<bool>(), prop_oneof![0u32..400, any::<u32>()]),
        (secondary_use_pseudonymised, children_social_care_from) in (any::<bool>(), text(DATES)),
    ) {
        let req = SetRegionPolicyRequest {
            request_id, region, name, consent_model, minimum_age, viewing_regions, user_id,
            break_glass, self_claimed_relationship, review_within_days,
            secondary_use_pseudonymised, children_social_care_from, expected_stream_version: None,
        };
        let fields = policy_fields(&[
            "region", "name", "consent_model", "minimum_age", "viewing_regions",
            "review_within_days", "children_social_care_from",
        ]);
        judged(call(fixture().handle.set_region_policy(Request::new(req))), &fields)?;
    }

    #[test]
    fn read_events_refuses_only_by_naming_a_field(
        (from_position, limit, stream, nhs_number, event_types, from_time, to_time) in (
            position(), 0u64..3, text(STREAMS), text(&["", "9434765919"]), list(event_type()),
            timestamp(), timestamp(),
        ),
    ) {
        let req = ReadEventsRequest {
            from_position, limit: limit.max(1), follow: false, stream, nhs_number, event_types,
            from_time, to_time,
        };
        let fields =
            ["stream", "nhs_number", "event_types", "from_time", "to_time"];
        judged(call(fixture().handle.read_events(Request::new(req))), &fields)?;
    }

    #[test]
    fn read_decisions_refuses_only_by_naming_a_field(
        (from_position, limit, nhs_number, from_time, to_time, access_modes) in (
            position(), 1u64..3, text(&["", "9434765919"]), timestamp(), timestamp(),
            list(enum_value()),
        ),
    ) {
        let req = ReadDecisionsRequest {
            from_position, limit, follow: false, nhs_number, from_time, to_time, access_modes,
        };
        let fields = ["nhs_number", "from_time", "to_time", "access_modes"];
        judged(call(fixture().handle.read_decisions(Request::new(req))), &fields)?;
    }

    #[test]
    fn paged_reads_refuse_only_by_naming_a_field(
        (nhs_number, page_size, page_token, include_reviewed, from_sequence, which) in (
            text(NHS), page_size(), text(PAGE_TOKENS), any::<bool>(), position(), 0u8..3,
        ),
    ) {
        let h = &fixture().handle;
        match which {
            0 => {
                let req = GetAccessReportRequest {
                    nhs_number, page_size, page_token, views_only: include_reviewed,
                };
                let fields = ["nhs_number", "page_size", "page_token"];
                judged(call(h.get_access_report(Request::new(req))), &fields)?;
            }
            1 => {
                let req = ListReviewQueueRequest { page_size, page_token, include_reviewed };
                judged(call(h.list_review_queue(Request::new(req))), &["page_size", "page_token"])?;
            }
            _ => {
                let req = ListCheckpointsRequest { from_sequence, page_size };
                judged(call(h.list_checkpoints(Request::new(req))), &["page_size"])?;
            }
        }
    }

    #[test]
    fn reviews_and_rechecks_refuse_only_by_naming_a_field(
        (request_id, decision_id, outcome, note, user_id, recheck) in
            (text(IDS), text(IDS), enum_value(), text(REASONS), text(IDS), any::<bool>()),
    ) {
        let h = &fixture().handle;
        if recheck {
            let req = RecheckDecisionRequest { decision_id };
            judged(call(h.recheck_decision(Request::new(req))), &["decision_id"])?;
        } else {
            let req = RecordAccessReviewRequest { request_id, decision_id, outcome, note, user_id };
            let fields = policy_fields(&["decision_id", "outcome", "note"]);
            judged(call(h.record_access_review(Request::new(req))), &fields)?;
        }
    }

    #[test]
    fn authorize_at_refuses_only_by_naming_a_field(
        asked in prop_oneof![1 => Just(None), 6 => authorize_request().prop_map(Some)],
        at in prop_oneof![
            1 => Just(None),
            2 => timestamp().prop_map(|t| t.map(At::AtTime)),
            2 => position().prop_map(|p| Some(At::AtPosition(p))),
        ],
    ) {
        let req = AuthorizeAtRequest { request: asked, at };
        let fields = [
            "request", "request.nhs_number", "request.requester", "request.requester.user_id",
            "request.requester.role_code", "request.requester.organisation_ods",
            "request.purpose", "request.source_organisation_ods", "request.access_mode",
            "request.access_reason", "request.section", "at", "at_time", "at_position",
        ];
        judged(call(fixture().handle.authorize_at(Request::new(req))), &fields)?;
    }
}
