//! The random history written down as the `RecordedEvent`s the service
//! would have logged, at the case's instant, and the organisation each
//! request comes from.

use super::*;

pub(super) fn now_of(case: &Case) -> (Timestamp, Date) {
    let (instant, (y, m, d)) = NOWS[case.now];
    let now = instant.parse().expect("instant");
    (now, Date::new(y, m, d).expect("date"))
}

pub(super) fn date_of_birth(today: Date, years: i16, days_earlier: i64, leap: bool) -> Date {
    let year = today.year() - years;
    if leap {
        let leap_year = (year - 3..=year)
            .rev()
            .find(|y| Date::new(*y, 2, 29).is_ok());
        return Date::new(leap_year.expect("a leap year in four"), 2, 29).expect("29 Feb");
    }
    let birthday = Date::new(year, today.month(), today.day()).expect("no 29 Feb in NOWS");
    birthday
        .checked_sub(Span::new().days(days_earlier))
        .expect("in range")
}

/// The history as log events: consecutive positions, proper streams.
pub(super) fn events(case: &Case) -> Vec<RecordedEvent> {
    let (now, today) = now_of(case);
    let nhs = |p: usize| PATIENTS[p].to_owned();
    let ods = |o: usize| ORGS[o].to_owned();
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut log = Vec::new();
    for step in &case.history {
        let (stream, kind) = match step.clone() {
            Step::Region {
                region,
                consent_model,
                minimum_age,
                viewing,
                break_glass,
                self_claim,
                children_from,
            } => {
                let gate = children_from.map(|d| today.checked_add(Span::new().days(d)));
                let e = RegionPolicySet {
                    region: REGIONS[region].into(),
                    name: format!("region {region}"),
                    consent_model,
                    minimum_age,
                    viewing_regions: viewing.iter().map(|&v| REGIONS[v].into()).collect(),
                    break_glass,
                    self_claimed_relationship: self_claim,
                    review_within_days: 7,
                    secondary_use_pseudonymised: true,
                    children_social_care_from: gate
                        .map_or(String::new(), |d| d.expect("in range").to_string()),
                };
                (
                    format!("region/{}", e.region),
                    Some(Kind::RegionPolicySet(e)),
                )
            }
            Step::Join(o, r) => {
                let e = OrganisationJoined {
                    ods_code: ods(o),
                    name: format!("organisation {o}"),
                    region: REGIONS[r].into(),
                };
                (
                    format!("organisation/{}", ORGS[o]),
                    Some(Kind::OrganisationJoined(e)),
                )
            }
            Step::Leave(o) => {
                let e = OrganisationLeft { ods_code: ods(o) };
                (
                    format!("organisation/{}", ORGS[o]),
                    Some(Kind::OrganisationLeft(e)),
                )
            }
            Step::Role {
                role,
                sections,
                purposes,
                clinical,
            } => {
                let e = RolePolicySet {
                    role_code: ROLES[role].into(),
                    description: String::new(),
                    sections,
                    purposes,
                    clinical,
                };
                (
                    format!("role/{}", ROLES[role]),
                    Some(Kind::RolePolicySet(e)),
                )
            }
            Step::Register(p, practice, years, days, leap) => {
                let e = PatientRegistered {
                    nhs_number: nhs(p),
                    gp_practice_ods: ods(practice),
                    date_of_birth: date_of_birth(today, years, days, leap).to_string(),
                };
                (
                    format!("patient/{}", PATIENTS[p]),
                    Some(Kind::PatientRegistered(e)),
                )
            }
            Step::Object(p, scope) => {
                let e = ObjectionRecorded {
                    nhs_number: nhs(p),
                    scope,
                    attorney_id: String::new(),
                };
                (
                    format!("patient/{}", PATIENTS[p]),
                    Some(Kind::ObjectionRecorded(e)),
                )
            }
            Step::Withdraw(p, scope) => {
                let e = ObjectionWithdrawn {
                    nhs_number: nhs(p),
                    scope,
                    attorney_id: String::new(),
                };
                (
                    format!("patient/{}", PATIENTS[p]),
                    Some(Kind::ObjectionWithdrawn(e)),
                )
            }
            Step::CareStart(p, id, o) => {
                let e = CareRelationshipStarted {
                    nhs_number: nhs(p),
                    relationship_id: format!("episode-{id}"),
                    organisation_ods: ods(o),
                    kind: CareRelationshipKind::InpatientEpisode.into(),
                };
                (
                    format!("patient/{}", PATIENTS[p]),
                    Some(Kind::CareRelationshipStarted(e)),
                )
            }
            Step::CareEnd(p, id) => {
                let e = CareRelationshipEnded {
                    nhs_number: nhs(p),
                    relationship_id: format!("episode-{id}"),
                };
                (
                    format!("patient/{}", PATIENTS[p]),
                    Some(Kind::CareRelationshipEnded(e)),
                )
            }
            Step::Grant(p, o, until) => {
                let e = PermissionToViewGranted {
                    nhs_number: nhs(p),
                    organisation_ods: ods(o),
                    until: Some(icr_proto::Timestamp {
                        seconds: now.as_second() + until,
                        nanos: 0,
                    }),
                    attorney_id: String::new(),
                };
                (
                    format!("patient/{}", PATIENTS[p]),
                    Some(Kind::PermissionToViewGranted(e)),
                )
            }
            Step::Revoke(p, o) => {
                let e = PermissionToViewRevoked {
                    nhs_number: nhs(p),
                    organisation_ods: ods(o),
                    attorney_id: String::new(),
                };
                (
                    format!("patient/{}", PATIENTS[p]),
                    Some(Kind::PermissionToViewRevoked(e)),
                )
            }
            Step::Unreadable(p) => (format!("patient/{}", PATIENTS[p]), None),
        };
        let payload = EventPayload { kind };
        let (event_type, schema_version) =
            icr_events::event_type(&payload).unwrap_or(("FromANewerBuild", 1));
        let version = versions.entry(stream.clone()).or_default();
        *version += 1;
        let position = log.len() as u64 + 1;
        log.push(RecordedEvent {
            id: format!("01DIFFERENTIAL{position:012}"),
            position,
            stream,
            stream_version: *version,
            recorded_at: Some(icr_proto::Timestamp {
                seconds: now.as_second() - 86_400 + position as i64,
                nanos: 0,
            }),
            actor: None,
            event_type: event_type.into(),
            schema_version,
            request_id: format!("req-{position}"),
            payload: Some(payload),
            chain_hash: Vec::new(),
        });
    }
    log
}

/// The organisation a request comes from: `ask.org`, or the practice the
/// history last registered the patient with.
pub(super) fn resolve_org(case: &Case, ask: &Ask) -> usize {
    let practice = case.history.iter().rev().find_map(|step| match step {
        Step::Register(p, practice, ..) if *p == ask.patient => Some(*practice),
        _ => None,
    });
    if ask.org < ORGS.len() {
        ask.org
    } else {
        practice.unwrap_or(0)
    }
}
