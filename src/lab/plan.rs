//! The pure part of a lab: host names, groups, namespaces, interface names and
//! the address plan. Nothing here touches the system.
//!
//! Lab number `n` (0–255, "net") uses only addresses from 198.18.0.0/15:
//! - the machine ↔ gateway link 198.18.n.0/30: the machine has 198.18.n.1,
//!   the gateway 198.18.n.2;
//! - the private lab network 198.19.n.0/24 on a bridge in its own "switch"
//!   namespace: the gateway has 198.19.n.1, targets 198.19.n.10 and up.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Target groups when `--groups` is not given.
pub const DEFAULT_GROUPS: &str = "web,app,db,cache";
/// The gateway's host name (and its inventory group).
pub const GATEWAY: &str = "gateway";
/// The inventory group of the gateway (not "gateway": Ansible warns when a
/// group and a host share a name).
pub const GATEWAY_GROUP: &str = "gateways";
/// First host octet of the targets on the lab network.
pub const FIRST_TARGET_OCTET: u8 = 10;
/// Most targets one lab network holds (198.19.n.10 – 198.19.n.254).
pub const MAX_TARGETS: usize = 254 - FIRST_TARGET_OCTET as usize + 1;
/// The bridge in the switch namespace.
pub const BRIDGE: &str = "br0";
/// Group names that would clash with the inventory we write.
const RESERVED_GROUPS: &[&str] = &[
    GATEWAY,
    GATEWAY_GROUP,
    "all",
    "ungrouped",
    "targets",
    "switch",
];

/// The addresses and names of lab number `net`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net(pub u8);

impl Net {
    /// The machine's end of the gateway link.
    pub fn machine_addr(self) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.0, 1)
    }
    /// The gateway's end of the link to the machine (its `ansible_host`).
    pub fn gateway_uplink_addr(self) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.0, 2)
    }
    /// Prefix length of the machine ↔ gateway link.
    pub const UPLINK_PREFIX: u8 = 30;
    /// Prefix length of the lab network.
    pub const LAN_PREFIX: u8 = 24;
    /// The machine ↔ gateway link, as a network.
    pub fn uplink_net(self) -> String {
        format!("198.18.{}.0/{}", self.0, Self::UPLINK_PREFIX)
    }
    /// The lab network.
    pub fn lan_net(self) -> String {
        format!("198.19.{}.0/{}", self.0, Self::LAN_PREFIX)
    }
    /// The gateway's address on the lab network.
    pub fn gateway_lan_addr(self) -> Ipv4Addr {
        Ipv4Addr::new(198, 19, self.0, 1)
    }
    /// Target number `k` (0-based)'s address on the lab network.
    pub fn target_addr(self, k: usize) -> Ipv4Addr {
        assert!(k < MAX_TARGETS, "target index out of range");
        Ipv4Addr::new(198, 19, self.0, FIRST_TARGET_OCTET + k as u8)
    }
    /// Network namespace of a host.
    pub fn netns(self, host: &str) -> String {
        format!("hoist-{}-{host}", self.0)
    }
    /// Network namespace of the switch (the lab network's bridge).
    pub fn switch_netns(self) -> String {
        format!("hoist-{}-switch", self.0)
    }
    /// The machine's end of the gateway link (a veth, at most 7 characters).
    pub fn machine_if(self) -> String {
        format!("hl{}gw", self.0)
    }
    /// Prefixes that show this lab number is in use on the machine.
    pub fn address_markers(self) -> [String; 2] {
        [format!("198.18.{}.", self.0), format!("198.19.{}.", self.0)]
    }
}

/// One end of a veth pair as the lab wires it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Veth {
    /// The outer end: on the machine (`outer_netns` null) or a switch port.
    pub outer: String,
    /// Namespace of the outer end; None = the machine.
    pub outer_netns: Option<String>,
    /// The end inside the host.
    pub inner: String,
    /// The inner end's address with prefix, e.g. "198.19.0.10/24".
    pub address: String,
}

/// The interface `cut`/`heal` take down/up: for a target its switch port
/// (its routes stay), for the gateway its end of the link to the machine (so
/// the machine keeps its route, which then leads nowhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkEnd {
    pub netns: Option<String>,
    pub ifname: String,
}

