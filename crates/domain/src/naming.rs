//! Desk names. The document names generated desks `<user_name>_<n>` ("xiejian2_2", "CAS6_1");
//! this module picks the next free `n` and checks names that callers choose themselves.

use std::collections::HashSet;

use crate::error::Error;

/// The longest desk name, in characters.
pub const MAX_DESK_NAME_CHARS: usize = 64;

/// The name for a user's next desk: `<user>_<n>` with the smallest n ≥ 1 not taken by
/// `existing` (the names already in use, any user).
pub fn next_desk_name<'a>(user_name: &str, existing: impl IntoIterator<Item = &'a str>) -> String {
    let prefix = format!("{user_name}_");
    let taken: HashSet<&str> = existing
        .into_iter()
        .filter_map(|name| name.strip_prefix(prefix.as_str()))
        .collect();
    let n = (1u64..)
        .find(|n| !taken.contains(n.to_string().as_str()))
        .unwrap_or(u64::MAX);
    format!("{prefix}{n}")
}

/// Checks a caller-given desk name: 1..=64 characters, letters (any script), digits, `_ - .`,
/// not starting with `_` or `-`; the error names `desk_name`.
pub fn validate_desk_name(name: &str) -> Result<(), Error> {
    let invalid = |rule: String| Err(Error::invalid("desk_name", rule));
    let len = name.chars().count();
    if !(1..=MAX_DESK_NAME_CHARS).contains(&len) {
        return invalid(format!(
            "must be 1 to {MAX_DESK_NAME_CHARS} characters, not {len}"
        ));
    }
    if name.starts_with(['_', '-']) {
        return invalid("must not start with `_` or `-`".into());
    }
    match name.chars().find(|c| !allowed(*c)) {
        Some(c) => invalid(format!(
            "{c:?} is not allowed; use letters, digits, `_`, `-` or `.`"
        )),
        None => Ok(()),
    }
}

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_desk_is_number_one() {
        assert_eq!(next_desk_name("xiejian2", []), "xiejian2_1");
        assert_eq!(next_desk_name("CAS6", ["other_1", "CAS6"]), "CAS6_1");
    }

    #[test]
    fn the_smallest_free_number_is_taken() {
        let existing = ["xiejian2_1", "xiejian2_3", "xiejian2_2", "xiejian2_5"];
        assert_eq!(next_desk_name("xiejian2", existing), "xiejian2_4");
        assert_eq!(next_desk_name("xiejian2", ["xiejian2_2"]), "xiejian2_1");
    }

    #[test]
    fn only_exact_names_count() {
        let existing = [
            "xiejian2_01",
            "xiejian2_1x",
            "xiejian2_ 1",
            "XIEJIAN2_1",
            "xiejian_1",
        ];
        assert_eq!(next_desk_name("xiejian2", existing), "xiejian2_1");
    }

    #[test]
    fn user_names_with_underscores_and_digits() {
        let existing = ["a_1", "a_1_1", "a_2"];
        assert_eq!(next_desk_name("a", existing), "a_3");
        assert_eq!(next_desk_name("a_1", existing), "a_1_2");
    }

    #[test]
    fn chinese_user_names() {
        assert_eq!(next_desk_name("谢健", []), "谢健_1");
        let existing = ["谢健_1", "谢健_2", "张三_3"].map(String::from);
        assert_eq!(
            next_desk_name("谢健", existing.iter().map(String::as_str)),
            "谢健_3"
        );
        assert_eq!(
            next_desk_name("张三", existing.iter().map(String::as_str)),
            "张三_1"
        );
        assert_eq!(validate_desk_name(&next_desk_name("谢健", [])), Ok(()));
    }

    #[test]
    fn valid_names() {
        for name in [
            "CAS6_1",
            "xiejian2_2",
            "谢健_1",
            "a",
            "desk-01.prod",
            ".x",
            "Ünïcödé",
            "7",
        ] {
            assert_eq!(validate_desk_name(name), Ok(()), "{name}");
        }
        assert_eq!(validate_desk_name(&"名".repeat(64)), Ok(()));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(
            validate_desk_name(""),
            Err(Error::invalid(
                "desk_name",
                "must be 1 to 64 characters, not 0"
            ))
        );
        assert_eq!(
            validate_desk_name(&"名".repeat(65)),
            Err(Error::invalid(
                "desk_name",
                "must be 1 to 64 characters, not 65"
            ))
        );
        assert!(validate_desk_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn leading_underscore_or_dash_is_refused() {
        for name in ["_desk", "-desk"] {
            assert_eq!(
                validate_desk_name(name),
                Err(Error::invalid(
                    "desk_name",
                    "must not start with `_` or `-`"
                ))
            );
        }
    }

    #[test]
    fn other_characters_are_refused() {
        for name in [
            "a b",
            "a/b",
            "a@b",
            "谢健 1",
            "a\tb",
            "a\u{0}",
            "桌面！",
            "a😀",
        ] {
            let err = validate_desk_name(name).unwrap_err();
            assert!(
                matches!(&err, Error::Invalid { field, .. } if field == "desk_name"),
                "{name}: {err:?}"
            );
        }
        assert_eq!(
            validate_desk_name("a b"),
            Err(Error::invalid(
                "desk_name",
                "' ' is not allowed; use letters, digits, `_`, `-` or `.`"
            ))
        );
    }
}
