//! The routing table (the serving config): which versions answer, with what share of traffic, which
//! version is mirrored (shadow), which requests a header or cookie sends to a given version, and
//! the key that keeps a caller on one version. It lives in the registry; the server swaps it whole.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Traffic is split in this many buckets: weights are honoured to 0.01 %.
pub const BUCKETS: u64 = 10_000;

/// How traffic reaches the versions of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingTable {
    /// The version that answers when nothing else applies: the kill switch's target and the
    /// version a rollback returns all traffic to.
    pub stable: u64,
    /// Versions and their share of traffic (relative weights, such as 95 and 5). Empty: every
    /// request goes to `stable`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<Weight>,
    /// A version that receives a copy of a share of the requests (shadow); its answers are
    /// compared with the answering version's and never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Mirror>,
    /// Requests matching a rule go to its version, whatever the weights say (A/B arms, blue-green
    /// preview). The first matching rule wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// The request key that keeps a caller on one version across requests (sticky assignment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Key>,
    /// The kill switch: every request goes to `stable`, no rule, weight or mirror applies.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kill_switch: bool,
    /// Counts the tables of this model; each change adds one.
    #[serde(default)]
    pub generation: u64,
    /// Why the table is what it is, such as `canary step 2: 10 %`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// When it was set (RFC 3339).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated_at: String,
}

/// One version's share of traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Weight {
    pub version: u64,
    /// Relative weight, 0 or more.
    pub weight: f64,
}

/// The shadow: a copy of `percent` % of the requests goes to `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    pub version: u64,
    /// Share of requests copied, 0 to 100.
    pub percent: f64,
    /// Regression: predictions further apart than this disagree. Classification compares labels.
    #[serde(default)]
    pub tolerance: f64,
}

/// A header or a cookie, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Key {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
}

/// Requests whose header or cookie equals `equals` go to `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(flatten)]
    pub key: Key,
    pub equals: String,
    pub version: u64,
}

/// What a version does for a request: it answers as the stable or the canary version, or it
/// answers a copy as the shadow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Stable,
    Canary,
    Shadow,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Stable => "stable",
            Role::Canary => "canary",
            Role::Shadow => "shadow",
        }
    }
}

/// Where one request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub version: u64,
    pub role: Role,
    /// The version that also gets a copy, if any.
    pub mirror: Option<u64>,
}

/// What the router may read of a request.
pub trait RequestKeys {
    fn header(&self, name: &str) -> Option<&str>;
    fn cookie(&self, name: &str) -> Option<&str>;
}

impl Key {
    fn read<'a>(&self, request: &'a dyn RequestKeys) -> Option<&'a str> {
        match (&self.header, &self.cookie) {
            (Some(h), _) => request.header(h),
            (None, Some(c)) => request.cookie(c),
            (None, None) => None,
        }
    }

    fn describe(&self) -> String {
        match (&self.header, &self.cookie) {
            (Some(h), _) => format!("header '{h}'"),
            (None, Some(c)) => format!("cookie '{c}'"),
            _ => "nothing".into(),
        }
    }
}

impl RoutingTable {
    /// Every request to `version`.
    pub fn single(version: u64, reason: &str) -> Self {
        RoutingTable {
            stable: version,
            weights: Vec::new(),
            mirror: None,
            rules: Vec::new(),
            sticky: None,
            kill_switch: false,
            generation: 0,
            reason: reason.to_string(),
            updated_at: String::new(),
        }
    }

    /// `percent` % to `canary`, the rest to `stable`.
    pub fn split(stable: u64, canary: u64, percent: f64, reason: &str) -> Self {
        let mut table = Self::single(stable, reason);
        if canary != stable && percent > 0.0 {
            table.weights =
                vec![Weight { version: stable, weight: 100.0 - percent }, Weight { version: canary, weight: percent }];
        }
        table
    }

