//! The capacity model of `docs/capacity.md`: what a load of tags and queries needs, from
//! per-unit costs measured on this project's runs.
//!
//! The figures are inputs, not code: `docs/capacity/inputs.json` holds each role's cost
//! (fixed cores per instance; CPU-µs per tag, per profile read and per aggregates query;
//! memory per instance), the storage figures and the sizing rules, each with the run
//! that produced it. `bench capacity` reads them and writes the generated part of
//! `docs/capacity.md` (the sizing table and, given a measured run, the prediction beside
//! the measurement) and the plot `docs/capacity/cores.png`. When a figure moves (the
//! ClickHouse per-query work in progress, a new benchmark), edit the file and run the
//! command again.
//!
//! The model, per role: `cores = instances × fixed + (tags/s × µs_tag + profiles/s ×
//! µs_profile + aggregates/s × µs_aggregate) / 10⁶`. A role gets the instances its
//! variable cores need at `cores_per_instance` each (at least `min_instances`).
//! ClickHouse is sized in shards of one server per replica; each replica beyond the
//! first repeats the share of the per-tag work that every replica does itself (merges:
//! ClickHouse replicates inserted parts and runs the same merges on every replica), and
//! reads spread over the replicas. Disk: the broker keeps `log_days` of tags times its
//! replication factor; ClickHouse keeps the profiles of `profile_days` (an upper bound:
//! the trimmer keeps at most 200 tags per cookie and action) and `aggregate_hours` of
//! aggregates, on every replica. Memory: instances × RSS per instance.

use serde::{Deserialize, Serialize};

/// Why the model could not be computed or written.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    /// The inputs file cannot be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The inputs file is not valid.
    #[error("parsing {path}")]
    Parse {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A role the model needs is missing from the inputs.
    #[error("the inputs name no role {0:?}")]
    MissingRole(&'static str),
}

/// What one instance of a role costs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RoleCost {
    /// `write-api`, `broker`, `projector`, `clickhouse`, `read-api` or `nginx`.
    pub role: String,
    /// Cores one idle instance uses.
    pub fixed_cores: f64,
    /// CPU-µs per tag ingested (its whole way through the role).
    pub cpu_us_per_tag: f64,
    /// CPU-µs per profile read.
    pub cpu_us_per_profile: f64,
    /// CPU-µs per aggregates query.
    pub cpu_us_per_aggregate: f64,
    /// Resident memory of one instance under load, MiB.
    pub rss_mib: f64,
    /// The most cores one instance is sized for.
    pub cores_per_instance: f64,
    /// Instances even when the load needs fewer (availability).
    pub min_instances: u32,
    /// The runs the figures come from, and what is assumed.
    pub source: String,
}

/// Storage figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Storage {
    /// Bytes a tag takes in the broker's log (one copy).
    pub broker_bytes_per_tag: f64,
    /// Copies of the log (Kafka's replication factor).
    pub broker_replication: u32,
    /// Days the log keeps.
    pub log_days: f64,
    /// Bytes a tag takes in ClickHouse's profile store (compressed).
    pub profile_bytes_per_tag: f64,
    /// Days of tags the profile store holds at most.
    pub profile_days: f64,
    /// Bytes a tag adds to the aggregates (compressed; an upper bound: rows of one
    /// minute and dimension combination are summed).
    pub aggregate_bytes_per_tag: f64,
    /// Hours the aggregates keep.
    pub aggregate_hours: f64,
    /// Where these figures come from.
    pub source: String,
}

/// How the deployment is cut.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rules {
    /// ClickHouse replicas per shard.
    pub clickhouse_replicas: u32,
    /// The share of ClickHouse's per-tag CPU every replica does itself (merges).
    pub replica_share_of_tag_cpu: f64,
    /// Tags per second one Kafka partition is sized for.
    pub tags_per_partition: f64,
    /// ClickHouse CPU-µs a profile read costs each shard that does not hold the cookie:
    /// the read goes through the Distributed table to every shard (sharded by Kafka
    /// partition, which the query does not name), and each runs a query that finds
    /// nothing. Zero when reads are routed to the cookie's shard.
    pub profile_us_per_other_shard: f64,
    /// Where these come from.
    pub source: String,
}

