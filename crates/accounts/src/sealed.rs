//! Secrets kept at rest only sealed: TOTP seeds are stored encrypted with a key kept outside
//! the database (a key file on the server's machine), so a copy of the database (a backup, a
//! replica, a stolen disk) does not give anyone the second factor of every account.
//!
//! The stored form is versioned: `sealed1:` then the hex of a 12-byte nonce, the ciphertext
//! and its 16-byte tag (ChaCha20-Poly1305, the account's id as associated data, so a sealed
//! secret copied onto another account does not open). A value without the prefix is a secret
//! stored before sealing existed; it is read as it is and sealed the next time it is written.
//! Pure: the caller passes the nonce.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The prefix of the stored form's first version.
pub const PREFIX: &str = "sealed1:";
/// Bytes of a sealing key.
pub const KEY_BYTES: usize = 32;
/// Bytes of a nonce.
pub const NONCE_BYTES: usize = 12;

/// A key that seals and opens secrets.
#[derive(Clone)]
pub struct SealingKey(Key);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the key file must hold {} hex digits", KEY_BYTES * 2)]
    BadKey,
    #[error("a sealed secret is damaged or was sealed with another key")]
    Unopenable,
}

impl SealingKey {
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self(Key::from(bytes))
    }

    /// A key from its file's text: 64 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Self, SealError> {
        let bytes = hex::decode(text.trim()).map_err(|_| SealError::BadKey)?;
        let bytes: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(Self::from_bytes(bytes))
    }

    /// Seals `secret` for the account `owner` with a fresh `nonce` (never reuse one).
    pub fn seal(&self, owner: &str, secret: &str, nonce: [u8; NONCE_BYTES]) -> String {
        let sealed = ChaCha20Poly1305::new(&self.0)
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: owner.as_bytes(),
                },
            )
            .expect("sealing a short secret cannot fail");
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", hex::encode(out))
    }

    /// The secret in a stored value of `owner`: opened when sealed, as it is when stored
    /// before sealing existed.
    pub fn open(&self, owner: &str, stored: &str) -> Result<String, SealError> {
        let Some(body) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let bytes = hex::decode(body).map_err(|_| SealError::Unopenable)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(SealError::Unopenable);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().expect("split at the nonce's length");
        let plain = ChaCha20Poly1305::new(&self.0)
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SealError::Unopenable)?;
        String::from_utf8(plain).map_err(|_| SealError::Unopenable)
    }
}

/// Whether a stored value is sealed (rather than a secret stored before sealing existed).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_for_its_account() {
        let key = SealingKey::from_bytes([7; 32]);
        let sealed = key.seal("user-1", SECRET, [1; 12]);
        assert!(is_sealed(&sealed) && !sealed.contains(SECRET), "{sealed}");
        assert_eq!(key.open("user-1", &sealed).unwrap(), SECRET);
        assert_eq!(
            key.open("user-2", &sealed),
            Err(SealError::Unopenable),
            "copied onto another account"
        );
        let other = SealingKey::from_bytes([8; 32]);
        assert_eq!(other.open("user-1", &sealed), Err(SealError::Unopenable));
        // One changed digit is caught.
        let mut damaged = sealed.clone().into_bytes();
        let last = damaged.len() - 1;
        damaged[last] = if damaged[last] == b'0' { b'1' } else { b'0' };
        let damaged = String::from_utf8(damaged).unwrap();
        assert_eq!(key.open("user-1", &damaged), Err(SealError::Unopenable));
        assert_eq!(key.open("user-1", "sealed1:zz"), Err(SealError::Unopenable));
    }

    #[test]
    fn the_stored_form_of_version_one_is_stable() {
        // A fixture: this value, sealed by this code's first version, must open for ever.
        let key = SealingKey::from_hex(&"2a".repeat(32)).unwrap();
        assert_eq!(
            key.seal("01a24548-d842-769a-b530-248fdb4eeb38", SECRET, [9; 12]),
            FIXTURE
        );
        assert_eq!(
            key.open("01a24548-d842-769a-b530-248fdb4eeb38", FIXTURE)
                .unwrap(),
            SECRET
        );
    }

    /// `SECRET` sealed with key 0x2a… for account 01a24548-… with nonce 0x09….
    const FIXTURE: &str = "sealed1:09090909090909090909090966c181da03faeff10971d55376e5a0dcefcdb4b53c533edf5a161ca411908060f0b03b178198ae9deb38edd45d8e01f8";

    #[test]
    fn a_secret_stored_before_sealing_reads_as_it_is() {
        let key = SealingKey::from_bytes([7; 32]);
        assert_eq!(key.open("user-1", SECRET).unwrap(), SECRET);
        assert!(!is_sealed(SECRET));
    }

    #[test]
    fn a_key_file_must_hold_64_hex_digits() {
        assert!(SealingKey::from_hex(&format!(" {}\n", "ab".repeat(32))).is_ok());
        for bad in ["", "ab", &"zz".repeat(32), &"ab".repeat(33)] {
            assert_eq!(SealingKey::from_hex(bad).unwrap_err(), SealError::BadKey);
        }
    }
}
