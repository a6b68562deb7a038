//! The AES transport keys of DECISIONS D6: one current key per deployment; after a rotation the
//! previous key stays valid for ten minutes so clients that fetched it just before still work.

use deskd_domain::auth::generate_transport_key;
use deskd_domain::error::{Error, Result};
use deskd_domain::model::now_ms;
use deskd_domain::store::SettingStore;
use serde::{Deserialize, Serialize};

const SETTING: &str = "transport_key";
/// How long a rotated-out key keeps decrypting.
pub const PREVIOUS_KEY_GRACE_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct KeyRing {
    current: String,
    previous: Option<String>,
    previous_until: i64,
}

async fn load(store: &dyn SettingStore) -> Result<Option<KeyRing>> {
    match store.get_setting(SETTING).await? {
        None => Ok(None),
        Some(s) => serde_json::from_str(&s)
            .map(Some)
            .map_err(|e| Error::internal(format!("transport key setting: {e}"))),
    }
}

async fn save(store: &dyn SettingStore, ring: &KeyRing) -> Result<()> {
    let s = serde_json::to_string(ring).map_err(Error::internal)?;
    store.put_setting(SETTING, &s).await
}

/// The current key, created on first use.
pub async fn current(store: &dyn SettingStore) -> Result<String> {
    if let Some(ring) = load(store).await? {
        return Ok(ring.current);
    }
    let ring = KeyRing {
        current: generate_transport_key(),
        previous: None,
        previous_until: 0,
    };
    save(store, &ring).await?;
    Ok(ring.current)
}

/// Replaces the current key; the old one stays valid for [`PREVIOUS_KEY_GRACE_MS`].
pub async fn rotate(store: &dyn SettingStore) -> Result<String> {
    let old = current(store).await?;
    let ring = KeyRing {
        current: generate_transport_key(),
        previous: Some(old),
        previous_until: now_ms() + PREVIOUS_KEY_GRACE_MS,
    };
    save(store, &ring).await?;
    Ok(ring.current)
}

/// Every key that may decrypt a password right now.
pub async fn valid(store: &dyn SettingStore) -> Result<Vec<String>> {
    let Some(ring) = load(store).await? else {
        return Ok(vec![]);
    };
    let mut keys = vec![ring.current];
    if let Some(prev) = ring.previous.filter(|_| ring.previous_until > now_ms()) {
        keys.push(prev);
    }
    Ok(keys)
}
