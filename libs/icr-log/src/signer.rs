//! Which key signed the checkpoints, told apart from tampering.
//!
//! A checkpoint records the public key that signed it (`public_key`, not
//! covered by the signature). Verifying with another key is then a plain
//! mistake, not evidence that anything was altered, and is reported as
//! such, naming both keys by their [`key_fingerprint`]. Only a signature
//! that fails under the key that made it is tampering (see
//! [`crate::chain::verify_checkpoint`]).

use crate::chain::checkpoint_message;
use crate::fingerprint::key_fingerprint;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use icr_proto::pb::Checkpoint;

/// The checkpoints were not signed by the key given to check them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMismatch {
    /// The first checkpoint whose signature does not verify under the key
    /// given.
    pub sequence: u64,
    /// Fingerprint of the key that checkpoint names as its signer; `None`
    /// when it names none (a checkpoint written without the field), so it
    /// cannot be told whether the key is wrong or the checkpoint altered.
    pub signed_by: Option<String>,
    /// Fingerprint of the key given.
    pub given: String,
}

impl std::fmt::Display for KeyMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            sequence,
            signed_by,
            given,
        } = self;
        match signed_by {
            Some(signer) => write!(
                f,
                "checkpoint {sequence} was signed by key {signer}, not by key {given}"
            ),
            None => write!(
                f,
                "checkpoint {sequence} does not verify under key {given}; either the key is \
                 not the one that signed, or the checkpoint was altered (it does not record \
                 which key signed it)"
            ),
        }
    }
}

/// Whether `checkpoints` were signed by another key than `key`: the first
/// one whose signature fails under `key` and that names another signer, or
/// none. A checkpoint naming `key` itself, or verifying under it whatever
/// it names, is left to the full check, which calls a failure there
/// tampering. Cheap for a log signed by `key`: only the recorded keys are
/// compared.
pub fn key_mismatch(key: &VerifyingKey, checkpoints: &[Checkpoint]) -> Option<KeyMismatch> {
    checkpoints.iter().find_map(|checkpoint| {
        let named = checkpoint.public_key.as_slice();
        if named == key.as_bytes() || !matches!(named.len(), 0 | 32) {
            return None;
        }
        let verifies = Signature::from_slice(&checkpoint.signature)
            .is_ok_and(|s| key.verify(&checkpoint_message(checkpoint), &s).is_ok());
        (!verifies).then(|| KeyMismatch {
            sequence: checkpoint.sequence,
            signed_by: (!named.is_empty()).then(|| key_fingerprint(named)),
            given: key_fingerprint(key.as_bytes()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{sign_checkpoint, verify_checkpoint};
    use ed25519_dalek::SigningKey;

    fn signed(key: &SigningKey, sequence: u64) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            sequence,
            event_position: 3,
            event_hash: vec![1; 32],
            ..Default::default()
        };
        sign_checkpoint(key, &mut checkpoint);
        checkpoint
    }

    #[test]
    fn another_signer_is_a_mismatch_naming_both_keys() {
        let (ours, theirs) = (
            SigningKey::from_bytes(&[7; 32]),
            SigningKey::from_bytes(&[8; 32]),
        );
        let checkpoints = [signed(&ours, 1), signed(&theirs, 2)];
        let ours_public = ours.verifying_key();
        let found = key_mismatch(&ours_public, &checkpoints).expect("checkpoint 2 is theirs");
        let (ours_print, theirs_print) = (
            key_fingerprint(ours_public.as_bytes()),
            key_fingerprint(theirs.verifying_key().as_bytes()),
        );
        assert_eq!(
            found.to_string(),
            format!("checkpoint 2 was signed by key {theirs_print}, not by key {ours_print}")
        );
        assert_eq!(key_mismatch(&ours_public, &checkpoints[..1]), None);
    }

    #[test]
    fn a_checkpoint_naming_no_signer_cannot_be_told_from_an_altered_one() {
        let (ours, theirs) = (
            SigningKey::from_bytes(&[7; 32]),
            SigningKey::from_bytes(&[8; 32]),
        );
        let mut anonymous = signed(&theirs, 1);
        anonymous.public_key.clear();
        let found = key_mismatch(&ours.verifying_key(), &[anonymous.clone()]).expect("mismatch");
        assert_eq!(found.signed_by, None);
        assert!(
            found.to_string().contains(
                "either the key is not the one that signed, or the checkpoint was altered"
            )
        );
        // Under the key that made it, it verifies.
        assert_eq!(
            key_mismatch(&theirs.verifying_key(), &[anonymous.clone()]),
            None
        );
        assert_eq!(
            verify_checkpoint(&theirs.verifying_key(), &anonymous),
            Ok(())
        );
    }

    #[test]
    fn a_changed_signer_field_is_tampering_not_a_mismatch() {
        let (ours, theirs) = (
            SigningKey::from_bytes(&[7; 32]),
            SigningKey::from_bytes(&[8; 32]),
        );
        let mut relabelled = signed(&ours, 1);
        relabelled.public_key = theirs.verifying_key().to_bytes().to_vec();
        assert_eq!(
            key_mismatch(&ours.verifying_key(), &[relabelled.clone()]),
            None
        );
        let reason = verify_checkpoint(&ours.verifying_key(), &relabelled).expect_err("altered");
        assert!(reason.contains("the checkpoint was altered"), "{reason}");
    }
}
