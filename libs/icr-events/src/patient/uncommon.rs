//! The parts of a patient's state that few patients have, kept behind one
//! pointer so that the many without them pay 8 bytes.

use serde::{Deserialize, Serialize};

use super::facts::{Attorney, Grant, Unreadable};
use super::sorted::Sorted;

/// Objections, attorneys, permissions to view, unreadable events, and an
/// unreadable registration. A patient holds this only while some part is
/// present ([`Uncommon::is_empty`] is never true of a held one), so equal
/// states compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Uncommon {
    /// Active objections: scope number and the position of the event that
    /// recorded it.
    pub(super) objections: Sorted<(i32, u64)>,
    /// Registered attorneys by attorney id.
    pub(super) attorneys: Sorted<(String, Attorney)>,
    /// The last grant of a permission to view, by organisation ODS code,
    /// until it is revoked.
    pub(super) permissions_to_view: Sorted<(String, Grant)>,
    /// Events of a kind this build cannot read (written by a newer one). Any
    /// such event might be an objection, so the patient is treated as
    /// objecting until this build is upgraded.
    pub(super) unreadable: Option<Unreadable>,
    /// Position of the last registration event when its date of birth could
    /// not be read: the patient is unregistered, and that event is the source
    /// of it. Never set together with a registration.
    pub(super) unregistered_source: Option<u64>,
}

impl Uncommon {
    /// Whether no part is present.
    pub(super) fn is_empty(&self) -> bool {
        self.objections.is_empty()
            && self.attorneys.is_empty()
            && self.permissions_to_view.is_empty()
            && self.unreadable.is_none()
            && self.unregistered_source.is_none()
    }

    /// Counts an unreadable event at `position`.
    pub(super) fn note_unreadable(&mut self, position: u64) {
        match &mut self.unreadable {
            Some(unreadable) => unreadable.events += 1,
            None => {
                self.unreadable = Some(Unreadable {
                    events: 1,
                    first_position: position,
                });
            }
        }
    }
}
