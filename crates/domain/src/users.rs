//! Rules of desktop users and groups (chapter 6.2, Appendix B items 9–16): what a name, a group
//! path, a phone number or an e-mail may be, the password policy, lockout, expiry and inactivity,
//! and how expiry is rendered. Every choice the document leaves open is made here, once.

use deskd_wire::user::GlobalStrategy;

use crate::enums::UserType;
use crate::error::{Error, Result, UserRefusal};
use crate::model::{User, UserGroup};

/// Longest user name (Appendix B item 9).
pub const MAX_USER_NAME: usize = 32;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 128;
/// Longest phone number.
pub const MAX_PHONE: usize = 32;
/// Longest e-mail address and real name [deskd's choice].
pub const MAX_EMAIL: usize = 128;
pub const MAX_REAL_NAME: usize = 64;
/// Longest name of one group in a path, and deepest path [deskd's choice].
pub const MAX_GROUP_NAME: usize = 64;
pub const MAX_GROUP_DEPTH: usize = 10;
/// Largest `invalid_time` (days).
pub const MAX_INVALID_TIME: i64 = 1000;
/// Largest `max_hardware_num` [deskd's choice].
pub const MAX_HARDWARE_NUM: i64 = 1000;
/// How long a terminal's desktop-user login stays live for 6.2.11 (unified login).
pub const TERMINAL_LOGIN_TTL_MS: i64 = 12 * 3600 * 1000;
/// Text of an expiry that never comes ("永不过期").
pub const NEVER_EXPIRES: &str = "永不过期";
/// A password hash that never verifies: the user has no password.
pub const NO_PASSWORD: &str = "!";

const DAY_MS: i64 = 24 * 3600 * 1000;

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@' | '.') || is_chinese(c)
}

fn is_chinese(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// A user name: 1–32 letters, digits, Chinese characters and `_ - @ .`, not starting with `_`.
pub fn check_user_name(name: &str, field: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > MAX_USER_NAME {
        return Err(Error::invalid(
            field,
            format!("must have 1 to {MAX_USER_NAME} characters"),
        ));
    }
    if name.starts_with('_') {
        return Err(Error::invalid(field, "must not start with `_`"));
    }
    if let Some(c) = name.chars().find(|c| !name_char(*c)) {
        return Err(Error::invalid(
            field,
            format!("`{c}` is not allowed; only letters, digits, Chinese characters and _ - @ ."),
        ));
    }
    Ok(())
}

/// At most `max` characters.
pub fn check_len(value: &str, max: usize, field: &str) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must have at most {max} characters"),
        ));
    }
    Ok(())
}

/// Empty, or digits with an optional leading `+` and `-`/space separators, at most 32.
pub fn check_phone(phone: &str, field: &str) -> Result<()> {
    check_len(phone, MAX_PHONE, field)?;
    let body = phone.strip_prefix('+').unwrap_or(phone);
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
    {
        return Err(Error::invalid(
            field,
            "may hold only digits, a leading + and - or spaces",
        ));
    }
    Ok(())
}

/// Empty, or `local@domain.tld` without spaces.
pub fn check_email(email: &str, field: &str) -> Result<()> {
    if email.is_empty() {
        return Ok(());
    }
    check_len(email, MAX_EMAIL, field)?;
    let ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(field, "is not a valid e-mail address"))
    }
}

/// A real name: required except for visitors.
pub fn check_real_name(real_name: &str, user_type: UserType, field: &str) -> Result<()> {
    if real_name.trim().is_empty() && user_type != UserType::VISITOR {
        return Err(Error::invalid(field, "is required for non-visitor users"));
    }
    check_len(real_name, MAX_REAL_NAME, field)
}

/// One group name: 1–64 characters, no `/` and no control characters.
pub fn check_group_name(name: &str, field: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > MAX_GROUP_NAME {
        return Err(Error::invalid(
            field,
            format!("group names must have 1 to {MAX_GROUP_NAME} characters"),
        ));
    }
    if name.chars().any(|c| c == '/' || c.is_control()) {
        return Err(Error::invalid(field, "group names must not contain `/`"));
    }
    Ok(())
}

