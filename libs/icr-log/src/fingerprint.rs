//! How a signing key is named to people: its fingerprint, used by the
//! chain check and by the signer check alike.

use sha2::{Digest, Sha256};

/// The fingerprint of an ed25519 public key, the one form the service and
/// the CLI show a key in: `SHA256:` followed by the lower-case hex SHA-256
/// of the 32 raw key bytes. It can be recomputed from a public key PEM with
/// `openssl pkey -pubin -in KEY.pub.pem -outform DER | tail -c 32 | sha256sum`.
pub fn key_fingerprint(public_key: &[u8]) -> String {
    let digest = Sha256::digest(public_key);
    let mut text = String::with_capacity(7 + 2 * digest.len());
    text.push_str("SHA256:");
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_the_sha256_of_the_raw_key_in_hex() {
        assert_eq!(
            key_fingerprint(&[0; 32]),
            "SHA256:66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }
}
