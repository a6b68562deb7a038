//! The persistence boundary, one narrow trait per resource. The domain and the server talk to
//! storage only through these; `deskd-store` implements each on SQLite and on PostgreSQL with
//! one shared test-suite. A caller names the narrowest trait it needs (the task engine takes a
//! [`TaskStore`]); [`Store`] is every trait at once, for the server's wiring.

mod auth;
mod clusters;
mod desks;
mod events;
mod groups;
mod hosts;
mod images;
mod inventory;
mod networks;
mod os_files;
mod pools;
mod settings;
mod strategies;
mod tasks;
mod terminals;
mod users;

pub use auth::{AuthStore, TokenRecord};
pub use clusters::{ClusterStore, ComputeRow};
pub use desks::DeskStore;
pub use events::EventStore;
pub use groups::GroupStore;
pub use hosts::{HostRow, HostStore};
pub use images::{ImageRow, ImageStore};
pub use inventory::InventoryStore;
pub use networks::{NetworkRow, NetworkStore};
pub use os_files::OsFileStore;
pub use pools::{PoolRow, PoolStore};
pub use settings::SettingStore;
pub use strategies::{StrategyRow, StrategyStore};
pub use tasks::TaskStore;
pub use terminals::TerminalStore;
pub use users::UserStore;

/// Declares a trait that is the union of store traits, implemented by everything that has
/// them all, so a caller can name a group of resources as one bound.
macro_rules! union_of {
    ($(#[$doc:meta])* $name:ident: $first:ident $(+ $rest:ident)*) => {
        $(#[$doc])*
        pub trait $name: $first $(+ $rest)* {}
        impl<T: $first $(+ $rest)* + ?Sized> $name for T {}
    };
}

union_of!(
    /// What desks are made from: images, the OS files under them, strategies and networks.
    CatalogStore: ImageStore + OsFileStore + StrategyStore + NetworkStore
);
union_of!(
    /// Where desks run: clusters, their hosts and storage pools.
    FleetStore: ClusterStore + HostStore + PoolStore
);
union_of!(
    /// Desktop users and their groups.
    DirectoryStore: UserStore + GroupStore
);
union_of!(
    /// Every store trait: what the server wires its slices with.
    Store: SettingStore
        + AuthStore
        + TaskStore
        + EventStore
        + DeskStore
        + DirectoryStore
        + TerminalStore
        + CatalogStore
        + FleetStore
        + InventoryStore
);
