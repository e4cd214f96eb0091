//! How a problem domain's slug reads to people (`email_m365` → "Email M365").

/// Acronyms that read as capitals.
const ACRONYMS: [&str; 11] = [
    "dns", "dhcp", "vpn", "mfa", "m365", "ad", "it", "os", "wsus", "gpo", "ntp",
];

pub fn domain_label(domain: &str) -> String {
    domain
        .split(['_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            if ACRONYMS.contains(&w) {
                w.to_uppercase()
            } else {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                    None => String::new(),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::domain_label;

    #[test]
    fn domain_labels_read_well() {
        assert_eq!(domain_label("dns_dhcp"), "DNS DHCP");
        assert_eq!(domain_label("email_m365"), "Email M365");
        assert_eq!(domain_label("printing"), "Printing");
        assert_eq!(domain_label("active_directory"), "Active Directory");
    }
}
