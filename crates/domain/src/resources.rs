//! The queryable resources: which `field_name`s each list endpoint accepts and the SQL column
//! each maps to. Adding a filter to an endpoint is one line here.

use crate::error::QueryTarget;
use crate::query::{Field, FieldKind, Paging, Resource};

const DESK_CATEGORIES: &[&str] = &["VDI", "IDV", "TCI"];
const DESK_TYPES: &[&str] = &["PERSONAL", "APP_LAYER", "RECOVERABLE"];

/// 6.1.1 `PUT /v1/desk_strategy:pagequery` (the document lost the field list; these are deskd's).
pub const STRATEGIES: Resource = Resource {
    target: QueryTarget::Other,
    fields: &[
        Field {
            name: "id",
            column: "s.id",
            kind: FieldKind::Text,
        },
        Field {
            name: "deskStrategyName",
            column: "s.name",
            kind: FieldKind::Text,
        },
        Field {
            name: "deskCategory",
            column: "s.category",
            kind: FieldKind::Enum(DESK_CATEGORIES),
        },
        Field {
            name: "deskType",
            column: "s.desk_type",
            kind: FieldKind::Enum(DESK_TYPES),
        },
        Field {
            name: "cpuCores",
            column: "s.cpu_cores",
            kind: FieldKind::Int,
        },
        Field {
            name: "memory",
            column: "s.memory_gb",
            kind: FieldKind::Int,
        },
        Field {
            name: "systemDisk",
            column: "s.system_disk_gb",
            kind: FieldKind::Int,
        },
        Field {
            name: "dataDisk",
            column: "s.data_disk_gb",
            kind: FieldKind::Int,
        },
        Field {
            name: "enableAgreementAgency",
            column: "s.enable_agreement_agency",
            kind: FieldKind::Bool,
        },
        Field {
            name: "createTime",
            column: "s.created_at",
            kind: FieldKind::Int,
        },
    ],
    sortable: true,
    paging: Paging::Required,
    created_column: "s.created_at",
    id_column: "s.id",
};

const DESK_STATES: &[&str] = &[
    "SLEEP",
    "RUNNING",
    "CLOSE",
    "SHUTTING",
    "DELETING",
    "RESTORING",
    "UPDATING",
    "START_UP",
    "WAKING",
    "CREATING",
    "ERROR",
    "FAILBACKING",
    "OFF_LINE",
    "DOWNLOADING",
    "SNAPSHOT_CREATING",
    "SNAPSHOT_RESTORING",
    "MOVING",
    "RECOVING",
];

/// 6.1.2 `PUT /v1/desk:pagequery`: the document's keys (desktopName, deskState, deskType, ip and
/// the terminal-IP key, named `terminalIp` here) and deskd's extensions.
pub const DESKS: Resource = Resource {
    target: QueryTarget::Desk,
    fields: &[
        Field {
            name: "desktopName",
            column: "d.name",
            kind: FieldKind::Text,
        },
        Field {
            name: "deskState",
            column: "d.state",
            kind: FieldKind::Enum(DESK_STATES),
        },
        Field {
            name: "deskType",
            column: "d.desk_type",
            kind: FieldKind::Enum(DESK_TYPES),
        },
        Field {
            name: "ip",
            column: "d.ip",
            kind: FieldKind::Text,
        },
        Field {
            name: "terminalIp",
            column: "d.terminal_ip",
            kind: FieldKind::Text,
        },
        Field {
            name: "deskId",
            column: "d.id",
            kind: FieldKind::Text,
        },
        Field {
            name: "userName",
            column: "d.user_name",
            kind: FieldKind::Text,
        },
        Field {
            name: "imageName",
            column: "d.image_name",
            kind: FieldKind::Text,
        },
        Field {
            name: "deskCategory",
            column: "d.category",
            kind: FieldKind::Enum(DESK_CATEGORIES),
        },
        Field {
            name: "clusterId",
            column: "d.cluster_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "strategyId",
            column: "d.strategy_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "networkId",
            column: "d.network_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "hostId",
            column: "d.host_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "createTime",
            column: "d.created_at",
            kind: FieldKind::Int,
        },
    ],
    sortable: true,
    paging: Paging::Required,
    created_column: "d.created_at",
    id_column: "d.id",
};

