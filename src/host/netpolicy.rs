//! Which addresses a guest may reach: the `--net-allow` rules.
//!
//! A rule is `ADDR/PREFIX[:PORTS]` (CIDR notation, IPv6 addresses in brackets when a port range
//! follows), `PORTS` one port or `LOW-HIGH` (inclusive):
//!
//! | rule | allows |
//! | --- | --- |
//! | `127.0.0.1/32` | 127.0.0.1, any port |
//! | `10.0.0.0/8:8000-8999` | 10.x.y.z, ports 8000 to 8999 |
//! | `[::1]/128:80` | ::1, port 80 |
//! | `0.0.0.0/0:443` | every IPv4 address, port 443 |
//! | `127.0.0.1` / `::1` | a bare address is a host rule (/32, /128) |
//!
//! A [`NetPolicy`] allows a socket address if any of its rules does. It is consulted for
//! `sock_bind`, `sock_connect` and the destination of `sock_send_to` (see
//! `crate::host::socket::check_addr`); what the host refuses the guest sees as `ENOTCAPABLE`.
//!
//! Edge cases, decided here:
//! - Port 0 means "any port" (a bind to port 0 lets the host pick one), so it is allowed only
//!   by a rule with no port range (or the full `0-65535`); a range that starts at 0 but is not
//!   full is rejected when parsed, since it could not mean what it says.
//! - An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) reaches the IPv4 host `a.b.c.d`, so it is
//!   matched as that IPv4 address, by IPv4 rules only: `[::]/0` does not open IPv4.
//! - Binding the unspecified address (`0.0.0.0`, `::`) needs a rule that contains it, such as
//!   `0.0.0.0/0` or `0.0.0.0/32`: it listens on every interface.
//! - A prefix with host bits set (`10.0.0.1/8`) is rejected as a likely typo.

use ipnet::IpNet;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::str::FromStr;

/// Every port: what a rule without a port range allows.
const ALL_PORTS: RangeInclusive<u16> = 0..=u16::MAX;

/// One `--net-allow` rule: a network and an inclusive port range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetRule {
    pub net: IpNet,
    pub ports: RangeInclusive<u16>,
}

/// Why a rule did not parse; its Display is the one-line message for the command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid network rule `{rule}`: {reason} (expected ADDR/PREFIX[:PORT[-PORT]], e.g. 10.0.0.0/8:8000-8999 or [::1]/128:80)")]
pub struct RuleError {
    rule: String,
    reason: String,
}

impl NetRule {
    /// Whether this rule allows `addr` (see the module docs for port 0 and mapped addresses).
    pub fn allows(&self, addr: SocketAddr) -> bool {
        let ip = canonical(addr.ip());
        let port_ok = if addr.port() == 0 {
            self.ports == ALL_PORTS
        } else {
            self.ports.contains(&addr.port())
        };
        port_ok && self.net.contains(&ip)
    }
}

/// The address the host will actually reach: an IPv4-mapped IPv6 address is its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for NetRule {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<NetRule, RuleError> {
        let fail = |reason: &str| RuleError {
            rule: s.to_string(),
            reason: reason.to_string(),
        };
        // Split the network from the port range: `[v6]/p:ports`, `v4/p:ports`, or a bare
        // (unbracketed) IPv6 network, which cannot carry a port range.
        let (net, ports) = if let Some(rest) = s.strip_prefix('[') {
            let (addr, after) = rest.split_once(']').ok_or_else(|| fail("missing `]`"))?;
            let (prefix, ports) = match after.split_once(':') {
                Some((prefix, ports)) => (prefix, Some(ports)),
                None => (after, None),
            };
            (format!("{addr}{prefix}"), ports)
        } else if s.matches(':').count() > 1 {
            (s.to_string(), None)
        } else {
            match s.split_once(':') {
                Some((net, ports)) => (net.to_string(), Some(ports)),
                None => (s.to_string(), None),
            }
        };
        let net = parse_net(&net).map_err(|reason| fail(&reason))?;
        let ports = match ports {
            None => ALL_PORTS,
            Some(p) => parse_ports(p).map_err(|reason| fail(&reason))?,
        };
        Ok(NetRule { net, ports })
    }
}

/// `ADDR/PREFIX` or a bare address (a host network).
fn parse_net(s: &str) -> Result<IpNet, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet = s
        .parse()
        .map_err(|_| format!("`{s}` is not an IP address or ADDR/PREFIX"))?;
    if net.trunc() != net {
        return Err(format!(
            "`{s}` has bits set past the prefix; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// `PORT` or `LOW-HIGH`, inclusive.
fn parse_ports(s: &str) -> Result<RangeInclusive<u16>, String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("`{p}` is not a port (0-65535)"))
    };
    let (lo, hi) = match s.split_once('-') {
        Some((lo, hi)) => (port(lo)?, port(hi)?),
        None => {
            let p = port(s)?;
            (p, p)
        }
    };
    if lo > hi {
        return Err(format!("port range {lo}-{hi} is empty"));
    }
    if lo == 0 && hi != u16::MAX {
        return Err(
            "port 0 means any port: leave the port range out (or use 0-65535) to allow it"
                .to_string(),
        );
    }
    Ok(lo..=hi)
}

