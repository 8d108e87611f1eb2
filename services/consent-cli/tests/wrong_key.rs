//! A key other than the one that signed the checkpoints is a mistake, not
//! tampering: `consent-cli verify` (offline and over the replay) and the
//! service's start-up say that the key does not match, naming both keys by
//! fingerprint, and call the log altered only when a signature fails under
//! the key that made it.

mod support;

use std::path::{Path, PathBuf};

use icr_proto::pb::Checkpoint;
use prost::Message;
use support::{KeyPair, Service, cli, cli_offline, failed, refusal_to_start, succeeded};

/// A stopped service's directory whose checkpoints `signer` signed, with an
/// event and a decision of the walk-through's patient, and a second key
/// pair that signed nothing.
struct Signed {
    dir: tempfile::TempDir,
    signer: KeyPair,
    other: KeyPair,
}

impl Signed {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let signer = KeyPair::generate(dir.path(), "audit");
        let other = KeyPair::generate(dir.path(), "other");
        let service = Service::start(&dir.path().join("data"), signer.signing_key()).await;
        let endpoint = service.endpoint.as_str();
        let register = "care register-patient --nhs 9434765919 --practice M86003 --dob 1970-01-01";
        succeeded(&cli(endpoint, &support::words(register)).await);
        let authorize = "authorize --nhs 9434765919 --role R8000 --org RKB --section medications \
                         --purpose direct_care";
        succeeded(&cli(endpoint, &support::words(authorize)).await);
        service.stop().await;
        Self { dir, signer, other }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `consent-cli verify --data-dir` with `key`'s public half.
    fn verify_offline(&self, key: &KeyPair) -> std::process::Output {
        let data = self.data();
        let data = data.to_str().expect("UTF-8");
        cli_offline(&[
            "verify",
            "--data-dir",
            data,
            "--public-key",
            key.public_arg(),
        ])
    }

    /// Rewrites every stored checkpoint with `change`, through sled.
    fn alter_checkpoints(&self, change: impl Fn(&mut Checkpoint)) {
        let db = sled::open(self.data()).expect("open with sled");
        let tree = db.open_tree("checkpoints").expect("checkpoints tree");
        for entry in tree.iter() {
            let (key, value) = entry.expect("read");
            let mut checkpoint = Checkpoint::decode(value.as_ref()).expect("decode");
            change(&mut checkpoint);
            tree.insert(key, checkpoint.encode_to_vec()).expect("write");
        }
        db.flush().expect("flush");
    }
}

/// The directory as the service names it in its refusals.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test]
async fn another_public_key_is_named_as_such_not_as_tampering() {
    let signed = Signed::new().await;
    let (right, wrong) = (&signed.signer.fingerprint, &signed.other.fingerprint);
    let path = signed.other.public_arg();
    let expected = format!(
        "error: {path} is not the key that signed the checkpoints: checkpoint 1 was signed by \
         key {right}, not by key {wrong}\nhint: verify with the public key whose fingerprint \
         is {right} (`consent-cli audit keygen` printed it); nothing was checked yet, so this \
         says nothing about whether the log was altered\n"
    );
    assert_eq!(failed(&signed.verify_offline(&signed.other)), expected);

    let service = Service::start(&signed.data(), signed.signer.signing_key()).await;
    let over_replay = cli(
        &service.endpoint,
        &["verify", "--server", "--public-key", path],
    )
    .await;
    assert_eq!(failed(&over_replay), expected);
    service.stop().await;

    let refusal = refusal_to_start(&signed.data(), signed.other.signing_key()).await;
    assert_eq!(
        refusal,
        format!(
            "refusing to serve from {}: the signing key is not the key that signed its \
             checkpoints: checkpoint 1 was signed by key {right}, not by key {wrong}. Start the \
             service with the private key whose public key has fingerprint {right} \
             (`consent-cli audit keygen` printed it); nothing was checked yet, so this says \
             nothing about whether the log was altered",
            shown(&signed.data())
        )
    );
    // The right key still verifies: nothing was altered.
    succeeded(&signed.verify_offline(&signed.signer));
}

#[tokio::test]
async fn a_checkpoint_that_names_no_signer_fails_as_either_wrong_key_or_altered() {
    let signed = Signed::new().await;
    signed.alter_checkpoints(|checkpoint| checkpoint.public_key.clear());
    // Under the key that signed them they still verify.
    succeeded(&signed.verify_offline(&signed.signer));
    let wrong = &signed.other.fingerprint;
    let either = format!(
        "checkpoint 1 does not verify under key {wrong}; either the key is not the one that \
         signed, or the checkpoint was altered (it does not record which key signed it)"
    );
    let path = signed.other.public_arg();
    assert_eq!(
        failed(&signed.verify_offline(&signed.other)),
        format!(
            "error: {either}\nhint: verify with the public key of the service that signed the \
             checkpoints; if {path} is that key, the checkpoints were altered: restore the log \
             from a copy that verifies\n"
        )
    );
    let refusal = refusal_to_start(&signed.data(), signed.other.signing_key()).await;
    assert_eq!(
        refusal,
        format!(
            "refusing to serve from {}: {either}. Start the service with the private key that \
             signed the checkpoints; if it is this one, the log was altered: restore it from a \
             verified copy",
            shown(&signed.data())
        )
    );
}

#[tokio::test]
async fn a_signature_that_fails_under_its_own_key_is_tampering() {
    let signed = Signed::new().await;
    signed.alter_checkpoints(|checkpoint| {
        if let Some(at) = checkpoint.signed_at.as_mut() {
            at.seconds -= 3600;
        }
    });
    let right = &signed.signer.fingerprint;
    let broken = format!(
        "checkpoint chain breaks at sequence 1: its signature does not verify under key \
         {right}, which signed it: the checkpoint was altered"
    );
    let said = failed(&signed.verify_offline(&signed.signer));
    assert!(said.contains(&broken), "{said}");
    assert!(
        said.contains("hint: the log was altered or damaged"),
        "{said}"
    );
    let refusal = refusal_to_start(&signed.data(), signed.signer.signing_key()).await;
    assert!(refusal.contains(&broken), "{refusal}");
    assert!(
        refusal.contains("The log was altered or damaged"),
        "{refusal}"
    );
}
