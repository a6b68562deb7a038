//! The XML documents deskd gives libvirt (domains, volumes, the pool, networks) and the few
//! values it reads back from libvirt's XML. Pure functions, so they are tested without a daemon.

use super::Record;
use crate::driver::{DriverError, NicSpec, VmSpec};
use std::net::Ipv4Addr;

/// The namespace of deskd's `<metadata>` element: a domain carrying it is deskd's own.
pub(crate) const META_NS: &str = "https://deskd.dev/xmlns/libvirt/vm/1";
/// The prefix of that element (`<deskd:vm>`).
pub(crate) const META_KEY: &str = "deskd";

/// A domain's name: `deskd-<vm_id>`, so an operator sees whose it is.
pub(crate) fn domain_name(vm: &str) -> String {
    format!("deskd-{vm}")
}

/// The VM a domain name stands for, when it is one of deskd's (`deskd-<vm_id>`).
pub(crate) fn vm_of_domain(name: &str) -> Option<&str> {
    name.strip_prefix("deskd-").filter(|vm| !vm.is_empty())
}

pub(crate) fn system_volume(vm: &str) -> String {
    format!("{vm}-system.qcow2")
}

pub(crate) fn data_volume(vm: &str) -> String {
    format!("{vm}-data.qcow2")
}

/// The base volume of an image version, shared by its desks' linked clones.
pub(crate) fn base_volume(image_id: &str, version: u32) -> String {
    format!("base-{image_id}-v{version}.qcow2")
}

/// A deskd network's libvirt network name.
pub(crate) fn network_name(network_id: &str) -> String {
    format!("deskd-{network_id}")
}

/// The bridge of a deskd network on a host: at most 15 bytes (IFNAMSIZ), stable per network.
pub(crate) fn bridge_name(network_id: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in network_id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("dk{:010x}", h & 0xff_ffff_ffff)
}

/// Escapes text for an XML attribute or element.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn unesc(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The metadata element holding the record as JSON text (`<vm>{…}</vm>`).
pub(crate) fn metadata_element(rec: &Record) -> Result<String, DriverError> {
    let json = serde_json::to_string(rec).map_err(|e| DriverError::Io(e.to_string()))?;
    Ok(format!("<vm>{}</vm>", esc(&json)))
}

/// The record back from the element libvirt returns (`<deskd:vm xmlns:…>{…}</deskd:vm>` or
/// `<vm>{…}</vm>`); None when it is not one of deskd's.
pub(crate) fn parse_metadata(element: &str) -> Option<Record> {
    let start = element.find('>')? + 1;
    let end = element.rfind("</")?;
    let text = unesc(element.get(start..end)?.trim());
    serde_json::from_str(&text).ok()
}