/// Splits and checks a `/` path (`a/b/c`; surrounding slashes and blanks are ignored) into its
/// normalised form.
pub fn group_path(path: &str, field: &str) -> Result<String> {
    let parts: Vec<&str> = path
        .trim()
        .trim_matches('/')
        .split('/')
        .map(str::trim)
        .collect();
    if parts.len() > MAX_GROUP_DEPTH {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_GROUP_DEPTH} levels"),
        ));
    }
    for p in &parts {
        check_group_name(p, field)?;
    }
    Ok(parts.join("/"))
}

/// `account_expire_date`: 0 (never) or a time not before `now` (23070221).
pub fn check_expire(value: i64, now: i64, field: &str) -> Result<i64> {
    if value < 0 {
        return Err(Error::invalid(field, "must be 0 or epoch milliseconds"));
    }
    if value != 0 && value < now {
        return Err(Error::user(
            UserRefusal::ExpiryPast,
            format!("{field} {value} is earlier than the current time {now}"),
        ));
    }
    Ok(value)
}

/// `invalid_time`: 0..=1000 days.
pub fn check_invalid_time(value: i64, field: &str) -> Result<i64> {
    if !(0..=MAX_INVALID_TIME).contains(&value) {
        return Err(Error::invalid(
            field,
            format!("must be between 0 and {MAX_INVALID_TIME}"),
        ));
    }
    Ok(value)
}

/// The password policy of the global strategy (23070204). `field` is the JSON path of the
/// password (`content.password`, `content.new_password`), which the message names.
pub fn check_password_policy(password: &str, g: &GlobalStrategy, field: &str) -> Result<()> {
    let n = password.chars().count();
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let p = &g.password_policy;
    if n < p.min_length || n > p.max_length || classes < p.min_classes {
        return Err(Error::user(
            UserRefusal::PasswordPolicy,
            format!(
                "invalid parameter `{field}`: the password must have {} to {} characters and at least {} of: lower-case letters, upper-case letters, digits, symbols",
                p.min_length, p.max_length, p.min_classes
            ),
        ));
    }
    Ok(())
}

/// The switches a user asks for must be on globally; Radius and OTP exclude each other.
pub fn check_auth_switches(a: &crate::model::AuthSwitches, g: &GlobalStrategy) -> Result<()> {
    let field = "content.assist_certification";
    if a.otp && !g.open_otp_certification {
        return Err(Error::user(
            UserRefusal::OtpNotGlobal,
            "OTP authentication is not enabled globally",
        ));
    }
    if a.hardware && !g.open_hardware_certification {
        return Err(Error::user(
            UserRefusal::HardwareNotGlobal,
            "hardware-fingerprint authentication is not enabled globally",
        ));
    }
    if a.sms && !g.open_sms_certification {
        return Err(Error::user(
            UserRefusal::SmsNotGlobal,
            "SMS authentication is not enabled globally",
        ));
    }
    if a.radius && !g.open_radius_certification {
        return Err(Error::invalid(
            format!("{field}.open_radius_certification"),
            "Radius authentication is not enabled globally",
        ));
    }
    if a.cas && !g.open_cas_certification {
        return Err(Error::invalid(
            "content.primary_certification.open_cas_certification",
            "CAS authentication is not enabled globally",
        ));
    }
    if a.radius && a.otp {
        return Err(Error::invalid(
            field,
            "Radius and OTP authentication cannot both be enabled",
        ));
    }
    if !(0..=MAX_HARDWARE_NUM).contains(&a.max_hardware_num) {
        return Err(Error::invalid(
            format!("{field}.max_hardware_num"),
            format!("must be between 0 and {MAX_HARDWARE_NUM}"),
        ));
    }
    Ok(())
}

/// The expiry in force: the user's own, else the group's (0 = never).
pub fn effective_expire(u: &User, g: &UserGroup) -> i64 {
    u.account_expire_date.unwrap_or(g.account_expire_date)
}

/// The inactivity days in force: the user's own, else the group's (0 = never).
pub fn effective_invalid_time(u: &User, g: &UserGroup) -> i64 {
    u.invalid_time.unwrap_or(g.invalid_time)
}

pub fn is_expired(u: &User, g: &UserGroup, now: i64) -> bool {
    let e = effective_expire(u, g);
    e > 0 && e <= now
}

/// Invalid: no login for more than `invalid_time` days, counted from the last desktop-user
/// login, or from the creation when the user never logged in.
pub fn is_invalid(u: &User, g: &UserGroup, now: i64) -> bool {
    let days = effective_invalid_time(u, g);
    days > 0 && now - u.last_login_at.max(u.created_at) > days * DAY_MS
}