/// One load: tags and queries per second.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Load {
    /// Tags ingested per second.
    pub tags_per_s: f64,
    /// Profile reads per second.
    pub profiles_per_s: f64,
    /// Aggregates queries per second.
    pub aggregates_per_s: f64,
    /// The share of profile reads that reach ClickHouse. read-api answers a shopper it
    /// has cached, or one whose every tag is still in its tail, from memory; only a miss
    /// reads ClickHouse (`read_api_profile_cache_total` by outcome). 1 when not given:
    /// every read reaches it, the case of shoppers never read twice within the cache's
    /// reach.
    #[serde(default = "every_read")]
    pub profile_reads_to_clickhouse: f64,
}

fn every_read() -> f64 {
    1.0
}

impl Load {
    /// The load at the contract's mix of queries with every profile read reaching
    /// ClickHouse.
    pub fn new(tags_per_s: f64, profiles_per_s: f64, aggregates_per_s: f64) -> Self {
        Self {
            tags_per_s,
            profiles_per_s,
            aggregates_per_s,
            profile_reads_to_clickhouse: every_read(),
        }
    }

    /// What ClickHouse sees of this load: only the profile reads that reach it.
    fn at_clickhouse(self) -> Self {
        Self {
            profiles_per_s: self.profiles_per_s * self.profile_reads_to_clickhouse.clamp(0.0, 1.0),
            ..self
        }
    }
}

/// The model's inputs (`docs/capacity/inputs.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Inputs {
    /// The machine and the conditions of the runs.
    pub measured_on: String,
    /// Per role.
    pub roles: Vec<RoleCost>,
    /// Storage.
    pub storage: Storage,
    /// Sizing rules.
    pub rules: Rules,
    /// The loads of the sizing table.
    pub loads: Vec<Load>,
}

/// The roles, in the order tables list them.
pub const ROLES: [&str; 6] = [
    "nginx",
    "write-api",
    "broker",
    "projector",
    "clickhouse",
    "read-api",
];

/// The most shards the sizing considers (a load needing more is reported at this many,
/// its cores still counted in full).
const MAX_SHARDS: u32 = 1_000;

/// What one role needs for a load.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSize {
    /// The role.
    pub role: String,
    /// Instances (for ClickHouse: servers, shards × replicas).
    pub instances: u32,
    /// Cores in all.
    pub cores: f64,
    /// Memory in all, GiB.
    pub memory_gib: f64,
}

/// What a load needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizing {
    /// The load.
    pub load: Load,
    /// Per role, in [`ROLES`] order.
    pub roles: Vec<RoleSize>,
    /// ClickHouse shards.
    pub shards: u32,
    /// ClickHouse replicas per shard.
    pub replicas: u32,
    /// Kafka partitions (a multiple of the shards, at least the projector instances).
    pub partitions: u32,
    /// The broker's disk for the log, all copies, GiB.
    pub broker_disk_gib: f64,
    /// ClickHouse's disk, all replicas, GiB.
    pub clickhouse_disk_gib: f64,
}

impl Sizing {
    /// Cores of every role.
    pub fn total_cores(&self) -> f64 {
        self.roles.iter().map(|role| role.cores).sum()
    }
}

