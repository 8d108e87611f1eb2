//! The Cedar peer: our decisions written as Cedar policies
//! (`benches/cedar/`: `rules.cedar` with `roles.cedar` or
//! `roles_grouped.cedar`, schema `icr.cedarschema`), evaluated by the
//! `cedar-policy` crate with the entities an integrator would pass.
//!
//! Two ways to hold the entities, both measured:
//! - per request ([`CedarPeer::decide`]): the patient and the requester are
//!   built from the projections for each request, beside the requester's
//!   organisation and the patient's region (built once from the policy and
//!   cloned, as an integrator would cache them). This is the usual way to
//!   call Cedar and the fair comparison: the same lookups ours does, then
//!   evaluation. Role policies list their sections (`roles.cedar`): action
//!   groups would need the action entities copied into every request's
//!   store, which measured about twice as slow.
//! - one store ([`CedarStore`]): every patient loaded once into one
//!   `Entities`, so a request is only evaluation. Cheaper per request, but
//!   the store is immutable: any consent change means rebuilding or copying
//!   it, and it holds a second copy of every patient. Role policies grant
//!   action groups (`roles_grouped.cedar`), loaded once with the store:
//!   about twice as fast here as listed sections.
//!
//! Schemas are checked at setup (policies validated strictly; entities and
//! requests of the agreement sample built with the schema); the timed path
//! passes no schema, which is what makes Cedar fastest.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::LazyLock;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use icr_events::codes::{purpose_name, section_name};
use icr_events::{NhsNumber, uk_date};
use icr_projections::Projections;
use icr_proto::pb::{Purpose, RecordSection};

use crate::common::{Ask, World, now};

/// The rules every request meets (forbids).
const RULES: &str = include_str!("../cedar/rules.cedar");
/// Role policies listing their sections (for entities built per request).
const ROLES_LISTED: &str = include_str!("../cedar/roles.cedar");
/// Role policies granting action groups (for the one store).
const ROLES_GROUPED: &str = include_str!("../cedar/roles_grouped.cedar");
/// The schema of both.
const SCHEMA: &str = include_str!("../cedar/icr.cedarschema");

/// Cedar's answer, with our reasons for it (from the `@reason` annotations
/// of the policies that decided) and the number of policies that errored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CedarVerdict {
    /// Whether Cedar allowed.
    pub(crate) allowed: bool,
    /// Reasons of the forbids that denied (empty for a default deny).
    pub(crate) reasons: Vec<String>,
    /// Policies that errored (and were therefore skipped).
    pub(crate) errors: usize,
}

/// The policies and the entities that rarely change, built from a policy.
pub(crate) struct CedarPeer {
    /// Rules and role policies listing sections.
    listed: PolicySet,
    /// Rules and role policies granting action groups.
    grouped: PolicySet,
    schema: Schema,
    authorizer: Authorizer,
    /// Organisations in the agreement, by ODS code.
    organisations: HashMap<String, Entity>,
    /// Regions with a policy, by region code.
    regions: HashMap<String, Entity>,
    /// The section actions and their groups, from the schema.
    actions: Vec<Entity>,
    /// Today in the UK as YYYYMMDD.
    today: i64,
}

/// An entity reference. Type names are parsed once, not per request.
fn uid(type_name: &str, id: &str) -> EntityUid {
    static TYPES: LazyLock<HashMap<&str, EntityTypeName>> = LazyLock::new(|| {
        [
            "Action",
            "Organisation",
            "Patient",
            "Region",
            "Role",
            "User",
        ]
        .into_iter()
        .map(|t| (t, EntityTypeName::from_str(t).expect("a valid type name")))
        .collect()
    });
    let type_name = TYPES.get(type_name).expect("a type of the schema").clone();
    EntityUid::from_type_name_and_id(type_name, EntityId::new(id))
}

/// A reference as an attribute value.
fn uid_value(type_name: &str, id: &str) -> RestrictedExpression {
    RestrictedExpression::new_entity_uid(uid(type_name, id))
}

/// A date as the number YYYYMMDD.
fn yyyymmdd(date: jiff::civil::Date) -> i64 {
    i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
}

/// The requester's id: one user per role and organisation.
fn user_id(ask: &Ask) -> String {
    format!("{}@{}", ask.role_code, ask.organisation_ods)
}

