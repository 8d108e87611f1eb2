//! The bounds on a policy event's fields, checked by
//! [`validate_policy_event`](crate::validate_policy_event) for pack entries
//! and the policy RPCs alike. The service's other request bounds are with
//! its request validation.
//!
//! Like those, a policy that breaks one is refused as invalid, naming the
//! field: the bounds are generous for every real policy and small enough
//! that no one change can make every engine build much larger.

/// Longest name accepted, in bytes: organisation and region names and a
/// role's description. The longest NHS organisation names are about 100
/// characters.
pub const MAX_NAME: usize = 256;

/// Most sections a role policy may list. Repeats are refused and there are
/// 19 sections, so this only stops a long list before it is checked item
/// by item; it leaves room for the vocabulary to grow.
pub const MAX_ROLE_SECTIONS: usize = 64;

/// Most purposes a role policy may list (there are two; repeats are
/// refused). Like [`MAX_ROLE_SECTIONS`], a cheap bound checked first.
pub const MAX_ROLE_PURPOSES: usize = 8;

/// Most viewing regions a region policy may list. England has 42
/// integrated care boards; each listed region is multiplied into the
/// engine's policy lines, so an unbounded list would make every engine
/// build (and every decision's policy set) as large as the request.
pub const MAX_VIEWING_REGIONS: usize = 64;

/// Longest review period a region may set, in days: a year (a leap year's).
pub const MAX_REVIEW_DAYS: u32 = 366;

/// Oldest minimum age a region may set: above any human age, so a typo
/// (1800) is refused rather than shutting every patient out.
pub const MAX_MINIMUM_AGE: u32 = 130;