/// The domain: TCG (`qemu`) or KVM per `domain_type`, the spec's CPU and memory, the system
/// disk (a linked clone) and the data disk as volumes of `pool`, the desk's NIC on its deskd
/// network, a file serial console in `serial_dir`, VNC (address from the host's qemu.conf
/// `vnc_listen`), the video model, a balloon reporting every 2 s, and deskd's metadata.
/// A QXL desk also gets a SPICE display (address from qemu.conf `spice_listen`) locked by
/// `spice_password` until a console ticket sets one a client is given.
pub(crate) fn domain(
    rec: &Record,
    domain_type: &str,
    pool: &str,
    serial_dir: &str,
    video: &str,
    spice_password: &str,
) -> Result<String, DriverError> {
    let s = &rec.spec;
    let mut x = String::new();
    x.push_str(&format!("<domain type='{}'>\n", esc(domain_type)));
    x.push_str(&format!("  <name>{}</name>\n", esc(&domain_name(&s.vm_id))));
    if is_uuid(&s.vm_id) {
        x.push_str(&format!("  <uuid>{}</uuid>\n", s.vm_id));
    }
    x.push_str(&format!("  <title>{}</title>\n", esc(&s.name)));
    x.push_str(&format!(
        "  <metadata><{k}:vm xmlns:{k}='{META_NS}'>{}</{k}:vm></metadata>\n",
        metadata_element(rec)?
            .trim_start_matches("<vm>")
            .trim_end_matches("</vm>"),
        k = META_KEY
    ));
    x.push_str(&format!(
        "  <memory unit='MiB'>{m}</memory>\n  <currentMemory unit='MiB'>{m}</currentMemory>\n",
        m = s.memory_mb
    ));
    x.push_str(&format!("  <vcpu>{}</vcpu>\n", s.cpu_cores));
    x.push_str(
        "  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>\n  \
         <features><acpi/></features>\n  \
         <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>\n  \
         <devices>\n",
    );
    x.push_str(&disk(pool, &system_volume(&s.vm_id), "vda"));
    if s.data_disk_gb.is_some() {
        x.push_str(&disk(pool, &data_volume(&s.vm_id), "vdb"));
    }
    if let Some(nic) = &s.nic {
        x.push_str(&format!(
            "    <interface type='network'><mac address='{}'/><source network='{}'/><model type='virtio'/></interface>\n",
            esc(&nic.mac),
            esc(&network_name(&nic.network_id))
        ));
    }
    x.push_str(&format!(
        "    <serial type='file'><source path='{}/{}.serial.log'/><target port='0'/></serial>\n",
        esc(serial_dir),
        esc(&domain_name(&s.vm_id))
    ));
    x.push_str("    <graphics type='vnc' port='-1' autoport='yes'/>\n");
    if wants_spice(video) {
        x.push_str(&format!(
            "    <graphics type='spice' autoport='yes' passwd='{}'/>\n",
            esc(spice_password)
        ));
    }
    x.push_str(&format!(
        "    <video><model type='{}'/></video>\n",
        esc(video)
    ));
    x.push_str("    <memballoon model='virtio'><stats period='2'/></memballoon>\n");
    x.push_str("  </devices>\n</domain>\n");
    Ok(x)
}

