//! Key layout of the log tree. Everything lives in one sled tree so an append
//! is one atomic batch:
//!
//! | prefix | key                                 | value                    |
//! |--------|-------------------------------------|--------------------------|
//! | `e`    | position (u64 BE)                   | sealed `RecordedEvent`   |
//! | `s`    | stream, 0x00, stream version (BE)   | position (u64 BE)        |
//! | `r`    | request id                          | `RequestRecord` (proto)  |
//!
//! Big-endian integers make sled's byte order the numeric order, so range
//! scans read positions and stream versions in order, and a stream's
//! current version is its last index key. A *sealed* item is its chain hash
//! (32 bytes) followed by its protobuf encoding, so an append writes three
//! keys per event and a read finds the hash with the item.

use crate::chain::ChainHash;

pub(crate) const EVENT: u8 = b'e';
pub(crate) const STREAM_INDEX: u8 = b's';
pub(crate) const REQUEST: u8 = b'r';

pub(crate) fn event(position: u64) -> [u8; 9] {
    positioned(EVENT, position)
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

/// A stored item: its chain hash, then its encoding.
pub(crate) fn seal(hash: &ChainHash, encoding: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(hash.len() + encoding.len());
    value.extend_from_slice(hash);
    value.extend_from_slice(encoding);
    value
}

/// A stored item's chain hash and encoding; `None` when it is too short to
/// hold a hash.
pub(crate) fn unseal(value: &[u8]) -> Option<(ChainHash, &[u8])> {
    let (hash, encoding) = value.split_first_chunk::<32>()?;
    Some((*hash, encoding))
}

/// Decodes a sealed item, `what` naming it in errors ("event 5"): the
/// message and its chain hash.
pub(crate) fn decode_sealed<M: prost::Message + Default>(
    value: &[u8],
    what: impl Fn() -> String,
) -> Result<(M, ChainHash), crate::LogError> {
    let (hash, bytes) = unseal(value).ok_or_else(|| {
        crate::LogError::Inconsistent(format!("{} is shorter than a chain hash", what()))
    })?;
    let message = M::decode(bytes).map_err(|source| crate::LogError::Corrupt {
        key: what(),
        source,
    })?;
    Ok((message, hash))
}

/// The chain hash of the item stored under `key`, if it is there and well
/// formed.
pub(crate) fn stored_hash(
    tree: &sled::Tree,
    key: [u8; 9],
) -> Result<Option<ChainHash>, crate::LogError> {
    Ok(tree.get(key)?.and_then(|v| Some(unseal(&v)?.0)))
}

/// The chain hash stored at `position` under `prefix` in `tree`, a chain's
/// head: `None` at position 0 (an empty chain), an error when the item is
/// missing or too short to hold a hash.
pub(crate) fn head_hash(
    tree: &sled::Tree,
    prefix: u8,
    position: u64,
) -> Result<Option<ChainHash>, crate::LogError> {
    if position == 0 {
        return Ok(None);
    }
    stored_hash(tree, positioned(prefix, position))?
        .map(Some)
        .ok_or_else(|| {
            crate::LogError::Inconsistent(format!("no chain hash at position {position}"))
        })
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

/// The current version of `stream` (0 when it has no events): the version
/// in its last index key.
pub(crate) fn stream_version(tree: &sled::Tree, stream: &str) -> Result<u64, crate::LogError> {
    let prefix = stream_prefix(stream);
    match tree.scan_prefix(&prefix).keys().next_back() {
        Some(key) => {
            let key = key?;
            decode_u64(&key[prefix.len()..]).ok_or_else(|| {
                crate::LogError::Inconsistent(format!("stream {stream} has a malformed index key"))
            })
        }
        None => Ok(0),
    }
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

/// The first position in `1..=head` whose (sealed) item (stored under `prefix`) was
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
        let at = unseal(&bytes)
            .and_then(|(_, item)| time_of(item))
            .ok_or_else(|| {
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
