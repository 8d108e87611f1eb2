//! Who wrote a policy stream, as its events' request ids tell.
//!
//! A pack's writes carry its name: `policy-pack/<pack>/<entry>` when the
//! service loaded it at first start, `policy-apply/<pack>/<stream>@…` when
//! `policy apply` submitted it. Anything else (an administrator's own
//! `policy set-region`, `join-org` or `leave-org`, under a ULID or any id
//! they chose) cannot be put down to a pack. A neighbouring region that
//! `policy apply` created from a pack's placeholder goes under
//! `policy-apply/<pack>/placeholder/…` and is put down to no one: the pack
//! only named the region, so a later pack for that region does not take it
//! over from it.

use std::collections::BTreeSet;

use icr_proto::pb::RecordedEvent;

/// The word after the pack's name that marks a placeholder's request id.
const PLACEHOLDER: &str = "placeholder/";

/// The request id prefix of placeholders `pack` creates.
pub(crate) fn placeholder_prefix(pack: &str) -> String {
    format!("policy-apply/{pack}/{PLACEHOLDER}")
}

/// Who wrote one event of a policy stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Writer {
    /// A pack, loaded at first start or applied.
    Pack(String),
    /// Not a pack: an administrator's own command, or a writer the request
    /// id does not name.
    Other {
        /// The request's user id, as the log recorded it.
        user_id: String,
        /// The request id.
        request_id: String,
    },
}

impl Writer {
    /// Who wrote `event`; `None` for a placeholder, which counts as no
    /// one's.
    pub(crate) fn of(event: &RecordedEvent) -> Option<Self> {
        let request_id = event.request_id.as_str();
        let applied = request_id
            .strip_prefix("policy-apply/")
            .and_then(|rest| rest.split_once('/'));
        if applied.is_some_and(|(_, rest)| rest.starts_with(PLACEHOLDER)) {
            return None;
        }
        let named = applied.or_else(|| {
            request_id
                .strip_prefix("policy-pack/")
                .and_then(|rest| rest.split_once('/'))
        });
        match named {
            Some((pack, _)) if !pack.is_empty() => Some(Self::Pack(pack.to_owned())),
            _ => Some(Self::Other {
                user_id: event
                    .actor
                    .as_ref()
                    .map(|actor| actor.user_id.clone())
                    .unwrap_or_default(),
                request_id: request_id.to_owned(),
            }),
        }
    }

    /// The writer as the plan names it.
    fn describe(&self) -> String {
        match self {
            Self::Pack(pack) => format!("pack {pack}"),
            Self::Other {
                user_id,
                request_id,
            } if !user_id.is_empty() => {
                format!("{user_id} directly, not a pack (request {request_id})")
            }
            Self::Other { request_id, .. } => {
                format!("a writer that is not a pack (request {request_id})")
            }
        }
    }
}

/// Who wrote a stream: its latest writer that counts, and every pack that
/// ever wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// The latest writer, placeholders aside.
    pub(crate) last: Writer,
    /// Every pack that wrote the stream, in name order.
    packs: BTreeSet<String>,
}

impl Written {
    /// The stream's record after one more event by `writer`.
    pub(crate) fn by(earlier: Option<Self>, writer: Writer) -> Self {
        let mut packs = earlier.map(|w| w.packs).unwrap_or_default();
        if let Writer::Pack(pack) = &writer {
            packs.insert(pack.clone());
        }
        Self {
            last: writer,
            packs,
        }
    }

    /// Whether `pack` wrote the stream last.
    pub(crate) fn is(&self, pack: &str) -> bool {
        matches!(&self.last, Writer::Pack(last) if last == pack)
    }

    /// "pack bsw", or "ig-lead directly, not a pack (request 01J…), after
    /// pack bsw".
    pub(crate) fn describe(&self) -> String {
        let last = self.last.describe();
        let earlier: Vec<&str> = self
            .packs
            .iter()
            .filter(|pack| !matches!(&self.last, Writer::Pack(last) if last == *pack))
            .map(String::as_str)
            .collect();
        match earlier.as_slice() {
            [] => last,
            [one] => format!("{last}, after pack {one}"),
            many => format!("{last}, after packs {}", many.join(", ")),
        }
    }
}
