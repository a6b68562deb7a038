//! Typed identifiers. Every resource's id is a string on the wire, but a desk id handed where a
//! host id belongs is a bug the compiler can catch: each kind gets its own newtype, from the
//! wire boundary (path parameters, bodies) inward to the store.
//!
//! On the wire and in the OpenAPI document an id is a plain string (`serde(transparent)`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Declares a string newtype per id kind with the conversions every layer needs.
macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// A fresh random (UUID v4) id.
            pub fn generate() -> Self {
                $name(uuid::Uuid::new_v4().to_string())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> Self {
                $name(id.clone())
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    )+};
}

id_type! {
    /// A cloud desktop (chapter 6.1).
    DeskId;
    /// A compute host (6.9, the host list).
    HostId;
    /// A desktop user (6.2).
    UserId;
    /// An image version (6.3).
    ImageId;
    /// A compute cluster (6.5, 6.9).
    ClusterId;
    /// An IP-pool network (6.4).
    NetworkId;
    /// A storage pool (6.10).
    PoolId;
    /// An uploaded OS file.
    OsFileId;
    /// A desk strategy (6.1.1).
    StrategyId;
    /// A user group (6.2).
    GroupId;
    /// An asynchronous task (D7).
    TaskId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_a_plain_string_on_the_wire() {
        let id = DeskId::new("d-1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"d-1\"");
        let back: DeskId = serde_json::from_str("\"d-1\"").unwrap();
        assert_eq!(back, id);
        assert_eq!(back, "d-1");
    }

    #[test]
    fn an_id_documents_itself_as_a_string() {
        let schema = serde_json::to_value(schemars::schema_for!(HostId)).unwrap();
        assert_eq!(schema["type"], "string");
    }
}
