//! From wire bodies to domain values and back: what a create or edit request means (Appendix B
//! items 9–13), how a user and a desk are shown. The checks themselves live in
//! `deskd_domain::users`.

use deskd_domain::ids::{GroupId, UserId};
use std::collections::HashSet;

use deskd_domain::enums::{DeskCategory, UserState, UserType};
use deskd_domain::error::{BatchKind, Error, Result};
use deskd_domain::model::{AuthSwitches, User, UserDesk, UserView};
use deskd_domain::users::*;
use deskd_wire::user::*;

/// Most users in one batch (Appendix B item 5).
pub const MAX_BATCH: usize = 1000;
/// Longest `login_identity_level` [deskd's choice].
const MAX_LEVEL: usize = 32;

/// A trimmed, checked user name.
pub fn user_name(name: &str, field: &str) -> Result<String> {
    let name = name.trim();
    check_user_name(name, field)?;
    Ok(name.to_string())
}

/// Applies the switches a request sends onto `base`; absent ones stay as they are.
pub fn switches(
    base: &AuthSwitches,
    primary: Option<&PrimaryCertification>,
    assist: Option<&AssistCertification>,
) -> AuthSwitches {
    let mut a = base.clone();
    if let Some(p) = primary {
        set(
            &mut a.account_password,
            p.open_account_password_certification,
        );
        set(&mut a.cas, p.open_cas_certification);
    }
    if let Some(s) = assist {
        set(&mut a.hardware, s.open_hardware_certification);
        set(&mut a.otp, s.open_otp_certification);
        set(&mut a.sms, s.open_sms_certification);
        set(&mut a.radius, s.open_radius_certification);
        if let Some(n) = s.max_hardware_num {
            a.max_hardware_num = n;
        }
    }
    a
}

fn set(slot: &mut bool, value: Option<bool>) {
    if let Some(v) = value {
        *slot = v;
    }
}

