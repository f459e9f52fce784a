//! Instance and host names: what the machine is called on the LAN.

/// A name that cannot be used in DNS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadName {
    /// Instance names are one DNS label: at most 63 bytes.
    #[error("instance name must be 1-63 bytes of text without control characters")]
    Instance,
    /// Host names are one label of letters, digits and hyphens.
    #[error("'{0}' is not a usable .local name: use 1-63 letters, digits or hyphens (e.g. meet)")]
    Host(String),
}

/// Checks a human instance name (`--name`).
pub fn instance_name(name: &str) -> Result<String, BadName> {
    let name = name.trim();
    if name.is_empty() || name.len() > 63 || name.chars().any(char::is_control) {
        return Err(BadName::Instance);
    }
    Ok(name.to_owned())
}

/// Checks a `.local` host label (`--mdns-hostname`), accepting `meet` or `meet.local`.
pub fn host_label(name: &str) -> Result<String, BadName> {
    let label = name.trim().trim_end_matches('.');
    let label = label
        .strip_suffix(".local")
        .unwrap_or(label)
        .to_ascii_lowercase();
    let valid = !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(label)
    } else {
        Err(BadName::Host(name.to_owned()))
    }
}

/// This machine's host name as a DNS label (invalid characters become hyphens).
pub fn machine_hostname() -> String {
    let raw = gethostname::gethostname().to_string_lossy().into_owned();
    let first = raw.split('.').next().unwrap_or_default();
    let label: String = first
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let label = label.trim_matches('-');
    if label.is_empty() {
        "free-meetings".to_owned()
    } else {
        label.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_labels_accept_plain_and_local_forms() {
        assert_eq!(host_label("meet").unwrap(), "meet");
        assert_eq!(host_label("Meet.local.").unwrap(), "meet");
        assert!(host_label("meet room").is_err());
        assert!(host_label("-meet").is_err());
        assert!(host_label("").is_err());
    }

    #[test]
    fn instance_names_are_one_label() {
        assert_eq!(instance_name(" Office ").unwrap(), "Office");
        assert!(instance_name(&"x".repeat(64)).is_err());
        assert!(instance_name("a\nb").is_err());
    }

    #[test]
    fn machine_hostname_is_a_label() {
        let name = machine_hostname();
        assert!(host_label(&name).is_ok(), "{name}");
    }
}
