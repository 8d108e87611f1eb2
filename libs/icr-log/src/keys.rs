//! Key layout of the log tree. Everything lives in one sled tree so an append
//! is one atomic batch:
//!
//! | prefix | key                                 | value                    |
//! |--------|-------------------------------------|--------------------------|
//! | `e`    | position (u64 BE)                   | `RecordedEvent` (proto)  |
//! | `s`    | stream, 0x00, stream version (BE)   | position (u64 BE)        |
//! | `h`    | stream                              | stream version (u64 BE)  |
//! | `r`    | request id                          | `RequestRecord` (proto)  |
//! | `c`    | position (u64 BE)                   | chain hash (32 bytes)    |
//!
//! Big-endian integers make sled's byte order the numeric order, so range
//! scans read positions and stream versions in order.

pub(crate) const EVENT: u8 = b'e';
pub(crate) const STREAM_INDEX: u8 = b's';
pub(crate) const STREAM_HEAD: u8 = b'h';
pub(crate) const REQUEST: u8 = b'r';
pub(crate) const CHAIN: u8 = b'c';

pub(crate) fn event(position: u64) -> [u8; 9] {
    positioned(EVENT, position)
}

pub(crate) fn chain(position: u64) -> [u8; 9] {
    positioned(CHAIN, position)
}

/// A one-byte prefix followed by a big-endian position.
pub(crate) fn positioned(prefix: u8, position: u64) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

/// The last position stored under `prefix` in `tree`, or 0.
pub(crate) fn last_position(tree: &sled::Tree, prefix: u8) -> Result<u64, crate::LogError> {
    match tree.scan_prefix([prefix]).keys().next_back() {
        Some(key) => {
            let key = key?;
            decode_u64(&key[1..]).ok_or_else(|| {
                crate::LogError::Inconsistent(format!("last key {key:?} is not a position"))
            })
        }
        None => Ok(0),
    }
}

/// The chain hash stored under `key`, if it is there and well formed.
pub(crate) fn stored_hash(
    tree: &sled::Tree,
    key: [u8; 9],
) -> Result<Option<crate::chain::ChainHash>, crate::LogError> {
    Ok(tree.get(key)?.and_then(|v| v.as_ref().try_into().ok()))
}

pub(crate) fn stream_prefix(stream: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 10);
    key.push(STREAM_INDEX);
    key.extend_from_slice(stream.as_bytes());
    key.push(0);
    key
}

pub(crate) fn stream_index(stream: &str, version: u64) -> Vec<u8> {
    let mut key = stream_prefix(stream);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

pub(crate) fn stream_head(stream: &str) -> Vec<u8> {
    let mut key = vec![STREAM_HEAD];
    key.extend_from_slice(stream.as_bytes());
    key
}

pub(crate) fn request(request_id: &str) -> Vec<u8> {
    let mut key = vec![REQUEST];
    key.extend_from_slice(request_id.as_bytes());
    key
}

/// Reads a big-endian u64 value; `None` if the value has the wrong length.
pub(crate) fn decode_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

/// The first position in `1..=head` whose item (stored under `prefix`) was
/// recorded at or after `time`, or `head + 1` when none was. Recorded times
/// never decrease along a chain, so this is a binary search.
pub(crate) fn first_since(
    tree: &sled::Tree,
    prefix: u8,
    head: u64,
    time: icr_proto::Timestamp,
    time_of: fn(&[u8]) -> Option<icr_proto::Timestamp>,
) -> Result<u64, crate::LogError> {
    let wanted = (time.seconds, time.nanos);
    let (mut low, mut high) = (1, head + 1);
    while low < high {
        let middle = low + (high - low) / 2;
        let bytes = tree.get(positioned(prefix, middle))?.ok_or_else(|| {
            crate::LogError::Inconsistent(format!("position {middle} is missing"))
        })?;
        let at = time_of(&bytes).ok_or_else(|| {
            crate::LogError::Inconsistent(format!("position {middle} has no readable time"))
        })?;
        if (at.seconds, at.nanos) < wanted {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    Ok(low)
}