/// 6.1.16 `PUT /v1/osFile:pagequery` (the document names no filter keys; these are deskd's).
pub const OS_FILES: Resource = Resource {
    target: QueryTarget::Other,
    fields: &[
        Field {
            name: "imageFileName",
            column: "f.name",
            kind: FieldKind::Text,
        },
        Field {
            name: "imageFileState",
            column: "f.state",
            kind: FieldKind::Enum(&["AVAILABLE", "DELETING", "UPLOADING", "CREATING"]),
        },
        Field {
            name: "cbbImageFormat",
            column: "f.format",
            kind: FieldKind::Enum(&["QCOW2", "ISO"]),
        },
        Field {
            name: "imageDiskType",
            column: "f.disk_type",
            kind: FieldKind::Enum(&["SYSTEM", "DATA"]),
        },
        Field {
            name: "osName",
            column: "f.os_name",
            kind: FieldKind::Text,
        },
        Field {
            name: "uploadTime",
            column: "f.created_at",
            kind: FieldKind::Int,
        },
    ],
    sortable: true,
    paging: Paging::Required,
    created_column: "f.created_at",
    id_column: "f.id",
};

/// 6.2.15 `POST /v1/user/list`: `groupId` is the document's; the others are deskd's.
pub const USERS: Resource = Resource {
    target: QueryTarget::Other,
    fields: &[
        Field {
            name: "groupId",
            column: "u.group_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "id",
            column: "u.id",
            kind: FieldKind::Text,
        },
        Field {
            name: "userName",
            column: "u.name",
            kind: FieldKind::Text,
        },
        Field {
            name: "realName",
            column: "u.real_name",
            kind: FieldKind::Text,
        },
        Field {
            name: "userType",
            column: "u.user_type",
            kind: FieldKind::Enum(&["NORMAL", "VISITOR", "AD", "LDAP"]),
        },
        Field {
            name: "userState",
            column: "u.state",
            kind: FieldKind::Enum(&["ENABLE", "DISABLE"]),
        },
        Field {
            name: "createTime",
            column: "u.created_at",
            kind: FieldKind::Int,
        },
    ],
    sortable: true,
    paging: Paging::Required,
    created_column: "u.created_at",
    id_column: "u.id",
};

/// Page size of the RG-CCP lists whose request tables are lost (DECISIONS D11).
const CCP_PAGING: Paging = Paging::Defaults { limit: 100 };
const IMAGE_STATES: &[&str] = &[
    "AVAILABLE",
    "DELETING",
    "EDITING",
    "CREATING",
    "ERROR",
    "DISABLED",
    "PUBLISHING",
];

/// 6.3.1 `PUT /v1/image:pagequery` (the document lost the allowed keys; these are deskd's).
pub const IMAGES: Resource = Resource {
    target: QueryTarget::Other,
    fields: &[
        Field {
            name: "id",
            column: "i.id",
            kind: FieldKind::Text,
        },
        Field {
            name: "imageName",
            column: "i.name",
            kind: FieldKind::Text,
        },
        Field {
            name: "imageState",
            column: "i.state",
            kind: FieldKind::Enum(IMAGE_STATES),
        },
        Field {
            name: "imageType",
            column: "i.category",
            kind: FieldKind::Enum(DESK_CATEGORIES),
        },
        Field {
            name: "rootImageId",
            column: "i.root_image_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "newestVersion",
            column: "i.newest",
            kind: FieldKind::Bool,
        },
        Field {
            name: "osName",
            column: "i.os_name",
            kind: FieldKind::Text,
        },
        Field {
            name: "clusterId",
            column: "p.cluster_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "storagePoolId",
            column: "f.storage_pool_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "createTime",
            column: "i.created_at",
            kind: FieldKind::Int,
        },
    ],
    sortable: true,
    paging: Paging::Required,
    created_column: "i.created_at",
    id_column: "i.id",
};

