//! The document's enumerations (API.md section (c)), spelled exactly as printed. They live in
//! the wire crate; this module re-exports them and turns a bad value into the domain's error.

pub use deskd_wire::enums::*;

use crate::error::Error;

impl From<EnumError> for Error {
    fn from(e: EnumError) -> Self {
        Error::invalid(e.field.clone(), e.rule())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_the_field() {
        for s in DeskState::ALL {
            assert_eq!(DeskState::parse(s.as_str(), "x").ok(), Some(*s));
        }
        let err = Error::from(DeskType::parse("personal", "deskType").unwrap_err());
        assert_eq!(
            err,
            Error::invalid(
                "deskType",
                "`personal` is not one of PERSONAL, APP_LAYER, RECOVERABLE"
            )
        );
    }
}
