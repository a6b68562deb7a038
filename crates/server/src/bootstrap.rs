//! What the first start of a data directory does: the `admin` API account, the transport key
//! and, unless disabled, the demo inventory.

use deskd_domain::auth::{generate_password, hash_password};
use deskd_domain::error::{Error, Result};
use deskd_domain::model::{now_ms, Account};
use deskd_domain::store::{AuthStore, InventoryStore, SettingStore};

/// What the first start writes: the admin account, the transport key, the demo inventory.
pub trait FirstStartStore: AuthStore + SettingStore + InventoryStore {}
impl<T: AuthStore + SettingStore + InventoryStore + ?Sized> FirstStartStore for T {}

/// Marks a database whose first start has completed.
const DONE: &str = "bootstrap.done";
/// Password of every demo desktop user.
pub const DEMO_USER_PASSWORD: &str = "Demo@2026";

/// What the first start did.
#[derive(Debug, Default)]
pub struct FirstStart {
    pub first: bool,
    /// The generated admin password, to be printed once.
    pub generated_password: Option<String>,
    pub demo_loaded: bool,
}

/// Runs the first-start steps once per database.
pub async fn first_start(
    store: &dyn FirstStartStore,
    admin_password: Option<&str>,
    demo: bool,
) -> Result<FirstStart> {
    if store.get_setting(DONE).await?.is_some() {
        return Ok(FirstStart::default());
    }
    let mut out = FirstStart {
        first: true,
        ..Default::default()
    };
    if store.account_by_name("admin").await?.is_none() {
        let password = match admin_password {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => {
                let p = generate_password();
                out.generated_password = Some(p.clone());
                p
            }
        };
        create_account(store, "admin", &password).await?;
    }
    crate::keys::current(store).await?;
    if demo && store.inventory_is_empty().await? {
        let hash = hash_blocking(DEMO_USER_PASSWORD.to_string()).await?;
        store
            .load_inventory(&deskd_domain::demo::inventory(now_ms(), &hash))
            .await?;
        out.demo_loaded = true;
    }
    store.put_setting(DONE, &now_ms().to_string()).await?;
    Ok(out)
}

/// Creates an API account with an argon2id hash of `password`.
pub async fn create_account(store: &dyn AuthStore, name: &str, password: &str) -> Result<()> {
    validate_account_name(name)?;
    if password.len() < 8 {
        return Err(Error::invalid(
            "password",
            "must have at least 8 characters",
        ));
    }
    let hash = hash_blocking(password.to_string()).await?;
    store
        .create_account(&Account {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            password_hash: hash,
            disabled: false,
            created_at: now_ms(),
        })
        .await
}

/// Account names: 1..=64 letters, digits, `_ - . @`.
pub fn validate_account_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "user_name",
            "must be 1 to 64 letters, digits, `_`, `-`, `.` or `@`",
        ))
    }
}

/// argon2id is deliberately slow: keep it off the async workers.
pub async fn hash_blocking(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(Error::internal)?
}