impl fmt::Display for NetRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.net {
            IpNet::V6(n) if self.ports != ALL_PORTS => {
                write!(f, "[{}]/{}", n.addr(), n.prefix_len())?
            }
            n => write!(f, "{n}")?,
        }
        if self.ports != ALL_PORTS {
            write!(f, ":{}", self.ports.start())?;
            if self.ports.start() != self.ports.end() {
                write!(f, "-{}", self.ports.end())?;
            }
        }
        Ok(())
    }
}

/// The addresses a guest may bind, connect and send datagrams to: any that one of the rules
/// allows. An empty policy allows nothing (plain `--net`, which allows everything, is no
/// policy at all: `None` in [`crate::host::ctx::Process::net_policy`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetPolicy {
    pub rules: Vec<NetRule>,
}

impl NetPolicy {
    pub fn new(rules: impl IntoIterator<Item = NetRule>) -> NetPolicy {
        NetPolicy {
            rules: rules.into_iter().collect(),
        }
    }

    /// Whether any rule allows `addr`.
    pub fn allows(&self, addr: SocketAddr) -> bool {
        self.rules.iter().any(|r| r.allows(addr))
    }
}

/// What a refused address was refused for, as the note on stderr names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetOp {
    Bind,
    Connect,
    SendTo,
}

impl fmt::Display for NetOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetOp::Bind => "bind to",
            NetOp::Connect => "connect to",
            NetOp::SendTo => "send to",
        })
    }
}

/// Most distinct refused addresses reported per program: enough to see what a program wanted,
/// never a flood from one that scans.
pub const MAX_REPORTED: usize = 64;

/// Called with each newly refused (operation, address), see [`Denials`].
pub type DenialHook = Box<dyn Fn(NetOp, SocketAddr) + Send + Sync>;

/// The addresses a program was refused, each reported once to a hook (the CLI prints a note on
/// stderr at the time of the refusal).
#[derive(Default)]
pub struct Denials {
    seen: Mutex<HashSet<(NetOp, SocketAddr)>>,
    hook: Option<DenialHook>,
}

impl Denials {
    pub fn new(hook: Option<DenialHook>) -> Denials {
        Denials {
            seen: Mutex::default(),
            hook,
        }
    }

    /// Records a refusal; calls the hook if this (operation, address) is new and fewer than
    /// [`MAX_REPORTED`] were reported. Returns whether it was reported.
    pub fn record(&self, op: NetOp, addr: SocketAddr) -> bool {
        let new = {
            let mut seen = self.seen.lock();
            seen.len() < MAX_REPORTED && seen.insert((op, addr))
        };
        if let (true, Some(hook)) = (new, &self.hook) {
            hook(op, addr);
        }
        new
    }
}

