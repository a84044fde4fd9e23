//! The accounts' RSA keys: made once per site, kept in the store (so every
//! replica signs with the same key, and restarts keep it), signed with by
//! ring.

use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};

use crate::store::{ArticleStore, StoreError};

/// Key size: what Mastodon makes, and what every server verifies.
const BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored key {name:?} is unusable: {why}")]
    Unusable { name: String, why: String },
    #[error("cannot make a key: {0}")]
    Make(String),
}

/// A private key to sign with, and its public half as actors publish it.
pub struct SigningKey {
    pair: RsaKeyPair,
    /// SubjectPublicKeyInfo PEM (`publicKeyPem`).
    pub public_pem: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key stored as `name`, made and stored first if there is none.
    /// Replicas making one at once keep whichever was stored first.
    pub async fn load_or_make<S: ArticleStore>(store: &S, name: &str) -> Result<Self, KeyError> {
        let pem = match store.fedi_key(name.to_owned()).await? {
            Some(pem) => pem,
            None => {
                let made = tokio::task::spawn_blocking(make)
                    .await
                    .map_err(|e| KeyError::Make(e.to_string()))??;
                store.keep_fedi_key(name.to_owned(), made).await?
            }
        };
        SigningKey::from_pem(&pem).map_err(|why| KeyError::Unusable {
            name: name.to_owned(),
            why,
        })
    }

    fn from_pem(pem: &str) -> Result<Self, String> {
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
        let der = private.to_pkcs8_der().map_err(|e| e.to_string())?;
        let pair = RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| e.to_string())?;
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        Ok(SigningKey {
            pair,
            public_pem,
            rng: SystemRandom::new(),
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        // Fails only when the buffer is the wrong size, which it is not.
        let _ = self
            .pair
            .sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature);
        signature
    }
}

/// A new private key, as PKCS#8 PEM.
fn make() -> Result<String, KeyError> {
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, BITS)
        .map_err(|e| KeyError::Make(e.to_string()))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Make(e.to_string()))?;
    Ok(pem.to_string())
}

/// An actor's public key from its `publicKeyPem`, as ring verifies with it
/// (the PKCS#1 `RSAPublicKey` inside the SubjectPublicKeyInfo).
pub fn public_key_der(pem: &str) -> Option<Vec<u8>> {
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    let key = rsa::RsaPublicKey::from_public_key_pem(pem.trim()).ok()?;
    Some(key.to_pkcs1_der().ok()?.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    #[test]
    fn a_made_key_signs_and_its_published_half_verifies() {
        let pem = make().expect("a key");
        let key = SigningKey::from_pem(&pem).expect("usable");
        let signature = key.sign(b"hello");
        let public = public_key_der(&key.public_pem).expect("the public PEM reads back");
        let verifier = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public);
        assert!(verifier.verify(b"hello", &signature).is_ok());
        assert!(verifier.verify(b"hullo", &signature).is_err());
        assert!(key.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    }
}
