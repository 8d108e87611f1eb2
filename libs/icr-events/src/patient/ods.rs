//! ODS codes as patient state keeps them: interned.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};
use ustr::Ustr;

/// An ODS code, interned: each distinct code is stored once for the whole
/// process and a copy is one pointer (8 bytes). Every patient names a
/// practice and a hospital or two out of a few thousand organisations, so
/// interning turns millions of copies into one each. Interned text is never
/// freed. Codes are interned only from events already in the log (never
/// from a request's lookup), so a new code costs its few bytes once per
/// durable write that introduced it; well-formed but invented codes written
/// by a care feed would grow it with the log, as the log itself grows.
///
/// Compares, orders and prints as its text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OdsCode(Ustr);

impl OdsCode {
    /// The interned copy of `code`.
    pub fn new(code: &str) -> Self {
        Self(Ustr::from(code))
    }

    /// The code's text.
    pub fn as_str(&self) -> &'static str {
        self.0.as_str()
    }
}

impl Deref for OdsCode {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for OdsCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for OdsCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for OdsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for OdsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_text_is_one_interned_code_compared_and_ordered_as_text() {
        let rkb = OdsCode::new("RKB");
        let copy = OdsCode::new(&String::from("RKB"));
        assert_eq!(rkb, copy);
        assert_eq!(rkb.as_str().as_ptr(), copy.as_str().as_ptr());
        assert!(rkb == "RKB" && rkb != "RKC");
        assert!(OdsCode::new("A81001") < rkb && rkb < OdsCode::new("RYG"));
        assert_eq!(format!("{rkb} {rkb:?}"), "RKB \"RKB\"");
        assert_eq!(std::mem::size_of::<Option<OdsCode>>(), 8);
    }
}
