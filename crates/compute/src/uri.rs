//! libvirt connection URIs: which deskd accepts for a host, and where a host's VNC displays
//! are reached. Not behind the `libvirt` feature, so a server built without it still checks
//! host records the same way.

/// A libvirt connection URI deskd accepts: a `qemu` driver URI (`qemu:///system`,
/// `qemu+tcp://ADDR/system`, `qemu+tls://…`, `qemu+ssh://…`, `qemu:///session`).
pub fn check_uri(uri: &str) -> Result<(), String> {
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or("must be a libvirt URI such as qemu:///system or qemu+tcp://ADDR/system")?;
    let ok_scheme = matches!(
        scheme,
        "qemu" | "qemu+tcp" | "qemu+tls" | "qemu+ssh" | "qemu+unix" | "qemu+libssh2"
    );
    if !ok_scheme {
        return Err(format!(
            "scheme {scheme:?} is not one of qemu, qemu+tcp, qemu+tls, qemu+ssh, qemu+unix, qemu+libssh2"
        ));
    }
    let path = rest.split('?').next().unwrap_or(rest);
    if !(path.ends_with("/system") || path.ends_with("/session")) {
        return Err("must end with /system or /session".into());
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    Ok(())
}

/// The address a host's VNC ports are reached on: the listen address when it is a real one,
/// else the URI's host name (127.0.0.1 for a local URI).
pub fn vnc_address(uri: &str, listen: Option<&str>) -> String {
    match listen {
        Some(l) if !l.is_empty() && l != "0.0.0.0" && l != "::" => l.to_string(),
        _ => uri_host(uri).unwrap_or_else(|| "127.0.0.1".into()),
    }
}

/// The host name of a remote URI (`qemu+tcp://user@10.0.0.5:16509/system` → `10.0.0.5`).
fn uri_host(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        for ok in [
            "qemu:///system",
            "qemu+tcp://10.0.0.5/system",
            "qemu+ssh://root@h1/system?keyfile=/k",
            "qemu+tls://h1:16514/system",
        ] {
            assert_eq!(check_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "qemu",
            "xen:///system",
            "qemu+tcp://h1/",
            "qemu:///system x",
        ] {
            assert!(check_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vnc_addresses() {
        assert_eq!(
            vnc_address("qemu+tcp://10.0.0.5/system", Some("0.0.0.0")),
            "10.0.0.5"
        );
        assert_eq!(
            vnc_address("qemu+ssh://u@[fd00::5]:22/system", None),
            "fd00::5"
        );
        assert_eq!(vnc_address("qemu:///system", None), "127.0.0.1");
        assert_eq!(
            vnc_address("qemu+tcp://h/system", Some("10.1.0.1")),
            "10.1.0.1"
        );
    }
}
