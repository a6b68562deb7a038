//! The document's enumerations (API.md section (c)), spelled exactly as printed.
//!
//! Each enum is written on the wire as its spelling, read back with an error that lists the
//! allowed values, and documented in OpenAPI as an inline string schema with `enum`.

use std::fmt;

/// A value that is not one of an enum's spellings; `field` names where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumError {
    pub field: String,
    pub value: String,
    pub allowed: &'static [&'static str],
}

impl EnumError {
    /// The rule a bad value broke: "`X` is not one of A, B, C".
    pub fn rule(&self) -> String {
        format!("`{}` is not one of {}", self.value, self.allowed.join(", "))
    }
}

impl fmt::Display for EnumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rule())
    }
}

impl std::error::Error for EnumError {}

/// A schema visitor that lets a nullable enum field (`Option<DeskType>`: `"type":
/// ["string","null"]`) list `null` among its `enum` values, so the schema accepts what the
/// server accepts.
#[derive(Debug, Clone, Default)]
pub struct NullInEnums;

impl schemars::visit::Visitor for NullInEnums {
    fn visit_schema_object(&mut self, schema: &mut schemars::schema::SchemaObject) {
        use schemars::schema::{InstanceType, SingleOrVec};
        let nullable = matches!(&schema.instance_type,
            Some(SingleOrVec::Vec(types)) if types.contains(&InstanceType::Null));
        if let (true, Some(values)) = (nullable, schema.enum_values.as_mut()) {
            if !values.contains(&serde_json::Value::Null) {
                values.push(serde_json::Value::Null);
            }
        }
        schemars::visit::visit_schema_object(self, schema);
    }
}

/// Declares an enum whose variants are written on the wire exactly as their names, or as the
/// string given after `=`.
macro_rules! wire_enum {
    (@spell $variant:ident) => { stringify!($variant) };
    (@spell $variant:ident $spell:literal) => { $spell };
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident $(= $spell:literal)?),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every wire spelling, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$(wire_enum!(@spell $variant $($spell)?)),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => wire_enum!(@spell $variant $($spell)?)),+ }
            }

            /// Parses the wire spelling; the error names `field` and lists the allowed values.
            pub fn parse(value: &str, field: &str) -> Result<Self, EnumError> {
                Self::ALL.iter().copied().find(|v| v.as_str() == value).ok_or_else(|| EnumError {
                    field: field.to_string(),
                    value: value.to_string(),
                    allowed: Self::NAMES,
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&value, "").map_err(|e| <D::Error as serde::de::Error>::custom(e.rule()))
            }
        }

        impl schemars::JsonSchema for $name {
            fn is_referenceable() -> bool { false }

            fn schema_name() -> String { stringify!($name).to_string() }

            fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
                schemars::schema::SchemaObject {
                    instance_type: Some(schemars::schema::InstanceType::String.into()),
                    enum_values: Some(Self::NAMES.iter().map(|v| serde_json::Value::from(*v)).collect()),
                    ..Default::default()
                }
                .into()
            }
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

wire_enum!(
    /// Which hypervisor driver runs a host's desks (deskd extension): `sim` | `qemu` | `libvirt`.
    HostDriver {
        /// The simulated hypervisor.
        Sim = "sim",
        /// QEMU on the machine deskd runs on.
        Qemu = "qemu",
        /// A libvirt daemon reached through the host's `uri`.
        Libvirt = "libvirt",
    }
);

#[allow(clippy::derivable_impls)] // the enum is declared by wire_enum!, which takes no attributes per variant
impl Default for HostDriver {
    fn default() -> Self {
        HostDriver::Sim
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

wire_enum!(
    /// What a task item shows (`item_status`, `item_biz_status`): RUNNING until it has an
    /// outcome, then SUCCESS or FAILURE.
    ItemBizStatus { RUNNING, SUCCESS, FAILURE }
);

wire_enum!(
    /// Desk network (IP pool) state; deskd's networks are always AVAILABLE.
    NetworkState { AVAILABLE }
);

wire_enum!(
    /// `sort_arr[].direction`.
    SortDirection { ASC, DESC }
);

wire_enum!(
    /// 6.7 `server_resource_type`.
    ServerResourceType { CPU, MEM, DISK }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_lists_the_allowed_values() {
        for s in DeskState::ALL {
            assert_eq!(DeskState::parse(s.as_str(), "x").ok(), Some(*s));
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json, serde_json::Value::from(s.as_str()));
            assert_eq!(serde_json::from_value::<DeskState>(json).unwrap(), *s);
        }
        assert_eq!(HostDriver::parse("qemu", "d"), Ok(HostDriver::Qemu));
        assert_eq!(
            HostDriver::parse("QEMU", "d").unwrap_err().to_string(),
            "`QEMU` is not one of sim, qemu, libvirt"
        );
        let e = serde_json::from_value::<DeskType>("personal".into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`personal` is not one of PERSONAL, APP_LAYER, RECOVERABLE"
        );
    }

    #[test]
    fn schema_is_an_inline_string_enum() {
        let schema = schemars::schema_for!(HostDriver);
        let v = serde_json::to_value(&schema).unwrap();
        assert_eq!(v["enum"], serde_json::json!(["sim", "qemu", "libvirt"]));
        let mut settings = schemars::gen::SchemaSettings::draft07();
        settings.option_add_null_type = true;
        settings.visitors.push(Box::new(NullInEnums));
        let schema = settings
            .into_generator()
            .into_root_schema_for::<Option<HostDriver>>();
        let v = serde_json::to_value(&schema).unwrap();
        assert_eq!(
            v["enum"],
            serde_json::json!(["sim", "qemu", "libvirt", null])
        );
    }
}