impl CedarPeer {
    /// Parses and strictly validates the policies, and builds the
    /// organisation and region entities from the projections' policy.
    pub(crate) fn new(projections: &Projections) -> Self {
        let (schema, warnings) = Schema::from_cedarschema_str(SCHEMA).expect("schema parses");
        for warning in warnings {
            eprintln!("cedar schema: {warning}");
        }
        let validator = Validator::new(schema.clone());
        let policy_set = |roles: &str| -> PolicySet {
            let text = format!("{roles}\n{RULES}");
            let policies = text.parse().expect("the Cedar policies parse");
            let validation = validator.validate(&policies, ValidationMode::Strict);
            let problems: Vec<String> = validation
                .validation_errors()
                .map(ToString::to_string)
                .collect();
            assert!(problems.is_empty(), "Cedar policies invalid: {problems:#?}");
            policies
        };
        let (listed, grouped) = (policy_set(ROLES_LISTED), policy_set(ROLES_GROUPED));
        let policy = projections.policy();
        let organisations = policy
            .organisations
            .iter()
            .map(|(ods, (_, region))| {
                let attrs = HashMap::from([("region".to_owned(), uid_value("Region", region))]);
                let entity = Entity::new(uid("Organisation", ods), attrs, HashSet::new());
                (ods.clone(), entity.expect("organisation entity"))
            })
            .collect();
        let regions = policy
            .regions
            .iter()
            .map(|(code, region)| {
                let viewers = std::iter::once(code)
                    .chain(&region.viewing_regions)
                    .map(|r| uid_value("Region", r));
                let attrs = HashMap::from([
                    (
                        "minimum_age".to_owned(),
                        RestrictedExpression::new_long(i64::from(region.minimum_age)),
                    ),
                    ("viewers".to_owned(), RestrictedExpression::new_set(viewers)),
                ]);
                let entity = Entity::new(uid("Region", code), attrs, HashSet::new());
                (code.clone(), entity.expect("region entity"))
            })
            .collect();
        let actions = schema.action_entities().expect("action entities");
        let actions = actions.iter().cloned().collect();
        Self {
            listed,
            grouped,
            schema,
            actions,
            authorizer: Authorizer::new(),
            organisations,
            regions,
            today: yyyymmdd(uk_date(now())),
        }
    }

    /// The patient as an entity, if the projections know them, and the
    /// region they are registered in (when their practice is in the
    /// agreement).
    fn patient<'p>(
        &self,
        projections: &'p Projections,
        nhs_number: &NhsNumber,
    ) -> Option<(Entity, Option<&'p str>)> {
        let patient = projections.patient(nhs_number)?;
        let care_organisations = patient
            .care_relationships()
            .iter()
            .map(|r| uid_value("Organisation", r.organisation_ods.as_str()));
        let mut attrs = HashMap::from([
            (
                "care_organisations".to_owned(),
                RestrictedExpression::new_set(care_organisations),
            ),
            (
                "objects_to_direct_care".to_owned(),
                RestrictedExpression::new_bool(patient.objects_to(Purpose::DirectCare)),
            ),
            (
                "objects_to_secondary_use".to_owned(),
                RestrictedExpression::new_bool(patient.objects_to(Purpose::SecondaryUse)),
            ),
        ]);
        let registration = patient.registration();
        let region =
            registration.and_then(|r| projections.policy().region_of(r.gp_practice_ods.as_str()));
        if let (Some(registration), Some(region)) = (registration, region) {
            attrs.insert("region".to_owned(), uid_value("Region", region));
            let born = yyyymmdd(registration.date_of_birth);
            attrs.insert(
                "birth_date".to_owned(),
                RestrictedExpression::new_long(born),
            );
        }
        let id = nhs_number.to_string();
        let entity = Entity::new(uid("Patient", &id), attrs, HashSet::new());
        Some((entity.expect("patient entity"), region))
    }

    /// The requester: a user in the asked role at the asked organisation.
    fn user(ask: &Ask) -> Entity {
        let attrs = HashMap::from([(
            "organisation".to_owned(),
            uid_value("Organisation", ask.organisation_ods),
        )]);
        let parents = HashSet::from([uid("Role", ask.role_code)]);
        Entity::new(uid("User", &user_id(ask)), attrs, parents).expect("user entity")
    }

    /// The entities of one request: requester, their organisation (if in the
    /// agreement), the patient (if known) and the patient's region (if it has
    /// a policy).
    fn request_entities(&self, projections: &Projections, ask: &Ask) -> Vec<Entity> {
        let mut entities = vec![Self::user(ask)];
        entities.extend(self.organisations.get(ask.organisation_ods).cloned());
        if let Some((patient, region)) = self.patient(projections, &ask.nhs_number) {
            entities.push(patient);
            entities.extend(region.and_then(|r| self.regions.get(r)).cloned());
        }
        entities
    }

    /// The request for one section.
    fn request(&self, ask: &Ask, section: RecordSection, schema: Option<&Schema>) -> Request {
        let context = Context::from_pairs([
            (
                "purpose".to_owned(),
                RestrictedExpression::new_string(purpose_name(ask.purpose)),
            ),
            (
                "today".to_owned(),
                RestrictedExpression::new_long(self.today),
            ),
        ])
        .expect("context");
        Request::new(
            uid("User", &user_id(ask)),
            uid("Action", &section_name(section)),
            uid("Patient", &ask.nhs_number.to_string()),
            context,
            schema,
        )
        .expect("a valid request")
    }

    /// Per request: builds the entities, then decides each section.
    pub(crate) fn decide(&self, world: &World, ask: &Ask, sections: &[RecordSection]) -> usize {
        let entities = self.request_entities(&world.projections, ask);
        let entities = Entities::from_entities(entities, None).expect("entities");
        self.count_allowed(&self.listed, &entities, ask, sections)
    }

    /// Decides each section under `policies` against `entities`; returns how
    /// many allowed.
    fn count_allowed(
        &self,
        policies: &PolicySet,
        entities: &Entities,
        ask: &Ask,
        sections: &[RecordSection],
    ) -> usize {
        sections
            .iter()
            .filter(|&&s| {
                let request = self.request(ask, s, None);
                let response = self.authorizer.is_authorized(&request, policies, entities);
                response.decision() == Decision::Allow
            })
            .count()
    }

    /// Per request, with the schema checking entities and request, and the
    /// reasons: for comparing with ours before timing.
    pub(crate) fn explain(&self, world: &World, ask: &Ask) -> CedarVerdict {
        let entities = self.request_entities(&world.projections, ask);
        let entities = Entities::from_entities(entities, Some(&self.schema))
            .expect("entities conform to the schema");
        self.explain_with(&self.listed, &entities, ask, Some(&self.schema))
    }

    /// Cedar's verdict and reasons for `ask` under `policies` against `entities`.
    fn explain_with(
        &self,
        policies: &PolicySet,
        entities: &Entities,
        ask: &Ask,
        schema: Option<&Schema>,
    ) -> CedarVerdict {
        let request = self.request(ask, ask.section, schema);
        let response = self.authorizer.is_authorized(&request, policies, entities);
        let diagnostics = response.diagnostics();
        let mut reasons: Vec<String> = diagnostics
            .reason()
            .filter_map(|id| policies.annotation(id, "reason"))
            .map(str::to_owned)
            .collect();
        reasons.sort_unstable();
        reasons.dedup();
        CedarVerdict {
            allowed: response.decision() == Decision::Allow,
            reasons,
            errors: diagnostics.errors().count(),
        }
    }
}

