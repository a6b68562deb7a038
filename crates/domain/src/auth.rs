//! Credentials: argon2id password hashes, opaque Bearer tokens stored only as SHA-256 hashes,
//! and the AES transport encryption of passwords (DECISIONS D1, D6).
//!
//! No function here logs; callers must not log what goes in or comes out either.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyInit};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::{engine::general_purpose::STANDARD, Engine};
use rand::{distributions::Alphanumeric, Rng, RngCore};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("argon2: {e}")))
}

/// True when `password` matches the stored hash; a garbled hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A new random token (256 bits, URL-safe hex) and the hash to store.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random password for the first admin account.
pub fn generate_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

/// A new 16-character transport key (D6).
pub fn generate_transport_key() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect()
}

type Dec = ecb::Decryptor<aes::Aes128>;
type Enc = ecb::Encryptor<aes::Aes128>;

/// Decrypts an AES-128-ECB/PKCS#7/Base64 password with `key`, or `None` when it is not one.
pub fn decrypt_transport(value: &str, key: &str) -> Option<String> {
    let key: [u8; 16] = key.as_bytes().try_into().ok()?;
    let bytes = STANDARD.decode(value.trim()).ok()?;
    if bytes.is_empty() || bytes.len() % 16 != 0 {
        return None;
    }
    let plain = Dec::new(&key.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&bytes)
        .ok()?;
    String::from_utf8(plain).ok()
}

/// Encrypts like a client does; used by tests and the CLI.
pub fn encrypt_transport(plain: &str, key: &str) -> Option<String> {
    let key: [u8; 16] = key.as_bytes().try_into().ok()?;
    let bytes = Enc::new(&key.into()).encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes());
    Some(STANDARD.encode(bytes))
}

/// D6: a password field is taken as encrypted when it decrypts with one of the valid keys,
/// otherwise as plaintext.
pub fn transport_password(value: &str, keys: &[String]) -> String {
    keys.iter()
        .find_map(|k| decrypt_transport(value, k))
        .unwrap_or_else(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_round_trip() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("S3cret", &h));
        assert!(!verify_password("s3cret", "garbage"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), ha);
        assert_ne!(a, ha);
    }

    #[test]
    fn transport_encryption_is_optional() {
        let key = "aBtyusjdhxoqacad";
        let c = encrypt_transport("Pa55word!", key).unwrap();
        assert_eq!(transport_password(&c, &[key.to_string()]), "Pa55word!");
        // plaintext stays plaintext, also when it happens to be valid Base64
        assert_eq!(transport_password("abcd", &[key.to_string()]), "abcd");
        assert_eq!(
            transport_password("Pa55word!", &[key.to_string()]),
            "Pa55word!"
        );
        // the document's example ciphertext does not match its key: taken as plaintext
        let doc = "T5RbxHo7XjeVsA8UF3kTxMpWNwDn6fT7tYE3pUfhm8E=";
        assert_eq!(transport_password(doc, &[key.to_string()]), doc);
    }
}