fn disk(pool: &str, volume: &str, dev: &str) -> String {
    format!(
        "    <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='{}' volume='{}'/><target dev='{dev}' bus='virtio'/></disk>\n",
        esc(pool),
        esc(volume)
    )
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A directory pool at `path` on the host.
pub(crate) fn pool(name: &str, path: &str) -> String {
    format!(
        "<pool type='dir'><name>{}</name><target><path>{}</path></target></pool>",
        esc(name),
        esc(path)
    )
}

/// An empty qcow2 volume of `capacity` bytes; with `backing`, a linked clone of that path.
pub(crate) fn volume(name: &str, capacity: u64, backing: Option<&str>) -> String {
    let backing = backing
        .map(|p| {
            format!(
                "<backingStore><path>{}</path><format type='qcow2'/></backingStore>",
                esc(p)
            )
        })
        .unwrap_or_default();
    format!(
        "<volume><name>{}</name><capacity unit='bytes'>{capacity}</capacity><target><format type='qcow2'/></target>{backing}</volume>",
        esc(name)
    )
}

/// The libvirt network of a deskd network: a bridge whose host side carries the gateway, and a
/// DHCP server with no dynamic range, so it answers only the desks' MACs (host entries added
/// per desk), each with the address deskd allocated.
pub(crate) fn network(nic: &NicSpec) -> Result<String, DriverError> {
    let (_, prefix) = parse_cidr(&nic.cidr)?;
    let gateway: Ipv4Addr = nic.gateway.parse().map_err(|_| {
        DriverError::Invalid(format!("network gateway {:?} is not IPv4", nic.gateway))
    })?;
    Ok(format!(
        "<network><name>{}</name><bridge name='{}' stp='off'/><ip address='{gateway}' prefix='{prefix}'><dhcp/></ip></network>",
        esc(&network_name(&nic.network_id)),
        bridge_name(&nic.network_id)
    ))
}

/// The DHCP host entry giving `nic.ip` to `nic.mac`.
pub(crate) fn dhcp_host(nic: &NicSpec, vm: &str) -> String {
    format!(
        "<host mac='{}' name='{}' ip='{}'/>",
        esc(&nic.mac),
        esc(&format!("desk-{}", &vm[..vm.len().min(8)])),
        esc(&nic.ip)
    )
}

fn parse_cidr(cidr: &str) -> Result<(Ipv4Addr, u8), DriverError> {
    let bad = || DriverError::Invalid(format!("network cidr {cidr:?} is not a.b.c.d/n"));
    let (addr, prefix) = cidr.split_once('/').ok_or_else(bad)?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    if prefix > 32 {
        return Err(bad());
    }
    Ok((addr.parse().map_err(|_| bad())?, prefix))
}

/// Whether a network's XML already names this MAC, and with which address.
pub(crate) fn dhcp_entry(network_xml: &str, mac: &str) -> Option<String> {
    let mac = mac.to_ascii_lowercase();
    network_xml
        .split("<host ")
        .skip(1)
        .find(|h| attr(h, "mac").is_some_and(|m| m.to_ascii_lowercase() == mac))
        .and_then(|h| attr(h, "ip"))
}

/// True when a VM with this video model (as the host has it: QXL falls back to VGA on a
/// QEMU without the SPICE modules) gets a SPICE display: QXL is SPICE's own adapter (the
/// document's `vgpu_type` example), whose guests and clients expect SPICE.
pub(crate) fn wants_spice(video: &str) -> bool {
    video == "qxl"
}

/// The live VNC port and listen address of a running domain's XML.
pub(crate) fn vnc(domain_xml: &str) -> Option<(u16, Option<String>)> {
    graphics(domain_xml, "vnc")
}

/// The live SPICE port and listen address of a running domain's XML.
pub(crate) fn spice(domain_xml: &str) -> Option<(u16, Option<String>)> {
    graphics(domain_xml, "spice")
}

/// The live `<graphics type='spice'>` element, with a password valid until `valid_to`
/// (UTC, `YYYY-MM-DDTHH:MM:SS`) added: the device update that sets a ticket's password
/// (libvirt refuses an update that changes the ports or listen addresses, so they are kept).
pub(crate) fn spice_password_update(
    domain_xml: &str,
    password: &str,
    valid_to: &str,
) -> Option<String> {
    let start = domain_xml.find("<graphics type='spice'")?;
    let rest = &domain_xml[start..];
    let head_end = rest.find('>')?;
    let self_closing = rest[..head_end].ends_with('/');
    let end = if self_closing {
        head_end + 1
    } else {
        rest.find("</graphics>")? + "</graphics>".len()
    };
    let element = &rest[..end];
    let auth = format!(
        " passwd='{}' passwdValidTo='{}' connected='keep'",
        esc(password),
        esc(valid_to)
    );
    let cleaned = strip_attr(&strip_attr(element, "passwd"), "passwdValidTo");
    Some(cleaned.replacen("<graphics", &format!("<graphics{auth}"), 1))
}

/// `element` without the attribute `name='…'` of its first tag.
fn strip_attr(element: &str, name: &str) -> String {
    let key = format!(" {name}='");
    let head = element.split('>').next().unwrap_or_default();
    match head.find(&key) {
        Some(i) => {
            let after = &element[i + key.len()..];
            let close = after.find('\'').map_or(after.len(), |j| j + 1);
            format!("{}{}", &element[..i], &after[close..])
        }
        None => element.to_string(),
    }
}

/// The live port and listen address of the domain's graphics of type `kind`.
fn graphics(domain_xml: &str, kind: &str) -> Option<(u16, Option<String>)> {
    let g = domain_xml
        .split("<graphics ")
        .skip(1)
        .find(|g| attr(g, "type").as_deref() == Some(kind))?;
    let tag = g.split('>').next()?;
    let port: u16 = attr(tag, "port")?.parse().ok()?;
    let listen = attr(tag, "listen").or_else(|| {
        g.split("<listen ")
            .nth(1)
            .and_then(|l| attr(l.split('>').next()?, "address"))
    });
    Some((port, listen))
}

/// The value of `name='…'` or `name="…"` in the text of one tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let tag = tag.split('>').next().unwrap_or(tag);
    for q in ['\'', '"'] {
        let key = format!(" {name}={q}");
        let padded = format!(" {tag}");
        if let Some(i) = padded.find(&key) {
            let rest = padded.get(i + key.len()..)?;
            return Some(unesc(rest.get(..rest.find(q)?)?));
        }
    }
    None
}