/// One planned host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPlan {
    pub name: String,
    /// Inventory group: "gateway" or the target's group.
    pub group: String,
    /// The address the lab's clients use (`ansible_host`): the gateway's
    /// uplink address, or the target's lab network address.
    pub address: Ipv4Addr,
    /// The address on the lab network.
    pub lan_address: Ipv4Addr,
    pub netns: String,
    pub veths: Vec<Veth>,
    pub link: LinkEnd,
    /// Default route inside the host.
    pub default_via: Ipv4Addr,
}

/// Parses and checks `--groups` (comma-separated names).
pub fn parse_groups(text: &str) -> Result<Vec<String>, String> {
    let mut groups: Vec<String> = Vec::new();
    for raw in text.split(',') {
        let g = raw.trim();
        if g.is_empty() {
            continue;
        }
        let ok_chars = g.starts_with(|c: char| c.is_ascii_lowercase())
            && g.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !ok_chars || g.ends_with(|c: char| c.is_ascii_digit()) {
            return Err(format!(
                "bad group name '{g}': use lowercase letters and digits, starting with a \
                 letter and not ending with a digit (hosts are named <group><n>)"
            ));
        }
        if g.len() > 20 {
            return Err(format!(
                "group name '{g}' is too long (at most 20 characters)"
            ));
        }
        if RESERVED_GROUPS.contains(&g) {
            return Err(format!("'{g}' cannot be a target group name (reserved)"));
        }
        if groups.iter().any(|x| x == g) {
            return Err(format!("group '{g}' is listed twice"));
        }
        groups.push(g.to_string());
    }
    if groups.is_empty() {
        return Err("--groups needs at least one group name".to_string());
    }
    Ok(groups)
}

/// Splits `n` targets round-robin into `groups`: (group, host name) in target
/// order, e.g. web1, app1, db1, cache1, web2, ...
pub fn split_groups(n: usize, groups: &[String]) -> Vec<(String, String)> {
    (0..n)
        .map(|k| {
            let g = &groups[k % groups.len()];
            (g.clone(), format!("{g}{}", k / groups.len() + 1))
        })
        .collect()
}