    /// Every version a request can reach: the one that must be loaded before the table applies.
    pub fn versions(&self) -> Vec<u64> {
        let mut all = vec![self.stable];
        all.extend(self.weights.iter().filter(|w| w.weight > 0.0).map(|w| w.version));
        all.extend(self.mirror.iter().filter(|m| m.percent > 0.0).map(|m| m.version));
        all.extend(self.rules.iter().map(|r| r.version));
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The share of traffic (0-100) that `version` answers by weight, leaving rules aside.
    pub fn percent_of(&self, version: u64) -> f64 {
        if self.kill_switch || self.weights.is_empty() {
            return if version == self.stable { 100.0 } else { 0.0 };
        }
        let total: f64 = self.weights.iter().map(|w| w.weight).sum();
        self.weights.iter().filter(|w| w.version == version).map(|w| w.weight).sum::<f64>() / total * 100.0
    }

    /// Everything wrong with the table, in one list.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut total = 0.0;
        for w in &self.weights {
            if !w.weight.is_finite() || w.weight < 0.0 {
                problems.push(format!("the weight of version {} must be a number of 0 or more", w.version));
            } else {
                total += w.weight;
            }
        }
        if !self.weights.is_empty() && total <= 0.0 {
            problems.push("the weights add up to 0: no version would answer".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for w in &self.weights {
            if !seen.insert(w.version) {
                problems.push(format!("version {} has two weights", w.version));
            }
        }
        if let Some(m) = &self.mirror {
            if !(0.0..=100.0).contains(&m.percent) {
                problems.push(format!("mirror.percent must be between 0 and 100, not {}", m.percent));
            }
            if !m.tolerance.is_finite() || m.tolerance < 0.0 {
                problems.push("mirror.tolerance must be 0 or more".into());
            }
            if m.version == self.stable {
                problems.push(format!("the mirror (version {}) is the stable version: nothing to compare", m.version));
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.key.header.is_some() == r.key.cookie.is_some() {
                problems.push(format!("rules[{i}] must name exactly one of header or cookie"));
            }
        }
        if let Some(k) = &self.sticky {
            if k.header.is_some() == k.cookie.is_some() {
                problems.push("sticky must name exactly one of header or cookie".into());
            }
        }
        problems
    }

    /// Where a request goes. `random` is a fresh random number, used when the request carries no
    /// sticky key; the same key always lands in the same bucket of the same table.
    pub fn choose(&self, request: &dyn RequestKeys, random: u64) -> Choice {
        let stable = |version| if version == self.stable { Role::Stable } else { Role::Canary };
        if self.kill_switch {
            return Choice { version: self.stable, role: Role::Stable, mirror: None };
        }
        let key = self.sticky.as_ref().and_then(|k| k.read(request));
        let draw = key.map_or(random, |k| hash(k.as_bytes()));
        let mirror = self.mirror.as_ref().and_then(|m| {
            // A second, independent draw: the mirror's share does not depend on the weights'.
            let bucket = mix(draw ^ 0x9e37_79b9_7f4a_7c15) % BUCKETS;
            ((bucket as f64) < m.percent / 100.0 * BUCKETS as f64).then_some(m.version)
        });
        for rule in &self.rules {
            if rule.key.read(request) == Some(rule.equals.as_str()) {
                let mirror = mirror.filter(|m| *m != rule.version);
                return Choice { version: rule.version, role: stable(rule.version), mirror };
            }
        }
        let version = self.pick(draw % BUCKETS);
        Choice { version, role: stable(version), mirror: mirror.filter(|m| *m != version) }
    }

    fn pick(&self, bucket: u64) -> u64 {
        let total: f64 = self.weights.iter().map(|w| w.weight).sum();
        if self.weights.is_empty() || total <= 0.0 {
            return self.stable;
        }
        let point = (bucket as f64 + 0.5) / BUCKETS as f64 * total;
        let mut upto = 0.0;
        for w in &self.weights {
            upto += w.weight;
            if point < upto && w.weight > 0.0 {
                return w.version;
            }
        }
        self.weights.iter().rev().find(|w| w.weight > 0.0).map_or(self.stable, |w| w.version)
    }

    /// One line for logs and the report: `v3 90 % · v4 10 % · mirror v5 20 %`.
    pub fn summary(&self) -> String {
        if self.kill_switch {
            return format!("kill switch on: v{} 100 %", self.stable);
        }
        let mut parts: Vec<String> = if self.weights.is_empty() {
            vec![format!("v{} 100 %", self.stable)]
        } else {
            self.weights
                .iter()
                .filter(|w| w.weight > 0.0)
                .map(|w| format!("v{} {} %", w.version, round2(self.percent_of(w.version))))
                .collect()
        };
        if let Some(m) = self.mirror.as_ref().filter(|m| m.percent > 0.0) {
            parts.push(format!("mirror v{} {} %", m.version, round2(m.percent)));
        }
        for r in &self.rules {
            parts.push(format!("{} = '{}' → v{}", r.key.describe(), r.equals, r.version));
        }
        if let Some(k) = &self.sticky {
            parts.push(format!("sticky by {}", k.describe()));
        }
        parts.join(" · ")
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// splitmix64's finaliser: spreads any 64-bit value over all 64 bits.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a, then mixed: a stable hash of a sticky key (the same in every process and release).
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Fake {
        headers: HashMap<String, String>,
        cookies: HashMap<String, String>,
    }
    impl RequestKeys for Fake {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).map(String::as_str)
        }
        fn cookie(&self, name: &str) -> Option<&str> {
            self.cookies.get(name).map(String::as_str)
        }
    }

    #[test]
    fn weights_split_traffic_in_proportion() {
        let table = RoutingTable::split(1, 2, 10.0, "canary");
        let n = 100_000u64;
        let canary = (0..n).filter(|i| table.choose(&Fake::default(), mix(*i)).version == 2).count();
        let share = canary as f64 / n as f64;
        assert!((share - 0.10).abs() < 0.005, "{share}");
        assert_eq!(table.percent_of(2), 10.0);
        assert_eq!(table.choose(&Fake::default(), 0).role, Role::Stable);
    }

    #[test]
    fn a_sticky_key_always_lands_on_the_same_version() {
        let mut table = RoutingTable::split(1, 2, 50.0, "ab");
        table.sticky = Some(Key { header: Some("x-user".into()), cookie: None });
        let mut both = std::collections::BTreeSet::new();
        for user in 0..200 {
            let request =
                Fake { headers: HashMap::from([("x-user".into(), format!("user-{user}"))]), ..Default::default() };
            let first = table.choose(&request, 1).version;
            for random in 2..20 {
                assert_eq!(table.choose(&request, mix(random)).version, first);
            }
            both.insert(first);
        }
        assert_eq!(both.len(), 2, "both arms get users");
    }

    #[test]
    fn rules_then_kill_switch() {
        let mut table = RoutingTable::split(1, 2, 0.0, "preview");
        table.rules =
            vec![Rule { key: Key { header: None, cookie: Some("arm".into()) }, equals: "b".into(), version: 3 }];
        let b = Fake { cookies: HashMap::from([("arm".into(), "b".into())]), ..Default::default() };
        assert_eq!(table.choose(&b, 7), Choice { version: 3, role: Role::Canary, mirror: None });
        assert_eq!(table.choose(&Fake::default(), 7).version, 1);
        table.kill_switch = true;
        assert_eq!(table.choose(&b, 7), Choice { version: 1, role: Role::Stable, mirror: None });
        assert_eq!(table.summary(), "kill switch on: v1 100 %");
    }

    #[test]
    fn the_mirror_copies_its_share() {
        let mut table = RoutingTable::single(1, "shadow");
        table.mirror = Some(Mirror { version: 2, percent: 25.0, tolerance: 0.0 });
        let n = 40_000u64;
        let copied = (0..n).filter(|i| table.choose(&Fake::default(), mix(*i)).mirror == Some(2)).count();
        assert!((copied as f64 / n as f64 - 0.25).abs() < 0.01);
        assert_eq!(table.versions(), vec![1, 2]);
        assert_eq!(table.summary(), "v1 100 % · mirror v2 25 %");
    }

    #[test]
    fn bad_tables_say_everything_at_once() {
        let mut table = RoutingTable::split(1, 2, 10.0, "");
        table.weights[0].weight = -1.0;
        table.weights.push(Weight { version: 2, weight: 1.0 });
        table.mirror = Some(Mirror { version: 1, percent: 120.0, tolerance: 0.0 });
        table.rules = vec![Rule { key: Key { header: None, cookie: None }, equals: "x".into(), version: 2 }];
        assert_eq!(
            table.problems(),
            vec![
                "the weight of version 1 must be a number of 0 or more",
                "version 2 has two weights",
                "mirror.percent must be between 0 and 100, not 120",
                "the mirror (version 1) is the stable version: nothing to compare",
                "rules[0] must name exactly one of header or cookie",
            ]
        );
    }
}