/// Every patient of a world loaded once into one `Entities`, with the
/// organisations, regions and the requesters the benchmark asks as.
pub(crate) struct CedarStore {
    entities: Entities,
}

impl CedarStore {
    /// Loads every patient the projections know, plus the staff directory:
    /// one user per role (of `roles` and of `asks`) at each organisation
    /// `asks` name.
    pub(crate) fn load(
        peer: &CedarPeer,
        world: &World,
        asks: &[Ask],
        roles: &[&'static str],
    ) -> Self {
        let patients = (0..world.patients).filter_map(|i| {
            let nhs_number = NhsNumber::synthetic(i);
            peer.patient(&world.projections, &nhs_number)
                .map(|(p, _)| p)
        });
        let roles: HashSet<&'static str> = roles
            .iter()
            .copied()
            .chain(asks.iter().map(|a| a.role_code))
            .collect();
        let organisations: HashSet<&'static str> =
            asks.iter().map(|a| a.organisation_ods).collect();
        let users = roles.iter().flat_map(|&role_code| {
            organisations.iter().map(move |&organisation_ods| {
                CedarPeer::user(&Ask {
                    role_code,
                    organisation_ods,
                    ..asks[0]
                })
            })
        });
        let fixed = (peer.organisations.values())
            .chain(peer.regions.values())
            .chain(&peer.actions);
        let all = patients.chain(users).chain(fixed.cloned());
        let entities = Entities::from_entities(all, None).expect("one store");
        Self { entities }
    }

    /// Decides each section; returns how many allowed.
    pub(crate) fn decide(&self, peer: &CedarPeer, ask: &Ask, sections: &[RecordSection]) -> usize {
        peer.count_allowed(&peer.grouped, &self.entities, ask, sections)
    }

    /// Cedar's verdict and reasons, for comparing with ours.
    pub(crate) fn explain(&self, peer: &CedarPeer, ask: &Ask) -> CedarVerdict {
        peer.explain_with(&peer.grouped, &self.entities, ask, None)
    }
}
