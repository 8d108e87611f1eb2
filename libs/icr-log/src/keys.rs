//! Key layout of the log tree. Everything lives in one sled tree so an append
//! is one atomic batch:
//!
//! | prefix | key                                 | value                    |
//! |--------|-------------------------------------|--------------------------|
//! | `e`    | position (u64 BE)                   | `RecordedEvent` (proto)  |
//! | `s`    | stream, 0x00, stream version (BE)   | position (u64 BE)        |
//! | `h`    | stream                              | stream version (u64 BE)  |
//! | `r`    | request id                          | `RequestRecord` (proto)  |
//!
//! Big-endian integers make sled's byte order the numeric order, so range
//! scans read positions and stream versions in order.

pub(crate) const EVENT: u8 = b'e';
pub(crate) const STREAM_INDEX: u8 = b's';
pub(crate) const STREAM_HEAD: u8 = b'h';
pub(crate) const REQUEST: u8 = b'r';

pub(crate) fn event(position: u64) -> [u8; 9] {
    let mut key = [EVENT; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
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
