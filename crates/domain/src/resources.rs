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
    }
}
