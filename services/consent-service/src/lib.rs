//! The ICR consent service.
