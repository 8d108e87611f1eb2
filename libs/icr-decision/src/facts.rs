//! The fact vocabulary, declared once.
//!
//! Each fact is declared here with its name, when it holds, and how a deny
//! on it is explained. From this one declaration follow the [`Facts`]
//! struct (one `bool` per fact, what the engine hands casbin), the names a
//! rule may use ([`Facts::NAMES`]), the probe with every fact holding, the
//! reason wording ([`crate::explain`]) and the fact table in
//! `policies/README.md` (checked by a test here).
//!
//! How a fact is computed lives where the data is:
//! `icr_projections::Projections::facts` builds `Facts` with a struct
//! literal naming every field, so a fact declared here does not compile
//! until it is computed there.

use serde::Serialize;

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
    ($( $name:ident { holds_when: $holds:literal $(, denial: $denial:literal)? $(,)? } )*) => {
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
    }
    objection_active {
        holds_when: "the patient has an active objection covering this purpose (an objection with a scope this build does not know, or an event it cannot read, covers every purpose; the Summary Care Record opt-out covers none)",
        denial: "the patient has objected to their record being shared for this purpose",
    }
    no_care_relationship {
        holds_when: "the requester's organisation has no active care relationship with the patient",
        denial: "the requester's organisation is not involved in the patient's care",
    }
    permission_to_view_missing {
        holds_when: "the region's consent model is not opt-out and the requester's organisation holds no unexpired permission to view",
        denial: "the patient has not given the requester's organisation permission to view",
    }
    own_organisation_data {
        holds_when: "the request names a source organisation equal to the requester's: that is the organisation's own record, not ICR sharing. The source is asserted by the calling record viewer, which knows where the data it is about to show came from",
    }
    break_glass {
        holds_when: "the requester asks for emergency access",
        denial: "emergency access is not permitted for this role in the patient's region",
    }
    break_glass_permitted {
        holds_when: "the region allows break glass and the requester's role is marked clinical",
    }
    self_claimed_relationship {
        holds_when: "the requester claims a care relationship that is not recorded",
        denial: "a self-claimed care relationship is not accepted in the patient's region",
    }
    self_claim_permitted {
        holds_when: "the region allows self-claimed relationships",
    }
    access_reason_missing {
        holds_when: "break glass or a self-claimed relationship without a reason",
        denial: "emergency access and self-claimed relationships need a reason",
    }
    child_social_care_not_yet_shared {
        holds_when: "the patient is under 18 and the region shares children's social care only from a date still in the future",
        denial: "children's social care records are not shared by this ICR yet",
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