/// 6.4 `PUT /v1/desk_network:pagequery`: `deskNetworkName` is the document's; the others are deskd's.
pub const NETWORKS: Resource = Resource {
    target: QueryTarget::Other,
    fields: &[
        Field {
            name: "deskNetworkName",
            column: "n.name",
            kind: FieldKind::Text,
        },
        Field {
            name: "id",
            column: "n.id",
            kind: FieldKind::Text,
        },
        Field {
            name: "clusterId",
            column: "n.cluster_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "ipCidr",
            column: "n.cidr",
            kind: FieldKind::Text,
        },
        Field {
            name: "createTime",
            column: "n.created_at",
            kind: FieldKind::Int,
        },
    ],
    sortable: true,
    paging: Paging::Required,
    created_column: "n.created_at",
    id_column: "n.id",
};

/// 6.5, 6.8 and 6.9: compute clusters (keys are deskd's; paging optional, DECISIONS D11).
pub const CLUSTERS: Resource = Resource {
    target: QueryTarget::Other,
    fields: &[
        Field {
            name: "id",
            column: "c.id",
            kind: FieldKind::Text,
        },
        Field {
            name: "clusterName",
            column: "c.name",
            kind: FieldKind::Text,
        },
        Field {
            name: "clusterState",
            column: "c.state",
            kind: FieldKind::Enum(&["ENABLED", "DISABLED", "DELETING"]),
        },
        Field {
            name: "createTime",
            column: "c.created_at",
            kind: FieldKind::Int,
        },
    ],
    sortable: true,
    paging: CCP_PAGING,
    created_column: "c.created_at",
    id_column: "c.id",
};

/// 6.10 `PUT /v1/rccp/storage_pool:pagequery`: sorting is not supported, as the document says.
pub const STORAGE_POOLS: Resource = Resource {
    target: QueryTarget::Other,
    fields: &[
        Field {
            name: "id",
            column: "p.id",
            kind: FieldKind::Text,
        },
        Field {
            name: "name",
            column: "p.name",
            kind: FieldKind::Text,
        },
        Field {
            name: "clusterId",
            column: "p.cluster_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "redundancyStrategy",
            column: "p.redundancy_strategy",
            kind: FieldKind::Enum(&[
                "RAID1_1D0B",
                "CARBON_2B",
                "CARBON_3B",
                "EC_2D1P",
                "EC_4D1P",
                "EC_4D2P",
                "EC_8D2P",
            ]),
        },
        Field {
            name: "storagePoolHealthState",
            column: "p.health",
            kind: FieldKind::Enum(&["HEALTHY", "WARNING", "ERROR"]),
        },
    ],
    sortable: false,
    paging: CCP_PAGING,
    created_column: "p.created_at",
    id_column: "p.id",
};

/// `PUT /v1/rccp/host:pagequery` (extension).
pub const HOSTS: Resource = Resource {
    target: QueryTarget::Other,
    fields: &[
        Field {
            name: "id",
            column: "h.id",
            kind: FieldKind::Text,
        },
        Field {
            name: "hostName",
            column: "h.name",
            kind: FieldKind::Text,
        },
        Field {
            name: "clusterId",
            column: "h.cluster_id",
            kind: FieldKind::Text,
        },
        Field {
            name: "hostState",
            column: "h.state",
            kind: FieldKind::Enum(&["ENABLED", "DRAINING", "DISABLED"]),
        },
        Field {
            name: "createTime",
            column: "h.created_at",
            kind: FieldKind::Int,
        },
    ],
    sortable: true,
    paging: CCP_PAGING,
    created_column: "h.created_at",
    id_column: "h.id",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::{DeskCategory, DeskType};

    #[test]
    fn enum_lists_match_the_enums() {
        let cats: Vec<_> = DeskCategory::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(cats, DESK_CATEGORIES);
        let types: Vec<_> = DeskType::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(types, DESK_TYPES);
        let states: Vec<_> = crate::enums::DeskState::ALL
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(states, DESK_STATES);
        let images: Vec<_> = crate::enums::ImageState::ALL
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(images, IMAGE_STATES);
    }
}