impl fmt::Debug for Denials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Denials")
            .field("seen", &self.seen.lock().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> NetRule {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }
    fn err(s: &str) -> String {
        s.parse::<NetRule>().unwrap_err().to_string()
    }

    #[test]
    fn parses_the_documented_forms() {
        let r = rule("127.0.0.1/32");
        assert_eq!(r.net, "127.0.0.1/32".parse::<IpNet>().unwrap());
        assert_eq!(r.ports, ALL_PORTS);
        assert_eq!(rule("10.0.0.0/8:8000-8999").ports, 8000..=8999);
        let r = rule("[::1]/128:80");
        assert_eq!(r.net, "::1/128".parse::<IpNet>().unwrap());
        assert_eq!(r.ports, 80..=80);
        assert_eq!(rule("0.0.0.0/0:443").ports, 443..=443);
        assert_eq!(
            rule("127.0.0.1").net,
            "127.0.0.1/32".parse::<IpNet>().unwrap()
        );
        assert_eq!(rule("::1").net, "::1/128".parse::<IpNet>().unwrap());
        assert_eq!(rule("fd00::/8").net, "fd00::/8".parse::<IpNet>().unwrap());
        assert_eq!(rule("[fd00::]/8").ports, ALL_PORTS);
        assert_eq!(rule("[::1]:22").net, "::1/128".parse::<IpNet>().unwrap());
        assert_eq!(rule("1.2.3.4/32:0-65535").ports, ALL_PORTS);
        assert_eq!(rule("1.2.3.4/32:65535").ports, 65535..=65535);
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "127.0.0.1/32",
            "10.0.0.0/8:8000-8999",
            "[::1]/128:80",
            "0.0.0.0/0:443",
            "::/0",
        ] {
            assert_eq!(rule(s).to_string(), s);
            assert_eq!(rule(&rule(s).to_string()), rule(s));
        }
    }

    #[test]
    fn rejects_bad_syntax_with_a_reason() {
        assert!(err("10.0.0.0/33").contains("not an IP address"));
        assert!(err("10.0.0.1/8").contains("did you mean 10.0.0.0/8"));
        assert!(err("example.com/32").contains("not an IP address"));
        assert!(err("").contains("not an IP address"));
        assert!(err("10.0.0.0/8:").contains("is not a port"));
        assert!(err("10.0.0.0/8:x").contains("is not a port"));
        assert!(err("10.0.0.0/8:70000").contains("is not a port"));
        assert!(err("10.0.0.0/8:90-80").contains("is empty"));
        assert!(err("10.0.0.0/8:-80").contains("is not a port"));
        assert!(err("10.0.0.0/8:0").contains("port 0 means any port"));
        assert!(err("10.0.0.0/8:0-100").contains("port 0 means any port"));
        assert!(err("[::1/128:80").contains("missing `]`"));
        assert!(err("[::1]/129").contains("not an IP address"));
        assert!(err("[10.0.0.0]/8x").contains("not an IP address"));
        // Every message names the rule and shows the syntax.
        assert!(err("nope").contains("`nope`") && err("nope").contains("ADDR/PREFIX"));
    }

    #[test]
    fn matches_v4_prefixes_and_port_ranges() {
        let r = rule("10.0.0.0/8:8000-8999");
        assert!(r.allows(addr("10.0.0.1:8000")));
        assert!(r.allows(addr("10.255.255.255:8999")));
        assert!(!r.allows(addr("10.0.0.1:7999")));
        assert!(!r.allows(addr("10.0.0.1:9000")));
        assert!(!r.allows(addr("11.0.0.1:8000")));
        assert!(!r.allows(addr("9.255.255.255:8000")));
        let host = rule("127.0.0.1/32");
        assert!(host.allows(addr("127.0.0.1:1")));
        assert!(host.allows(addr("127.0.0.1:65535")));
        assert!(!host.allows(addr("127.0.0.2:80")));
        let all = rule("0.0.0.0/0:443");
        assert!(all.allows(addr("8.8.8.8:443")));
        assert!(all.allows(addr("0.0.0.0:443")));
        assert!(!all.allows(addr("8.8.8.8:80")));
        // A v4 rule never matches a v6 address.
        assert!(!rule("0.0.0.0/0").allows(addr("[::1]:80")));
    }

    #[test]
    fn matches_v6_and_mapped_addresses() {
        let r = rule("[::1]/128:80");
        assert!(r.allows(addr("[::1]:80")));
        assert!(!r.allows(addr("[::1]:81")));
        assert!(!r.allows(addr("[::2]:80")));
        let ula = rule("fd00::/8");
        assert!(ula.allows(addr("[fd12:3456::1]:5")));
        assert!(!ula.allows(addr("[fe80::1]:5")));
        // ::ffff:10.1.2.3 reaches 10.1.2.3: IPv4 rules decide, IPv6 ones do not.
        assert!(rule("10.0.0.0/8").allows(addr("[::ffff:10.1.2.3]:80")));
        assert!(!rule("::/0").allows(addr("[::ffff:10.1.2.3]:80")));
        assert!(rule("::/0").allows(addr("[2001:db8::1]:80")));
    }

    #[test]
    fn port_zero_needs_an_unrestricted_range() {
        assert!(rule("127.0.0.1/32").allows(addr("127.0.0.1:0")));
        assert!(rule("127.0.0.1/32:0-65535").allows(addr("127.0.0.1:0")));
        assert!(!rule("127.0.0.1/32:1-65535").allows(addr("127.0.0.1:0")));
        assert!(!rule("127.0.0.1/32:8080").allows(addr("127.0.0.1:0")));
    }

    #[test]
    fn a_policy_allows_what_any_rule_allows() {
        let p = NetPolicy::new([rule("127.0.0.1/32:80"), rule("[::1]/128")]);
        assert!(p.allows(addr("127.0.0.1:80")));
        assert!(p.allows(addr("[::1]:9")));
        assert!(!p.allows(addr("127.0.0.1:81")));
        assert!(!NetPolicy::default().allows(addr("127.0.0.1:80")));
    }

    #[test]
    fn each_refusal_is_reported_once_and_reports_are_bounded() {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = calls.clone();
        let d = Denials::new(Some(Box::new(move |_, _| {
            c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })));
        assert!(d.record(NetOp::Connect, addr("10.0.0.1:80")));
        assert!(!d.record(NetOp::Connect, addr("10.0.0.1:80")));
        assert!(d.record(NetOp::Bind, addr("10.0.0.1:80")));
        assert!(d.record(NetOp::Connect, addr("10.0.0.1:81")));
        for port in 1000..2000 {
            d.record(NetOp::SendTo, addr(&format!("10.0.0.2:{port}")));
        }
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::Relaxed),
            MAX_REPORTED
        );
    }
}