/// Whole minutes (rounded up) the user stays locked, or `None`.
pub fn lock_minutes_left(u: &User, now: i64) -> Option<i64> {
    (u.locked_until > now).then(|| (u.locked_until - now + 59_999) / 60_000)
}

/// `account_expire_date` as 6.2.15 shows it: AD users in UTC, others in Beijing time.
pub fn render_expire(ms: i64, user_type: UserType) -> String {
    let offset = if user_type == UserType::AD { 0 } else { 8 };
    render_time(ms, offset)
}

/// `account_expire_date_str`: always Beijing time (UTC+8).
pub fn render_expire_str(ms: i64) -> String {
    render_time(ms, 8)
}

fn render_time(ms: i64, offset_hours: i64) -> String {
    if ms <= 0 {
        return NEVER_EXPIRES.to_string();
    }
    let secs = ms.div_euclid(1000) + offset_hours * 3600;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in ["a", "张三_01", "x-y@z.cn", &"a".repeat(32)] {
            assert!(check_user_name(ok, "n").is_ok(), "{ok}");
        }
        for bad in ["", "_a", "a b", "a/b", "a#", &"a".repeat(33)] {
            assert!(check_user_name(bad, "n").is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_phones_paths() {
        assert!(check_email("a@b.cn", "e").is_ok());
        assert!(check_email("", "e").is_ok());
        for bad in ["a", "a@b", "@b.cn", "a b@c.cn", "a@b@c.cn", "a@.cn"] {
            assert!(check_email(bad, "e").is_err(), "{bad}");
        }
        assert!(check_phone("+86 153-5974-0221", "p").is_ok());
        assert!(check_phone("abc", "p").is_err());
        assert!(check_phone(&"1".repeat(33), "p").is_err());
        assert_eq!(group_path(" /锐捷/云桌面/ ", "g").unwrap(), "锐捷/云桌面");
        assert!(group_path("a//b", "g").is_err());
        assert!(group_path("", "g").is_err());
    }

    #[test]
    fn expiry_rendering() {
        // 2023-10-24 08:10:24.523 UTC
        let ms = 1_698_135_024_523;
        assert_eq!(render_expire(ms, UserType::AD), "2023-10-24 08:10:24");
        assert_eq!(render_expire(ms, UserType::NORMAL), "2023-10-24 16:10:24");
        assert_eq!(render_expire_str(ms), "2023-10-24 16:10:24");
        assert_eq!(render_expire(0, UserType::AD), NEVER_EXPIRES);
        assert_eq!(render_time(1, 0), "1970-01-01 00:00:00");
    }

    #[test]
    fn lock_expiry_and_inactivity() {
        let g = UserGroup {
            id: "g".into(),
            name: "g".into(),
            parent_id: None,
            path: "g".into(),
            created_at: 0,
            account_expire_date: 5_000,
            invalid_time: 2,
        };
        let mut u = crate::demo::inventory(0, "h").users[0].clone();
        u.created_at = 0;
        u.locked_until = 120_001;
        assert_eq!(lock_minutes_left(&u, 0), Some(3));
        assert_eq!(lock_minutes_left(&u, 120_001), None, "the lock expires");
        // the group's expiry and inactivity apply until the user sets its own
        assert!(!is_expired(&u, &g, 4_999) && is_expired(&u, &g, 5_000));
        u.account_expire_date = Some(0);
        assert!(!is_expired(&u, &g, i64::MAX / 2));
        assert!(!is_invalid(&u, &g, 2 * DAY_MS) && is_invalid(&u, &g, 2 * DAY_MS + 1));
        u.last_login_at = DAY_MS;
        assert!(
            !is_invalid(&u, &g, 3 * DAY_MS),
            "counted from the last login"
        );
        u.invalid_time = Some(0);
        assert!(!is_invalid(&u, &g, i64::MAX / 2));
    }

    #[test]
    fn password_policy() {
        let g = GlobalStrategy::default();
        let f = "content.password";
        assert!(check_password_policy("Abcdef12", &g, f).is_ok());
        assert!(check_password_policy("short1A", &g, f).is_err());
        let e = check_password_policy("abcdefgh", &g, "content.new_password").unwrap_err();
        assert!(e.to_string().contains("`content.new_password`"), "{e}");
    }
}
