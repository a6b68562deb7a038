//! The document's enumerations (API.md section (c)), spelled exactly as printed.

use crate::error::Error;

/// Declares an enum whose variants are written on the wire exactly as their names.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            /// Parses the wire spelling; the error names `field` and lists the allowed values.
            pub fn parse(value: &str, field: &str) -> Result<Self, Error> {
                match value {
                    $(stringify!($variant) => Ok($name::$variant),)+
                    other => Err(Error::invalid(field, format!(
                        "`{}` is not one of {}", other, Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

wire_enum!(
    /// DeskState (`desk_state`, `deskState`).
    DeskState {
        SLEEP, RUNNING, CLOSE, SHUTTING, DELETING, RESTORING, UPDATING, START_UP, WAKING, CREATING,
        ERROR, FAILBACKING, OFF_LINE, DOWNLOADING, SNAPSHOT_CREATING, SNAPSHOT_RESTORING, MOVING, RECOVING,
    }
);

wire_enum!(
    /// DeskType: PERSONAL keeps its system disk, RECOVERABLE is restored at every shutdown.
    DeskType { PERSONAL, APP_LAYER, RECOVERABLE }
);

wire_enum!(
    /// Desktop category / mode.
    DeskCategory { VDI, IDV, TCI }
);

wire_enum!(
    /// OS type of images and OS files.
    OsName { WIN_7_32, WIN_7_64, WIN_10_32, WIN_10_64, WIN_XP_SP3, UOS_64, UBUNTU_64, CENTOS_64 }
);

wire_enum!(
    /// Image template state.
    ImageState { AVAILABLE, DELETING, EDITING, CREATING, ERROR, DISABLED, PUBLISHING }
);

wire_enum!(
    /// OS file format.
    ImageFormat { QCOW2, ISO }
);

wire_enum!(
    /// OS file disk type.
    ImageDiskType { SYSTEM, DATA }
);

wire_enum!(
    /// OS file state.
    ImageFileState { AVAILABLE, DELETING, UPLOADING, CREATING }
);

wire_enum!(
    /// Desktop user type.
    UserType { NORMAL, VISITOR, AD, LDAP }
);

wire_enum!(
    /// Desktop user state (DECISIONS D11).
    UserState { ENABLE, DISABLE }
);

wire_enum!(
    /// Compute cluster state.
    ClusterState { ENABLED, DISABLED, DELETING }
);

wire_enum!(
    /// Host state; DRAINING hosts take no new placements (deskd extension).
    HostState { ENABLED, DRAINING, DISABLED }
);

/// Which hypervisor driver runs a host's desks (deskd extension): `sim` | `qemu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HostDriver {
    /// The simulated hypervisor.
    #[default]
    Sim,
    /// QEMU on the machine deskd runs on.
    Qemu,
}

impl HostDriver {
    pub const ALL: &'static [HostDriver] = &[HostDriver::Sim, HostDriver::Qemu];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HostDriver::Sim => "sim",
            HostDriver::Qemu => "qemu",
        }
    }

    /// Parses the wire spelling; the error names `field` and lists the allowed values.
    pub fn parse(value: &str, field: &str) -> Result<Self, Error> {
        Self::ALL
            .iter()
            .copied()
            .find(|d| d.as_str() == value)
            .ok_or_else(|| Error::invalid(field, format!("`{value}` is not one of sim, qemu")))
    }
}

wire_enum!(
    /// Storage-pool redundancy strategy.
    RedundancyStrategy { RAID1_1D0B, CARBON_2B, CARBON_3B, EC_2D1P, EC_4D1P, EC_4D2P, EC_8D2P }
);

wire_enum!(
    /// Storage-pool health.
    PoolHealth { HEALTHY, WARNING, ERROR }
);

wire_enum!(
    /// Terminal category (6.6): cloud-office client, IDV, PC, cloud-application client, VDI, TCI.
    TerminalCategory { app, idv, pc, rca, vdi, voi }
);

wire_enum!(
    /// Asynchronous task status.
    TaskStatus { RUNNING, FINISHED, ERROR }
);

wire_enum!(
    /// State of one task item. PENDING and RUNNING are internal; the wire shows SUCCESS or FAILURE
    /// once the item is done.
    ItemStatus { PENDING, RUNNING, SUCCESS, FAILURE }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_the_field() {
        for s in DeskState::ALL {
            assert_eq!(DeskState::parse(s.as_str(), "x").ok(), Some(*s));
        }
        let err = DeskType::parse("personal", "deskType").unwrap_err();
        assert_eq!(
            err,
            Error::invalid(
                "deskType",
                "`personal` is not one of PERSONAL, APP_LAYER, RECOVERABLE"
            )
        );
    }
}