impl Inputs {
    /// Reads and parses `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, CapacityError> {
        let text = std::fs::read_to_string(path).map_err(|source| CapacityError::Read {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| CapacityError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// The cost of `role`.
    pub fn role(&self, role: &'static str) -> Result<&RoleCost, CapacityError> {
        self.roles
            .iter()
            .find(|cost| cost.role == role)
            .ok_or(CapacityError::MissingRole(role))
    }

    /// What `load` needs.
    pub fn size(&self, load: Load) -> Result<Sizing, CapacityError> {
        let mut roles = Vec::new();
        let mut shards = 1;
        let replicas = self.rules.clickhouse_replicas.max(1);
        let mut projectors = 1;
        for name in ROLES {
            let cost = self.role(name)?;
            let size = if name == "clickhouse" {
                // Per-tag work once per shard plus the replicas' share, reads spread over
                // the replicas, each read also costing every other shard a little: the
                // shard count and the reads' cost depend on each other, so the smallest
                // shard count that carries its own fan-out is searched for.
                let load = load.at_clickhouse();
                let per_tag = load.tags_per_s * cost.cpu_us_per_tag / 1e6;
                let extra = per_tag * self.rules.replica_share_of_tag_cpu * f64::from(replicas - 1);
                let variable_with = |shards: u32| {
                    per_tag
                        + extra
                        + queries_cores(cost, load)
                        + load.profiles_per_s
                            * self.rules.profile_us_per_other_shard
                            * f64::from(shards - 1)
                            / 1e6
                };
                shards = 1;
                while shards < MAX_SHARDS
                    && instances(cost, variable_with(shards)).div_ceil(replicas) > shards
                {
                    shards += 1;
                }
                let variable = variable_with(shards);
                let servers = shards * replicas;
                RoleSize {
                    role: name.to_owned(),
                    instances: servers,
                    cores: f64::from(servers) * cost.fixed_cores + variable,
                    memory_gib: f64::from(servers) * cost.rss_mib / 1024.0,
                }
            } else {
                let variable = variable_cores(cost, load);
                let count = instances(cost, variable);
                if name == "projector" {
                    projectors = count;
                }
                RoleSize {
                    role: name.to_owned(),
                    instances: count,
                    cores: f64::from(count) * cost.fixed_cores + variable,
                    memory_gib: f64::from(count) * cost.rss_mib / 1024.0,
                }
            };
            roles.push(size);
        }
        let by_rate = (load.tags_per_s / self.rules.tags_per_partition).ceil() as u32;
        let partitions = by_rate.max(projectors).max(shards).div_ceil(shards) * shards;
        let storage = &self.storage;
        let gib = 1024.0 * 1024.0 * 1024.0;
        let day = 86_400.0;
        let broker_disk_gib = load.tags_per_s
            * storage.broker_bytes_per_tag
            * storage.log_days
            * day
            * f64::from(storage.broker_replication)
            / gib;
        let clickhouse_disk_gib = load.tags_per_s
            * (storage.profile_bytes_per_tag * storage.profile_days * day
                + storage.aggregate_bytes_per_tag * storage.aggregate_hours * 3_600.0)
            * f64::from(replicas)
            / gib;
        Ok(Sizing {
            load,
            roles,
            shards,
            replicas,
            partitions,
            broker_disk_gib,
            clickhouse_disk_gib,
        })
    }

    /// Cores the model gives each role for `load` on a deployment of the given
    /// instances per role (a run's own shape, to set beside what it measured).
    pub fn predict(
        &self,
        load: Load,
        deployment: &[(&'static str, u32)],
    ) -> Result<Vec<(&'static str, f64)>, CapacityError> {
        deployment
            .iter()
            .map(|(role, count)| {
                let cost = self.role(role)?;
                let load = if *role == "clickhouse" {
                    load.at_clickhouse()
                } else {
                    load
                };
                // A run's ClickHouse servers are its shards (no replicas here).
                let fan_out = if *role == "clickhouse" {
                    load.profiles_per_s
                        * self.rules.profile_us_per_other_shard
                        * f64::from(count.saturating_sub(1))
                        / 1e6
                } else {
                    0.0
                };
                Ok((
                    *role,
                    f64::from(*count) * cost.fixed_cores + variable_cores(cost, load) + fan_out,
                ))
            })
            .collect()
    }
}

fn queries_cores(cost: &RoleCost, load: Load) -> f64 {
    (load.profiles_per_s * cost.cpu_us_per_profile
        + load.aggregates_per_s * cost.cpu_us_per_aggregate)
        / 1e6
}

fn variable_cores(cost: &RoleCost, load: Load) -> f64 {
    load.tags_per_s * cost.cpu_us_per_tag / 1e6 + queries_cores(cost, load)
}

fn instances(cost: &RoleCost, variable_cores: f64) -> u32 {
    let needed = (variable_cores / cost.cores_per_instance.max(0.01)).ceil() as u32;
    needed.max(cost.min_instances).max(1)
}

/// The sizing table (markdown): one row per load; per role its instances and cores.
pub fn sizing_table(sizings: &[Sizing]) -> String {
    let mut table = String::from(
        "Each role: instances (cores in all).\n\n| tags/s | profile reads/s | aggregates/s |",
    );
    for role in ROLES {
        table.push_str(&format!(" {role} |"));
    }
    table.push_str(" all: cores | all: memory GiB | ClickHouse shards × replicas | partitions | log disk GiB | ClickHouse disk GiB |\n|");
    table.push_str(&"---:|".repeat(3 + ROLES.len() + 6));
    table.push('\n');
    for sizing in sizings {
        table.push_str(&format!(
            "| {} | {} | {} |",
            thousands(sizing.load.tags_per_s),
            thousands(sizing.load.profiles_per_s),
            thousands(sizing.load.aggregates_per_s)
        ));
        for role in &sizing.roles {
            table.push_str(&format!(" {} ({:.1}) |", role.instances, role.cores));
        }
        table.push_str(&format!(
            " **{:.1}** | {:.1} | {} × {} | {} | {} | {} |\n",
            sizing.total_cores(),
            sizing.roles.iter().map(|role| role.memory_gib).sum::<f64>(),
            sizing.shards,
            sizing.replicas,
            sizing.partitions,
            thousands(sizing.broker_disk_gib),
            thousands(sizing.clickhouse_disk_gib)
        ));
    }
    table
}

/// `value` with thousands separators (no decimals).
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// The model's prediction beside a run's measured cores per role: markdown rows
/// `role | predicted | measured | difference`.
pub fn comparison_table(predicted: &[(&'static str, f64)], measured: &[(&str, f64)]) -> String {
    let mut table = String::from(
        "| role | predicted cores | measured cores | difference |\n|---|---:|---:|---:|\n",
    );
    let mut totals = (0.0, 0.0);
    for (role, prediction) in predicted {
        let Some((_, measurement)) = measured.iter().find(|(name, _)| name == role) else {
            continue;
        };
        totals.0 += prediction;
        totals.1 += measurement;
        table.push_str(&format!(
            "| {role} | {prediction:.3} | {measurement:.3} | {} |\n",
            difference(*prediction, *measurement)
        ));
    }
    table.push_str(&format!(
        "| **all** | **{:.3}** | **{:.3}** | **{}** |\n",
        totals.0,
        totals.1,
        difference(totals.0, totals.1)
    ));
    table
}

/// The prediction's error relative to the measurement, signed.
fn difference(predicted: f64, measured: f64) -> String {
    if measured <= 0.0 {
        return "-".to_owned();
    }
    format!("{:+.0}%", (predicted - measured) / measured * 100.0)
}

/// The plot's series: log10 of each role's cores against log10 of tags/s, at the
/// contract's mix (a profile read per 10 tags, an aggregates query per 1,000).
pub fn plot_series(inputs: &Inputs) -> Result<Vec<crate::plot::Series>, CapacityError> {
    let steps: Vec<f64> = (0..=12).map(|step| 3.0 + f64::from(step) * 0.25).collect();
    let mut sizings = Vec::new();
    for exponent in &steps {
        let tags = 10_f64.powf(*exponent);
        sizings.push(inputs.size(Load::new(tags, tags / 10.0, tags / 1_000.0))?);
    }
    let mut series: Vec<crate::plot::Series> = ROLES
        .iter()
        .enumerate()
        .map(|(index, role)| crate::plot::Series {
            name: (*role).to_owned(),
            points: steps
                .iter()
                .zip(&sizings)
                .map(|(x, sizing)| (*x, Some(sizing.roles[index].cores.max(1e-3).log10())))
                .collect(),
        })
        .collect();
    series.push(crate::plot::Series {
        name: "all".to_owned(),
        points: steps
            .iter()
            .zip(&sizings)
            .map(|(x, sizing)| (*x, Some(sizing.total_cores().max(1e-3).log10())))
            .collect(),
    });
    Ok(series)
}

/// The marker lines around the generated part of `docs/capacity.md`.
pub const SECTION_BEGIN: &str =
    "<!-- capacity model: generated by `bench capacity`, do not edit -->";
/// See [`SECTION_BEGIN`].
pub const SECTION_END: &str = "<!-- end of capacity model -->";

/// The role a component of the local stack plays (`clickhouse-2` is a ClickHouse server,
/// `projector-1` a projector, `tansu` the broker); `None` for a ClickHouse thread kind
/// (`clickhouse:HTTPHandler`) or the machine's line.
pub fn role_of(component: &str) -> Option<&'static str> {
    if component.contains(':') {
        return None;
    }
    let base = component
        .rsplit_once('-')
        .filter(|(_, suffix)| suffix.chars().all(|c| c.is_ascii_digit()))
        .map_or(component, |(base, _)| base);
    match base {
        "tansu" => Some("broker"),
        other => ROLES.iter().copied().find(|role| *role == other),
    }
}

/// A run's measured cores (`scripts/cluster-test.sh`'s `cpu-*.tsv`: `component, cores,
/// rss` per line, `#` comments), summed per role, with each role's instance count.
pub fn measured_roles(tsv: &str) -> Vec<(&'static str, u32, f64)> {
    let mut roles: Vec<(&'static str, u32, f64)> = Vec::new();
    for line in tsv.lines().filter(|line| !line.starts_with('#')) {
        let mut fields = line.split('\t');
        let (Some(component), Some(cores)) = (fields.next(), fields.next()) else {
            continue;
        };
        let (Some(role), Ok(cores)) = (role_of(component), cores.trim().parse::<f64>()) else {
            continue;
        };
        match roles.iter_mut().find(|(name, _, _)| *name == role) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += cores;
            }
            None => roles.push((role, 1, cores)),
        }
    }
    roles.sort_by_key(|(role, _, _)| ROLES.iter().position(|name| name == role));
    roles
}

/// A measured run to set the prediction beside.
#[derive(Debug, Clone)]
pub struct Measured {
    /// What the run was (its command, date, conditions).
    pub label: String,
    /// Its load.
    pub load: Load,
    /// Per role: instances and cores ([`measured_roles`]).
    pub roles: Vec<(&'static str, u32, f64)>,
}

/// The generated part of `docs/capacity.md`: the sizing table of every load of the
/// inputs and, when given, the prediction for a measured run beside its measurement.
pub fn section(inputs: &Inputs, measured: Option<&Measured>) -> Result<String, CapacityError> {
    let sizings = inputs
        .loads
        .iter()
        .map(|load| inputs.size(*load))
        .collect::<Result<Vec<_>, _>>()?;
    let mut text = format!(
        "### Sizing\n\nFrom `docs/capacity/inputs.json` ({}). Aggregates queries at one per 1,000 tags; \
         {} replicas per ClickHouse shard; disk for {} days of log ({} copies) and {} hours of aggregates, \
         profiles for {} days at most.\n\n{}",
        inputs.measured_on,
        inputs.rules.clickhouse_replicas,
        inputs.storage.log_days,
        inputs.storage.broker_replication,
        inputs.storage.aggregate_hours,
        inputs.storage.profile_days,
        sizing_table(&sizings)
    );
    if let Some(run) = measured {
        let deployment: Vec<(&'static str, u32)> = run
            .roles
            .iter()
            .map(|(role, count, _)| (*role, *count))
            .collect();
        let predicted = inputs.predict(run.load, &deployment)?;
        let cores: Vec<(&str, f64)> = run
            .roles
            .iter()
            .map(|(role, _, cores)| (*role, *cores))
            .collect();
        let shape: Vec<String> = run
            .roles
            .iter()
            .map(|(role, count, _)| format!("{role} ×{count}"))
            .collect();
        text.push_str(&format!(
            "\n### The model against the sharded run\n\n{} ({}; {} tags/s, {} profile reads/s of which {}% reach ClickHouse, {} aggregates queries/s):\n\n{}",
            run.label,
            shape.join(", "),
            thousands(run.load.tags_per_s),
            thousands(run.load.profiles_per_s),
            run.load.profile_reads_to_clickhouse * 100.0,
            run.load.aggregates_per_s,
            comparison_table(&predicted, &cores)
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_components_are_summed_per_role() {
        let tsv = "# full: cores\nclickhouse\t0.5\t900\nclickhouse-2\t0.25\t800\n\
                   clickhouse:HTTPHandler\t0.4\t-\nprojector\t0.125\t20\nprojector-1\t0.25\t20\n\
                   tansu\t0.3\t100\nwrite-api\t0.2\t16\nmachine\t1.9\t-\n";
        let roles = measured_roles(tsv);
        assert_eq!(
            roles,
            vec![
                ("write-api", 1, 0.2),
                ("broker", 1, 0.3),
                ("projector", 2, 0.375),
                ("clickhouse", 2, 0.75),
            ]
        );
        assert_eq!(role_of("read-api"), Some("read-api"));
        assert_eq!(role_of("nginx"), Some("nginx"));
        assert_eq!(role_of("machine"), None);
    }

    fn role(name: &str, fixed: f64, tag: f64, profile: f64) -> RoleCost {
        RoleCost {
            role: name.to_owned(),
            fixed_cores: fixed,
            cpu_us_per_tag: tag,
            cpu_us_per_profile: profile,
            cpu_us_per_aggregate: 0.0,
            rss_mib: 1024.0,
            cores_per_instance: 4.0,
            min_instances: 1,
            source: String::new(),
        }
    }

    fn inputs() -> Inputs {
        Inputs {
            measured_on: String::new(),
            roles: ROLES
                .iter()
                .map(|name| role(name, 0.01, 100.0, 1_000.0))
                .collect(),
            storage: Storage {
                broker_bytes_per_tag: 100.0,
                broker_replication: 3,
                log_days: 7.0,
                profile_bytes_per_tag: 20.0,
                profile_days: 7.0,
                aggregate_bytes_per_tag: 5.0,
                aggregate_hours: 24.0,
                source: String::new(),
            },
            rules: Rules {
                clickhouse_replicas: 2,
                replica_share_of_tag_cpu: 0.5,
                tags_per_partition: 5_000.0,
                profile_us_per_other_shard: 0.0,
                source: String::new(),
            },
            loads: Vec::new(),
        }
    }

    #[test]
    fn cores_follow_the_formula_and_instances_the_cores() {
        let load = Load::new(100_000.0, 1_000.0, 0.0);
        let sizing = inputs().size(load).expect("sized");
        let write = &sizing.roles[1];
        // 100,000 × 100 µs = 10 cores of variable work, 4 a instance: 3 instances.
        assert_eq!(write.instances, 3);
        assert!(
            (write.cores - (10.0 + 1.0 + 0.03)).abs() < 1e-9,
            "{write:?}"
        );
        let clickhouse = &sizing.roles[4];
        // 10 cores per tag, half again on the second replica, 1 core of reads: 16 cores,
        // 4 servers, 2 shards of 2 replicas.
        assert_eq!(
            (sizing.shards, sizing.replicas, clickhouse.instances),
            (2, 2, 4)
        );
        assert!(
            (clickhouse.cores - (16.0 + 0.04)).abs() < 1e-9,
            "{clickhouse:?}"
        );
        assert_eq!(
            sizing.partitions, 20,
            "100,000 / 5,000, a multiple of 2 shards"
        );
        let log = 100_000.0 * 100.0 * 7.0 * 86_400.0 * 3.0 / 1024_f64.powi(3);
        assert!((sizing.broker_disk_gib - log).abs() < 1e-6);
    }

    #[test]
    fn reads_that_fan_out_to_every_shard_cost_more_shards() {
        let mut routed = inputs();
        routed.rules.clickhouse_replicas = 1;
        let mut fanned = routed.clone();
        fanned.rules.profile_us_per_other_shard = 1_000.0;
        let load = Load::new(100_000.0, 1_000.0, 0.0);
        let (routed, fanned) = (
            routed.size(load).expect("sized"),
            fanned.size(load).expect("sized"),
        );
        // Routed: 10 + 1 cores, 3 shards of 4 cores. Fanned out: each extra shard adds a
        // core of reads; 4 shards carry 11 + 3 = 14 cores, 3 could not carry 13.
        assert_eq!(routed.shards, 3);
        assert_eq!(fanned.shards, 4);
        assert!(
            (fanned.roles[4].cores - (14.0 + 0.04)).abs() < 1e-9,
            "{:?}",
            fanned.roles[4]
        );
        assert_eq!(fanned.replicas, 1);
    }

    #[test]
    fn profile_reads_answered_from_memory_cost_clickhouse_nothing() {
        let mut inputs = inputs();
        inputs.rules.profile_us_per_other_shard = 1_000.0;
        let every = Load::new(1_000.0, 100.0, 0.0);
        let none = Load {
            profile_reads_to_clickhouse: 0.0,
            ..every
        };
        let deployment = [("clickhouse", 2), ("read-api", 1)];
        let (every, none) = (
            inputs.predict(every, &deployment).expect("predicted"),
            inputs.predict(none, &deployment).expect("predicted"),
        );
        // ClickHouse: 2 × 0.01 fixed + 1,000 × 100 µs; the reads' 100 × 1,000 µs and
        // their fan-out to the second shard (100 × 1,000 µs) only when they reach it.
        assert!(
            (every[0].1 - (0.02 + 0.1 + 0.1 + 0.1)).abs() < 1e-9,
            "{every:?}"
        );
        assert!((none[0].1 - (0.02 + 0.1)).abs() < 1e-9, "{none:?}");
        // read-api answers every read either way.
        assert!((every[1].1 - none[1].1).abs() < 1e-12, "{every:?} {none:?}");
        let half = Load {
            profile_reads_to_clickhouse: 0.5,
            ..Load::new(100_000.0, 1_000.0, 0.0)
        };
        let sized = inputs.size(half).expect("sized");
        let all = inputs
            .size(Load::new(100_000.0, 1_000.0, 0.0))
            .expect("sized");
        assert!(sized.roles[4].cores < all.roles[4].cores);
        assert_eq!(sized.roles[5], all.roles[5]);
    }

    #[test]
    fn a_small_load_keeps_the_minimum_instances_and_a_partition_per_shard() {
        let sizing = inputs().size(Load::new(10.0, 1.0, 0.0)).expect("sized");
        assert_eq!((sizing.shards, sizing.replicas), (1, 2));
        assert_eq!(sizing.partitions, 1);
        assert!(sizing.roles.iter().all(|role| role.instances >= 1));
    }

    #[test]
    fn the_prediction_sets_each_instance_fixed_cost_beside_the_load() {
        let predicted = inputs()
            .predict(
                Load::new(1_000.0, 100.0, 1.0),
                &[("clickhouse", 2), ("projector", 2)],
            )
            .expect("predicted");
        assert_eq!(predicted.len(), 2);
        assert!((predicted[0].1 - (0.02 + 0.1 + 0.1)).abs() < 1e-9);
        let table = comparison_table(&predicted, &[("clickhouse", 0.2), ("projector", 0.4)]);
        assert!(
            table.contains("| clickhouse | 0.220 | 0.200 | +10% |"),
            "{table}"
        );
        assert!(
            table.contains("| projector | 0.220 | 0.400 | -45% |"),
            "{table}"
        );
        assert_eq!(thousands(1_000_000.0), "1,000,000");
        assert_eq!(thousands(100.0), "100");
    }

    #[test]
    fn the_committed_inputs_parse_and_size_every_load() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/capacity/inputs.json");
        let inputs = Inputs::load(&path).expect("docs/capacity/inputs.json parses");
        assert!(!inputs.loads.is_empty());
        for load in &inputs.loads {
            let sizing = inputs.size(*load).expect("sized");
            assert!(sizing.total_cores() > 0.0);
        }
        assert_eq!(plot_series(&inputs).expect("series").len(), ROLES.len() + 1);
    }
}
