//! The fact vocabulary, declared once.
//!
//! Each fact is declared here with its name, when it holds, how a deny on
//! it is explained, and how it is computed from the request and what the
//! projections hold about it ([`FactInputs`]). From this one declaration
//! follow the [`Facts`] struct (one `bool` per fact, what the engine hands
//! casbin), its computation ([`Facts::compute`]), the names a rule may use
//! ([`Facts::NAMES`]), the probe with every fact holding, the reason
//! wording ([`crate::explain`]) and the fact table in `policies/README.md`
//! (checked by a test here).
//!
//! The projections look up what a request concerns (the patient, the
//! region's policy, the clinical roles) and call [`Facts::compute`]; they
//! name no fact.

mod inputs;

use icr_proto::pb::{AccessMode, ConsentModel};
use jiff::civil::Date;
use serde::Serialize;

pub use inputs::{FactInputs, FactQuery, age_on};

/// Age from which social care counts as adults' social care.
const ADULT_AGE: i32 = 18;

/// One declared fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    /// The name rules use (`when`, `unless`), and the reason a deny on it gives.
    pub name: &'static str,
    /// When it holds, as `policies/README.md` states it.
    pub holds_when: &'static str,
    /// The explanation of a deny whose rule names this fact as its `when`;
    /// `None` for a fact used only as an exemption (`unless`).
    pub denial: Option<&'static str>,
}

/// Declares the facts: generates [`Facts`] and its tables from one list.
macro_rules! declare_facts {
    ($( $name:ident {
        holds_when: $holds:literal
        $(, denial: $denial:literal)?,
        computed: |$inputs:ident| $computed:expr $(,)?
    } )*) => {
        /// Facts about one request, computed from the projections. The field
        /// names are the fact names deny rules use.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
        pub struct Facts {
            $(
                #[doc = concat!("True when ", $holds, ".")]
                pub $name: bool,
            )*
        }

        impl Facts {
            /// Computes every fact of one request, each as its declaration says.
            // Inlined into the caller across crates, as the computation was
            // when it lived in the projections: it runs on every decision.
            #[inline]
            pub fn compute(inputs: &FactInputs<'_>) -> Self {
                Self {
                    $($name: {
                        let $inputs: &FactInputs<'_> = inputs;
                        $computed
                    },)*
                }
            }

            /// Every fact name a rule may use, in declaration order.
            pub const NAMES: [&'static str; COUNT] = [$(stringify!($name)),*];

            /// Every declared fact, in declaration order.
            pub const DECLARED: [Fact; COUNT] = [$(
                Fact {
                    name: stringify!($name),
                    holds_when: $holds,
                    denial: declare_facts!(@denial $($denial)?),
                }
            ),*];

            /// No fact holding, in a `const` (as `Facts::default()`).
            pub const NONE: Self = Self { $($name: false),* };

            /// Every fact holding (the engine's probe requests use it).
            pub(crate) const EVERY: Self = Self { $($name: true),* };

            /// The value of the fact named `name`; `None` for a name not declared.
            pub fn holds(&self, name: &str) -> Option<bool> {
                match name {
                    $(stringify!($name) => Some(self.$name),)*
                    _ => None,
                }
            }
        }

        const COUNT: usize = [$(stringify!($name)),*].len();
    };
    (@denial $denial:literal) => { Some($denial) };
    (@denial) => { None };
}

declare_facts! {
    outside_population {
        holds_when: "the patient is unknown, not registered with a practice in the agreement, the practice's region has no policy, or the patient is younger than the region's minimum age on the decision date (UK calendar; a 29 February birthday counts on 1 March)",
        denial: "the patient is not in this ICR's population (GP registration or age)",
        // Unknown patient, practice or region policy: outside. A negative age
        // (a birth date in the future) is never old enough.
        computed: |r| !match (r.age, r.region) {
            (Some(age), Some(p)) => {
                age >= 0 && u32::try_from(age).is_ok_and(|age| age >= p.minimum_age)
            }
            _ => false,
        },
    }
    objection_active {
        holds_when: "the patient has an active objection covering this purpose (an objection with a scope this build does not know, or an event it cannot read, covers every purpose; the Summary Care Record opt-out covers none)",
        denial: "the patient has objected to their record being shared for this purpose",
        computed: |r| r.patient.is_some_and(|p| p.objects_to(r.query.purpose)),
    }
    no_care_relationship {
        holds_when: "the requester's organisation has no active care relationship with the patient",
        denial: "the requester's organisation is not involved in the patient's care",
        computed: |r| !r
            .patient
            .is_some_and(|p| p.has_care_relationship(r.query.organisation_ods)),
    }
    permission_to_view_missing {
        holds_when: "the region's consent model is not opt-out and the requester's organisation holds no unexpired permission to view",
        denial: "the patient has not given the requester's organisation permission to view",
        // An unknown region needs permission: every uncertainty denies.
        computed: |r| r.region.is_none_or(|p| p.consent_model() != ConsentModel::OptOut)
            && !r.patient.is_some_and(|p| {
                p.has_permission_to_view(r.query.organisation_ods, r.query.now)
            }),
    }
    own_organisation_data {
        holds_when: "the request names a source organisation equal to the requester's: that is the organisation's own record, not ICR sharing. The source is asserted by the calling record viewer, which knows where the data it is about to show came from",
        computed: |r| !r.query.source_organisation_ods.is_empty()
            && r.query.source_organisation_ods == r.query.organisation_ods,
    }
    break_glass {
        holds_when: "the requester asks for emergency access",
        denial: "emergency access is not permitted for this role in the patient's region",
        computed: |r| r.query.access_mode == AccessMode::BreakGlass,
    }
    break_glass_permitted {
        holds_when: "the region allows break glass and the requester's role is marked clinical",
        computed: |r| r.region.is_some_and(|p| p.break_glass)
            && r.clinical_roles.contains(r.query.role_code),
    }
    self_claimed_relationship {
        holds_when: "the requester claims a care relationship that is not recorded",
        denial: "a self-claimed care relationship is not accepted in the patient's region",
        computed: |r| r.query.access_mode == AccessMode::SelfClaimedRelationship,
    }
    self_claim_permitted {
        holds_when: "the region allows self-claimed relationships",
        computed: |r| r.region.is_some_and(|p| p.self_claimed_relationship),
    }
    access_reason_missing {
        holds_when: "break glass or a self-claimed relationship without a reason",
        denial: "emergency access and self-claimed relationships need a reason",
        // A reason must say something: at least one letter or digit.
        computed: |r| matches!(
            r.query.access_mode,
            AccessMode::BreakGlass | AccessMode::SelfClaimedRelationship
        ) && !r.query.access_reason.chars().any(char::is_alphanumeric),
    }
    child_social_care_not_yet_shared {
        holds_when: "the patient is under 18 and the region shares children's social care only from a date still in the future",
        denial: "children's social care records are not shared by this ICR yet",
        // An unreadable date keeps children's social care closed.
        computed: |r| r.region.is_some_and(|p| {
            let from = &p.children_social_care_from;
            !from.is_empty() && from.parse::<Date>().ok().is_none_or(|from| r.today < from)
        }) && r.age.is_none_or(|age| age < ADULT_AGE),
    }
}

impl Fact {
    /// The declared fact named `name`.
    pub fn named(name: &str) -> Option<Self> {
        Facts::DECLARED
            .iter()
            .find(|fact| fact.name == name)
            .copied()
    }
}

#[cfg(test)]
#[path = "facts_tests.rs"]
mod tests;
