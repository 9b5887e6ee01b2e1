//! The `syslog` log driver's settings for one container: the collector's address, the
//! facility, the message format and the tag with Docker's template fields expanded.

use std::collections::BTreeMap;

use isula_shim_proto::syslog::{facility, SyslogConfig, SyslogFormat};

use crate::container::store::ContainerRecord;
use crate::error::{Error, Result};

/// Docker's default tag: the short container id.
const DEFAULT_TAG: &str = "{{.ID}}";

/// The tag `template` for `rec`: `{{.ID}}` (12 characters), `{{.FullID}}`, `{{.Name}}`,
/// `{{.ImageName}}`, `{{.ImageID}}` (12 characters) and `{{.DaemonName}}`; other text as is.
fn expand_tag(template: &str, rec: &ContainerRecord) -> Result<String> {
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let image_id = rec.image.strip_prefix("sha256:").unwrap_or(&rec.image);
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("}}").ok_or_else(|| Error::invalid(format!("log tag {template:?}: unclosed {{{{")))?;
        let field = rest[i + 2..i + end].trim();
        out.push_str(&match field {
            ".ID" => short(&rec.id),
            ".FullID" => rec.id.clone(),
            ".Name" => rec.name.clone(),
            ".ImageName" => rec.config.image.clone(),
            ".ImageID" => short(image_id),
            ".DaemonName" => "isulad".to_string(),
            _ => return Err(Error::invalid(format!("log tag {template:?}: unknown field {field:?}"))),
        });
        rest = &rest[i + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The syslog settings of `rec` from its driver options (already validated at create).
pub(super) fn config(rec: &ContainerRecord, opts: &BTreeMap<String, String>) -> Result<SyslogConfig> {
    let get = |k: &str| opts.get(k).map(String::as_str).unwrap_or_default();
    let tag = opts.get("tag").or_else(|| opts.get("syslog-tag")).map(String::as_str).unwrap_or(DEFAULT_TAG);
    let fac = get("syslog-facility");
    Ok(SyslogConfig {
        address: get("syslog-address").to_string(),
        facility: if fac.is_empty() {
            3
        } else {
            facility(fac).ok_or_else(|| Error::invalid(format!("syslog-facility {fac:?}")))?
        },
        tag: expand_tag(tag, rec)?,
        format: SyslogFormat::parse(get("syslog-format"))
            .ok_or_else(|| Error::invalid(format!("syslog-format {:?}", get("syslog-format"))))?,
        hostname: nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_fields_expand() {
        let mut rec = ContainerRecord::for_test("0123456789abcdef0123", "web");
        rec.image = "sha256:feedbeefcafe0000".into();
        rec.config.image = "busybox:latest".into();
        assert_eq!(expand_tag("{{.ID}}", &rec).unwrap(), "0123456789ab");
        assert_eq!(expand_tag("app/{{ .Name }}/{{.ImageName}}", &rec).unwrap(), "app/web/busybox:latest");
        assert_eq!(expand_tag("{{.ImageID}}-{{.DaemonName}}", &rec).unwrap(), "feedbeefcafe-isulad");
        assert!(expand_tag("{{.Nope}}", &rec).is_err());
        assert!(expand_tag("{{.ID", &rec).is_err());
    }
}