/// Plans the gateway (first) and `n` targets of lab `net`.
pub fn plan(net: Net, n: usize, groups: &[String]) -> Result<Vec<HostPlan>, String> {
    if n > MAX_TARGETS {
        return Err(format!(
            "a lab holds at most {MAX_TARGETS} targets (asked for {n})"
        ));
    }
    if groups.is_empty() {
        return Err("no target groups".to_string());
    }
    let sw = net.switch_netns();
    let mut hosts = vec![HostPlan {
        name: GATEWAY.to_string(),
        group: GATEWAY_GROUP.to_string(),
        address: net.gateway_uplink_addr(),
        lan_address: net.gateway_lan_addr(),
        netns: net.netns(GATEWAY),
        veths: vec![
            Veth {
                outer: net.machine_if(),
                outer_netns: None,
                inner: "eth0".to_string(),
                address: format!("{}/{}", net.gateway_uplink_addr(), Net::UPLINK_PREFIX),
            },
            Veth {
                outer: "sw0".to_string(),
                outer_netns: Some(sw.clone()),
                inner: "eth1".to_string(),
                address: format!("{}/{}", net.gateway_lan_addr(), Net::LAN_PREFIX),
            },
        ],
        link: LinkEnd {
            netns: Some(net.netns(GATEWAY)),
            ifname: "eth0".to_string(),
        },
        default_via: net.machine_addr(),
    }];
    for (k, (group, name)) in split_groups(n, groups).into_iter().enumerate() {
        let addr = net.target_addr(k);
        hosts.push(HostPlan {
            netns: net.netns(&name),
            veths: vec![Veth {
                outer: format!("sw{}", k + 1),
                outer_netns: Some(sw.clone()),
                inner: "eth0".to_string(),
                address: format!("{addr}/{}", Net::LAN_PREFIX),
            }],
            link: LinkEnd {
                netns: Some(sw.clone()),
                ifname: format!("sw{}", k + 1),
            },
            name,
            group,
            address: addr,
            lan_address: addr,
            default_via: net.gateway_lan_addr(),
        });
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_groups() -> Vec<String> {
        parse_groups(DEFAULT_GROUPS).unwrap()
    }

    #[test]
    fn addresses_of_lab_zero_and_others() {
        let n = Net(0);
        assert_eq!(n.machine_addr().to_string(), "198.18.0.1");
        assert_eq!(n.gateway_uplink_addr().to_string(), "198.18.0.2");
        assert_eq!(n.gateway_lan_addr().to_string(), "198.19.0.1");
        assert_eq!(n.target_addr(0).to_string(), "198.19.0.10");
        assert_eq!(n.target_addr(MAX_TARGETS - 1).to_string(), "198.19.0.254");
        assert_eq!(n.uplink_net(), "198.18.0.0/30");
        assert_eq!(n.lan_net(), "198.19.0.0/24");
        let n = Net(7);
        assert_eq!(n.machine_addr().to_string(), "198.18.7.1");
        assert_eq!(n.target_addr(3).to_string(), "198.19.7.13");
        assert_eq!(n.netns("web1"), "hoist-7-web1");
        assert_eq!(n.switch_netns(), "hoist-7-switch");
        assert_eq!(n.machine_if(), "hl7gw");
        assert!(Net(255).machine_if().len() <= 15);
    }

    #[test]
    fn groups_split_round_robin() {
        let got = split_groups(6, &default_groups());
        let names: Vec<&str> = got.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["web1", "app1", "db1", "cache1", "web2", "app2"]);
        assert_eq!(got[4].0, "web");
        let two = vec!["a".to_string(), "b".to_string()];
        let names: Vec<String> = split_groups(5, &two).into_iter().map(|x| x.1).collect();
        assert_eq!(names, ["a1", "b1", "a2", "b2", "a3"]);
        assert!(split_groups(0, &two).is_empty());
    }

    #[test]
    fn group_names_are_checked() {
        assert_eq!(parse_groups("web, app,,db").unwrap(), ["web", "app", "db"]);
        assert!(parse_groups("").is_err());
        assert!(parse_groups("Web").is_err());
        assert!(parse_groups("db2").is_err());
        assert!(parse_groups("my-app").is_err());
        assert!(parse_groups("gateway").is_err());
        assert!(parse_groups("all").is_err());
        assert!(parse_groups("web,web").is_err());
        assert!(parse_groups("a2b").is_ok());
    }

    #[test]
    fn plan_wires_gateway_and_targets() {
        let hosts = plan(Net(0), 4, &default_groups()).unwrap();
        assert_eq!(hosts.len(), 5);
        let gw = &hosts[0];
        assert_eq!(gw.name, "gateway");
        assert_eq!(gw.address.to_string(), "198.18.0.2");
        assert_eq!(gw.netns, "hoist-0-gateway");
        assert_eq!(gw.veths[0].outer, "hl0gw");
        assert_eq!(gw.veths[0].outer_netns, None);
        assert_eq!(gw.veths[0].address, "198.18.0.2/30");
        assert_eq!(gw.veths[1].address, "198.19.0.1/24");
        assert_eq!(gw.default_via.to_string(), "198.18.0.1");
        assert_eq!(gw.link.netns.as_deref(), Some("hoist-0-gateway"));
        assert_eq!(gw.link.ifname, "eth0");
        let web1 = &hosts[1];
        assert_eq!((web1.name.as_str(), web1.group.as_str()), ("web1", "web"));
        assert_eq!(web1.address.to_string(), "198.19.0.10");
        assert_eq!(web1.veths[0].outer, "sw1");
        assert_eq!(web1.veths[0].outer_netns.as_deref(), Some("hoist-0-switch"));
        assert_eq!(web1.default_via.to_string(), "198.19.0.1");
        assert_eq!(web1.link.netns.as_deref(), Some("hoist-0-switch"));
        assert_eq!(web1.link.ifname, "sw1");
        assert_eq!(hosts[4].name, "cache1");
        assert_eq!(hosts[4].address.to_string(), "198.19.0.13");
        for h in &hosts {
            for v in &h.veths {
                assert!(v.outer.len() <= 15 && v.inner.len() <= 15);
            }
        }
        assert!(plan(Net(0), MAX_TARGETS + 1, &default_groups()).is_err());
        assert_eq!(
            plan(Net(0), MAX_TARGETS, &default_groups()).unwrap().len(),
            246
        );
    }
}
