//! A private sharded ClickHouse for one test: two servers (shards 1 and 2, one replica
//! each) of the same ClickHouse 26.9 the local stack runs, on free ports, with the
//! cluster `allezon_test` in their `remote_servers`.
//!
//! What this can and cannot test. The cluster migrations are rendered exactly as
//! `migrate --cluster` renders them, then applied to each server in turn with the two
//! things clickhouse-local cannot do taken out: `ON CLUSTER` (its distributed DDL worker
//! never starts: "Replicated DDL queries are disabled") and the `Replicated*` engines
//! (a replica never activates: it has no interserver listener, so every insert fails
//! "table is read-only"). So the shard-local tables, the Distributed tables over them,
//! the views on the local tables, sharding by Kafka partition, deduplication tokens
//! through a Distributed insert and reads through any server are tested for real;
//! replication between replicas, `ON CLUSTER` propagation and Keeper are not (they run
//! only in production, `deploy/compose/cluster.yml`).

use clickhouse::Client;
use test_support::PrivateClickHouse;

/// The cluster's name in `remote_servers`.
pub(crate) const NAME: &str = "allezon_test";

/// Two single-replica shards; everything stops on drop.
pub(crate) struct TestCluster {
    /// Shard 1, shard 2.
    pub(crate) servers: Vec<PrivateClickHouse>,
}

impl TestCluster {
    /// Starts both servers and waits until each answers.
    pub(crate) async fn start() -> Self {
        let ports = test_support::free_ports(4);
        let remote_servers = format!(
            "<remote_servers><{NAME}>\
               <shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>{}</port></replica></shard>\
               <shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>{}</port></replica></shard>\
             </{NAME}></remote_servers>",
            ports[1], ports[3]
        );
        let mut servers = Vec::new();
        for (shard, pair) in ports.chunks(2).enumerate() {
            let macros = format!(
                "<macros><shard>{}</shard><replica>r{}</replica></macros>",
                shard + 1,
                shard + 1
            );
            servers.push(
                PrivateClickHouse::start(
                    &format!("shard{}", shard + 1),
                    pair[0],
                    pair[1],
                    &format!("{remote_servers}\n{macros}"),
                )
                .await,
            );
        }
        Self { servers }
    }

    /// A client of server `index` (no database selected).
    pub(crate) fn client(&self, index: usize) -> Client {
        self.servers[index].client()
    }
}

/// A statement rendered for `migrate --cluster`, as one server of this test cluster can
/// run it: without `ON CLUSTER` (applied to each server instead) and with the
/// replicated engine replaced by the engine it replicates, its own arguments kept.
pub(crate) fn without_replication(statement: &str) -> String {
    let statement = statement.replace(&format!(" ON CLUSTER {NAME}"), "");
    let Some(start) = statement.find("ENGINE = Replicated") else {
        return statement;
    };
    let engine_start = start + "ENGINE = Replicated".len();
    let Some(open) = statement[engine_start..]
        .find('(')
        .map(|at| engine_start + at)
    else {
        return statement;
    };
    let engine = &statement[engine_start..open];
    // ReplicatedE('/path', '{replica}'[, args]) -> E(args)
    let mut depth = 0;
    let mut close = open;
    for (offset, character) in statement[open..].char_indices() {
        match character {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = open + offset;
                    break;
                }
            }
            _ => {}
        }
    }
    let arguments = &statement[open + 1..close];
    let rest = arguments
        .splitn(3, ", ")
        .nth(2)
        .map(str::to_owned)
        .unwrap_or_default();
    format!(
        "{}ENGINE = {engine}({rest}){}",
        &statement[..start],
        &statement[close + 1..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_is_taken_out_and_arguments_kept() {
        assert_eq!(
            without_replication(
                "CREATE TABLE d.t_local ON CLUSTER allezon_test (x UInt8) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/d/t_local', '{replica}', (count, sum_price)) ORDER BY x"
            ),
            "CREATE TABLE d.t_local (x UInt8) ENGINE = SummingMergeTree((count, sum_price)) ORDER BY x"
        );
        assert_eq!(
            without_replication(
                "CREATE TABLE d.t_local ON CLUSTER allezon_test (x UInt8) ENGINE = ReplicatedMergeTree('/p', '{replica}') ORDER BY x"
            ),
            "CREATE TABLE d.t_local (x UInt8) ENGINE = MergeTree() ORDER BY x"
        );
    }
}