/// The video models a host's domain capabilities list as supported.
pub(crate) fn video_models(caps: &str) -> Vec<String> {
    let Some(video) = caps.split("<video supported='yes'>").nth(1) else {
        return Vec::new();
    };
    let section = video.split("</video>").next().unwrap_or_default();
    section
        .split("<value>")
        .skip(1)
        .filter_map(|v| v.split("</value>").next())
        .map(str::to_string)
        .collect()
}

/// Checks what the domain XML cannot carry; at define, so a bad spec never reaches libvirt.
pub(crate) fn check(spec: &VmSpec) -> Result<(), DriverError> {
    if let Some(nic) = &spec.nic {
        parse_cidr(&nic.cidr)?;
        let mac_ok = nic.mac.len() == 17
            && nic
                .mac
                .split(':')
                .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()));
        if !mac_ok {
            return Err(DriverError::Invalid(format!("mac {:?}", nic.mac)));
        }
        nic.ip
            .parse::<Ipv4Addr>()
            .map_err(|_| DriverError::Invalid(format!("ip {:?} is not IPv4", nic.ip)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{DiskImage, Video};

    fn spec() -> VmSpec {
        VmSpec {
            vm_id: "0b9e4f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b".into(),
            name: "alice_1 <x>".into(),
            host_id: "h1".into(),
            cpu_cores: 2,
            memory_mb: 2048,
            system_disk_gb: 10,
            data_disk_gb: Some(5),
            image: DiskImage {
                image_id: "img".into(),
                version: 2,
                size_gb: 1,
            },
            recoverable: true,
            video: Video::Qxl,
            nic: Some(NicSpec {
                network_id: "n1".into(),
                mac: "52:54:00:aa:bb:cc".into(),
                ip: "10.77.0.21".into(),
                cidr: "10.77.0.0/24".into(),
                gateway: "10.77.0.1".into(),
            }),
        }
    }

    #[test]
    fn domain_carries_the_spec_and_its_record() {
        let rec = Record {
            spec: spec(),
            disk_generation: 3,
            crash_acked: false,
        };
        let x = domain(
            &rec,
            "qemu",
            "deskd",
            "/var/log/libvirt/qemu",
            "qxl",
            "pw<'",
        )
        .unwrap();
        assert!(
            x.contains("<graphics type='spice' autoport='yes' passwd='pw&lt;&apos;'/>"),
            "{x}"
        );
        let vga = domain(&rec, "qemu", "deskd", "/var/log/libvirt/qemu", "vga", "pw").unwrap();
        assert!(!vga.contains("spice"), "{vga}");
        assert!(x.contains("<domain type='qemu'>"));
        assert!(x.contains("<name>deskd-0b9e4f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b</name>"));
        assert!(x.contains("<uuid>0b9e4f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b</uuid>"));
        assert!(x.contains("<title>alice_1 &lt;x&gt;</title>"));
        assert!(x.contains("<vcpu>2</vcpu>") && x.contains("<memory unit='MiB'>2048</memory>"));
        assert!(x.contains("volume='0b9e4f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b-data.qcow2'"));
        assert!(x.contains("<mac address='52:54:00:aa:bb:cc'/><source network='deskd-n1'/>"));
        assert!(x.contains("<model type='qxl'/>"));
        let meta = x.split("<metadata>").nth(1).unwrap();
        let back = parse_metadata(meta.split("</metadata>").next().unwrap()).unwrap();
        assert_eq!(back.spec, rec.spec);
        assert_eq!(back.disk_generation, 3);
    }

    #[test]
    fn a_domain_without_data_disk_or_nic_has_neither() {
        let mut s = spec();
        s.data_disk_gb = None;
        s.nic = None;
        let x = domain(
            &Record {
                spec: s,
                disk_generation: 1,
                crash_acked: false,
            },
            "kvm",
            "p",
            "/l",
            "vga",
            "pw",
        )
        .unwrap();
        assert!(!x.contains("vdb") && !x.contains("<interface"));
    }

    #[test]
    fn network_answers_only_its_hosts() {
        let n = network(spec().nic.as_ref().unwrap()).unwrap();
        assert!(n.contains("<ip address='10.77.0.1' prefix='24'><dhcp/></ip>"));
        assert!(!n.contains("<range"));
        assert!(bridge_name("n1").len() <= 15);
        assert_ne!(bridge_name("n1"), bridge_name("n2"));
        let live = "<network><ip><dhcp><host mac='52:54:00:AA:BB:CC' name='x' ip='10.77.0.21'/></dhcp></ip></network>";
        assert_eq!(
            dhcp_entry(live, "52:54:00:aa:bb:cc").as_deref(),
            Some("10.77.0.21")
        );
        assert_eq!(dhcp_entry(live, "52:54:00:aa:bb:cd"), None);
    }

    #[test]
    fn vnc_port_and_listen_from_live_xml() {
        let x = "<devices><graphics type='vnc' port='5901' autoport='yes' listen='10.1.0.11'>\n<listen type='address' address='10.1.0.11'/></graphics></devices>";
        assert_eq!(vnc(x), Some((5901, Some("10.1.0.11".into()))));
        let y = "<graphics type='vnc' port='5900' autoport='yes'>\n<listen type='address' address='0.0.0.0'/></graphics>";
        assert_eq!(vnc(y), Some((5900, Some("0.0.0.0".into()))));
        assert_eq!(vnc("<graphics type='spice' port='5900'/>"), None);
        assert_eq!(
            spice("<graphics type='vnc' port='5900'/><graphics type='spice' port='5901' listen='10.1.0.11'/>"),
            Some((5901, Some("10.1.0.11".into())))
        );
    }

    #[test]
    fn spice_password_update_keeps_ports_and_listens() {
        let live = "<devices><graphics type='spice' port='5901' autoport='yes' listen='10.1.0.11' passwd='old'>\n<listen type='address' address='10.1.0.11'/>\n</graphics><video/></devices>";
        let up = spice_password_update(live, "new", "2026-12-07T23:59:00").unwrap();
        assert_eq!(
            up,
            "<graphics passwd='new' passwdValidTo='2026-12-07T23:59:00' connected='keep' type='spice' port='5901' autoport='yes' listen='10.1.0.11'>\n<listen type='address' address='10.1.0.11'/>\n</graphics>"
        );
        let short =
            spice_password_update("<graphics type='spice' port='5902'/>", "p", "t").unwrap();
        assert_eq!(
            short,
            "<graphics passwd='p' passwdValidTo='t' connected='keep' type='spice' port='5902'/>"
        );
        assert_eq!(
            spice_password_update("<graphics type='vnc'/>", "p", "t"),
            None
        );
    }

    #[test]
    fn video_models_from_domain_capabilities() {
        let caps = "<devices><video supported='yes'>\n<enum name='modelType'>\n<value>vga</value>\n<value>virtio</value>\n</enum></video><hostdev supported='yes'><enum><value>x</value></enum></hostdev></devices>";
        assert_eq!(video_models(caps), ["vga", "virtio"]);
        assert!(video_models("<video supported='no'/>").is_empty());
    }

    #[test]
    fn bad_nic_values_are_refused() {
        let mut s = spec();
        s.nic.as_mut().unwrap().cidr = "10.0.0.0".into();
        assert!(check(&s).is_err());
        let mut s = spec();
        s.nic.as_mut().unwrap().mac = "52:54".into();
        assert!(check(&s).is_err());
        assert!(check(&spec()).is_ok());
    }
}