/// Description, phone and e-mail: absent or `null` is empty (6.2.6 clears them).
fn contacts(
    description: Option<&str>,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<(String, String, String)> {
    let description = description.unwrap_or_default().to_string();
    check_len(&description, MAX_DESCRIPTION, "content.description")?;
    let phone = phone.unwrap_or_default().trim().to_string();
    check_phone(&phone, "content.phone_num")?;
    let email = email.unwrap_or_default().trim().to_string();
    check_email(&email, "content.email")?;
    Ok((description, phone, email))
}

fn expiry(
    expire: Option<i64>,
    invalid: Option<i64>,
    now: i64,
) -> Result<(Option<i64>, Option<i64>)> {
    let expire = expire
        .map(|v| check_expire(v, now, "content.account_expire_date"))
        .transpose()?;
    let invalid = invalid
        .map(|v| check_invalid_time(v, "content.invalid_time"))
        .transpose()?;
    Ok((expire, invalid))
}

/// A checked 6.2.4 request as a user row (password hash still to fill in) and its group path.
pub fn new_user(r: &CreateUserRequest, g: &GlobalStrategy, now: i64) -> Result<(User, String)> {
    let name = user_name(&r.user_name, "content.user_name")?;
    let user_type = match r.user_type.as_deref().map(str::trim) {
        None | Some("") => UserType::NORMAL,
        Some(t) => UserType::parse(t, "content.user_type")?,
    };
    let path = group_path(&r.user_group_name, "content.user_group_name")?;
    let real_name = r.real_name.clone().unwrap_or_default().trim().to_string();
    check_real_name(&real_name, user_type, "content.real_name")?;
    let (description, phone, email) = contacts(
        r.description.as_deref(),
        r.phone_num.as_deref(),
        r.email.as_deref(),
    )?;
    let (account_expire_date, invalid_time) = expiry(r.account_expire_date, r.invalid_time, now)?;
    let auth = switches(
        &AuthSwitches::default(),
        r.primary_certification.as_ref(),
        r.assist_certification.as_ref(),
    );
    check_auth_switches(&auth, g)?;
    let level = r
        .login_identity_level
        .clone()
        .unwrap_or_else(|| "auto_login".into());
    check_len(&level, MAX_LEVEL, "content.login_identity_level")?;
    let user = User {
        id: UserId::generate(),
        name,
        real_name,
        user_type,
        state: UserState::ENABLE,
        group_id: GroupId::default(),
        password_hash: NO_PASSWORD.into(),
        email,
        phone,
        description,
        created_at: now,
        account_expire_date,
        invalid_time,
        login_identity_level: level,
        auth,
        pwd_failures: 0,
        locked_until: 0,
        last_login_at: 0,
    };
    Ok((user, path))
}

/// The user after a 6.2.6 edit (Appendix B item 12): description, phone and e-mail are replaced
/// (absent = cleared); switches, expiry and inactivity change only when sent.
pub fn edited(u: &User, r: &EditUserRequest, g: &GlobalStrategy, now: i64) -> Result<User> {
    let (description, phone, email) = contacts(
        r.description.as_deref(),
        r.phone_num.as_deref(),
        r.email.as_deref(),
    )?;
    let (expire, invalid) = expiry(r.account_expire_date, r.invalid_time, now)?;
    let auth = switches(
        &u.auth,
        r.primary_certification.as_ref(),
        r.assist_certification.as_ref(),
    );
    check_auth_switches(&auth, g)?;
    let real_name = match &r.real_name {
        Some(n) => {
            let n = n.trim().to_string();
            check_real_name(&n, u.user_type, "content.real_name")?;
            n
        }
        None => u.real_name.clone(),
    };
    Ok(User {
        real_name,
        description,
        phone,
        email,
        account_expire_date: expire.or(u.account_expire_date),
        invalid_time: invalid.or(u.invalid_time),
        auth,
        ..u.clone()
    })
}

/// The names of a user batch: 1..=1000, each valid and unique (DECISIONS D7).
pub fn batch_names<'a>(
    names: impl ExactSizeIterator<Item = &'a str>,
    field: &str,
) -> Result<Vec<String>> {
    let n = names.len();
    if n == 0 {
        return Err(Error::invalid(field, "must name at least one user"));
    }
    if n > MAX_BATCH {
        return Err(Error::BatchTooLarge {
            kind: BatchKind::User,
            max: MAX_BATCH,
            got: n,
        });
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    for (i, name) in names.enumerate() {
        let f = format!("{field}[{i}]");
        let name = user_name(name, &f)?;
        if !seen.insert(name.clone()) {
            return Err(Error::invalid(f, format!("`{name}` appears twice")));
        }
        out.push(name);
    }
    Ok(out)
}

/// `desktop_category_list`: empty means every category.
pub fn categories(list: &[String]) -> Result<Vec<DeskCategory>> {
    list.iter()
        .enumerate()
        .map(|(i, c)| {
            DeskCategory::parse(c.trim(), &format!("content.desktop_category_list[{i}]"))
                .map_err(Error::from)
        })
        .collect()
}

/// One 6.2.15 item.
pub fn item(v: &UserView, now: i64) -> UserItem {
    let (u, g) = (&v.user, &v.group);
    let expire = effective_expire(u, g);
    UserItem {
        id: u.id.clone(),
        user_name: u.name.clone(),
        real_name: u.real_name.clone(),
        user_type: u.user_type,
        user_state: u.state,
        user_description: u.description.clone(),
        group_id: g.id.clone().into(),
        group_name: g.name.clone(),
        group_path: g.path.clone(),
        phone_num: u.phone.clone(),
        email: u.email.clone(),
        create_time: u.created_at,
        desktop_num: v.desktop_num,
        can_delete: v.desktop_num == 0,
        enable_domain_sync: false,
        has_bind_disk: false,
        has_bind_otp: false,
        has_recycle_bin: false,
        lock: lock_minutes_left(u, now).is_some(),
        login_identity_level: u.login_identity_level.clone(),
        open_cas_certification: u.auth.cas,
        open_account_password_certification: u.auth.account_password,
        open_hardware_certification: u.auth.hardware,
        max_hardware_num: u.auth.max_hardware_num,
        open_otp_certification: u.auth.otp,
        open_sms_certification: u.auth.sms,
        open_radius_certification: u.auth.radius,
        account_expire_date: render_expire(expire, u.user_type),
        account_expire_date_str: render_expire_str(expire),
        account_expire_time: expire,
        invalid_time: effective_invalid_time(u, g),
        invalid: is_invalid(u, g, now),
        last_login_time: u.last_login_at,
    }
}

/// The addresses a unified-login desk list reports for this controller's cluster: the API
/// (`cluster_ip`/`cluster_port`) and the console proxy (`proxy_ip`/`proxy_port`).
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub ip: String,
    pub port: String,
    pub proxy_ip: String,
    pub proxy_port: String,
}

/// One 6.2.11 desktop; with unified login (`origin`) it carries its cluster.
pub fn desktop(d: UserDesk, origin: Option<&Origin>) -> UserDesktop {
    let desk = d.desk;
    let unified = origin.is_some();
    UserDesktop {
        desktop_id: desk.id,
        desktop_name: desk.name,
        desktop_state: desk.state,
        image_name: d.image_name,
        os_name: d.os_name,
        remark: desk.remark,
        enable_agreement_agency: d.enable_agreement_agency,
        desktop_category: desk.category,
        ip: desk.ip,
        cluster_id: unified.then_some(desk.cluster_id.into()),
        cluster_name: unified.then_some(d.cluster_name),
        cluster_ip: origin.map(|o| o.ip.clone()),
        cluster_port: origin.map(|o| o.port.clone()),
        proxy_ip: origin.map(|o| o.proxy_ip.clone()),
        proxy_port: origin.map(|o| o.proxy_port.clone()),
    }
}
