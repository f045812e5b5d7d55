//! Placeholders that let one migration file target a single server or a cluster.
//!
//! A migration names the objects it creates through `{{...}}` placeholders. On a
//! single server each placeholder renders to the text it wraps, so those files run
//! exactly as written. On a cluster (`migrate --cluster NAME`):
//!
//! | placeholder | single server | cluster `C`, database `D` |
//! |---|---|---|
//! | `{{table T}}` | `T` | `D.T_local ON CLUSTER C`, then a Distributed `D.T` over it |
//! | `{{table T sharded by K}}` | `T` | the same, the Distributed `D.T` sharding inserts by `K` |
//! | `{{engine E(args)}}` | `E(args)` | `ReplicatedE('/clickhouse/tables/{shard}/D/T_local', '{replica}', args)` |
//! | `{{view V}}` | `V` | `D.V ON CLUSTER C` |
//! | `{{local T}}` | `T` | `D.T_local` |
//! | `{{alter T}}` | `T` | `D.T_local ON CLUSTER C` (an `ALTER TABLE` of a table made by `{{table T}}`) |
//! | `{{columns T}}` | `T` | `D.T_local ON CLUSTER C`, then the same statement on the Distributed `D.T ON CLUSTER C` (an `ALTER TABLE` that adds or changes columns: the Distributed table must carry them too) |
//!
//! On a cluster without replication ([`Target::UnreplicatedShards`]: one replica per
//! shard and no Keeper, as on the local sharded stack, whose ClickHouse can neither
//! replicate nor run distributed DDL) the same objects are made with the engine as
//! written and without `ON CLUSTER`, and `migrate` runs every statement on each server
//! in turn.
//!
//! So on a cluster every server holds the shard-local `T_local` tables (replicated
//! within their shard through ZooKeeper or ClickHouse Keeper, using the servers'
//! `{shard}` and `{replica}` macros) and a Distributed table `T` over them: the
//! services keep addressing `T` unchanged, whichever server they talk to.
//! Materialized views watch the local tables, so an insert delivered to a shard
//! derives its rows on that shard. A Distributed table without a sharding key
//! refuses inserts on a cluster of several shards: right for tables that only views
//! fill. Names are qualified with the database on a cluster because a distributed
//! DDL query runs on each server outside the client's session.

use std::fmt;
use std::str::FromStr;

/// Where the migrations are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One ClickHouse server: the files run as written.
    SingleNode,
    /// Every server of a cluster defined in the servers' `remote_servers`.
    Cluster(ClusterName),
    /// One server of a cluster whose shards have one replica each and no Keeper: the
    /// cluster's tables with non-replicated engines, without `ON CLUSTER`; the caller
    /// applies them to every server.
    UnreplicatedShards(ClusterName),
}

impl Target {
    /// The cluster the tables are distributed over, if any.
    pub fn cluster(&self) -> Option<&ClusterName> {
        match self {
            Self::SingleNode => None,
            Self::Cluster(cluster) | Self::UnreplicatedShards(cluster) => Some(cluster),
        }
    }

    /// ` ON CLUSTER C` where DDL propagates through the cluster, otherwise nothing.
    pub fn on_cluster(&self) -> String {
        match self {
            Self::Cluster(cluster) => format!(" ON CLUSTER {cluster}"),
            Self::SingleNode | Self::UnreplicatedShards(_) => String::new(),
        }
    }
}

/// A cluster name from the servers' `remote_servers` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterName(String);

impl ClusterName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ClusterName {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if is_plain_identifier(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "cluster name {name:?}: expected letters, digits and '_', not starting with a digit"
            ))
        }
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Whether `name` can appear in SQL, a ZooKeeper path and engine arguments unquoted.
pub fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|rest| rest.is_ascii_alphanumeric() || rest == '_')
}

/// Why a migration's placeholders cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without a closing `}}`.
    #[error("unclosed placeholder at byte {0}")]
    Unclosed(usize),
    /// A placeholder of an unknown kind, or one that does not parse.
    #[error("bad placeholder {{{{{placeholder}}}}}: expected {expected}")]
    Malformed {
        /// The text between the braces.
        placeholder: String,
        /// What was expected instead.
        expected: &'static str,
    },
    /// More than one object created or altered in one statement.
    #[error("one statement creates or alters one object: {{{{{0}}}}} repeats or conflicts")]
    Repeated(String),
    /// `{{engine}}` without the `{{table}}` it belongs to (its replication path needs the name).
    #[error("{{{{engine}}}} needs a {{{{table}}}} in the same statement")]
    EngineWithoutTable,
    /// On a cluster, a statement without `{{table}}` or `{{view}}` would change one server only.
    #[error(
        "on a cluster every statement must create a {{{{table}}}} or a {{{{view}}}}, or alter a table (otherwise it would change one server only)"
    )]
    NoClusterObject,
}

/// One `{{...}}` placeholder, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder<'a> {
    /// The table a `CREATE TABLE` creates, with the sharding key of its Distributed table.
    Table {
        name: &'a str,
        sharding_key: Option<&'a str>,
    },
    /// A MergeTree-family engine, `engine` like `SummingMergeTree`, `args` inside its parentheses.
    Engine {
        engine: &'a str,
        args: Option<&'a str>,
    },
    /// The view a `CREATE MATERIALIZED VIEW` creates.
    View { name: &'a str },
    /// A reference to the local table behind `{{table name}}`.
    Local { name: &'a str },
    /// The table an `ALTER TABLE` changes: every server's local table.
    Alter { name: &'a str },
    /// The table an `ALTER TABLE` changes the columns of: every server's local table and
    /// the Distributed table over them.
    Columns { name: &'a str },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment<'a> {
    Text(&'a str),
    Placeholder {
        parsed: Placeholder<'a>,
        /// The text it wraps: what a single server gets.
        written: &'a str,
        /// Everything between the braces, for error messages.
        source: &'a str,
    },
}

/// Renders one migration statement for `target` in `database`: the statement itself,
/// followed on a cluster by the Distributed table over the table it creates.
/// `database` must satisfy [`is_plain_identifier`] on a cluster (the caller checks).
pub fn render(sql: &str, target: &Target, database: &str) -> Result<Vec<String>, TemplateError> {
    let segments = parse(sql)?;
    let created = check(&segments)?;
    match target {
        Target::SingleNode => Ok(vec![segments
            .iter()
            .map(|segment| match segment {
                Segment::Text(text) => *text,
                Segment::Placeholder { written, .. } => written,
            })
            .collect()]),
        Target::Cluster(cluster) | Target::UnreplicatedShards(cluster) => {
            let Some(created) = created else {
                return Err(TemplateError::NoClusterObject);
            };
            let on_cluster = target.on_cluster();
            let replicated = matches!(target, Target::Cluster(_));
            // The statement with the object it changes rendered by `object`.
            let render_with = |object: &dyn Fn(&Placeholder<'_>) -> String| {
                let mut statement = String::with_capacity(sql.len() + 128);
                for segment in &segments {
                    match segment {
                        Segment::Text(text) => statement.push_str(text),
                        Segment::Placeholder {
                            parsed: Placeholder::Engine { .. },
                            written,
                            ..
                        } if !replicated => statement.push_str(written),
                        Segment::Placeholder { parsed, .. } if *parsed == created => {
                            statement.push_str(&object(parsed))
                        }
                        Segment::Placeholder { parsed, .. } => statement
                            .push_str(&render_on_cluster(parsed, &created, &on_cluster, database)),
                    }
                }
                statement
            };
            let mut statements = vec![render_with(&|parsed| {
                render_on_cluster(parsed, &created, &on_cluster, database)
            })];
            if let Placeholder::Columns { name } = created {
                // The same change on the Distributed table over the local ones.
                statements.push(render_with(&|_| format!("{database}.{name}{on_cluster}")));
            }
            if let Placeholder::Table { name, sharding_key } = created {
                let key = sharding_key
                    .map(|key| format!(", {key}"))
                    .unwrap_or_default();
                statements.push(format!(
                    "CREATE TABLE IF NOT EXISTS {database}.{name}{on_cluster} \
                     AS {database}.{name}_local \
                     ENGINE = Distributed({cluster}, {database}, {name}_local{key})"
                ));
            }
            Ok(statements)
        }
    }
}

/// One placeholder on a cluster; `on_cluster` is ` ON CLUSTER C` or empty.
fn render_on_cluster(
    placeholder: &Placeholder<'_>,
    created: &Placeholder<'_>,
    on_cluster: &str,
    database: &str,
) -> String {
    match placeholder {
        Placeholder::Table { name, .. } => format!("{database}.{name}_local{on_cluster}"),
        Placeholder::View { name } => format!("{database}.{name}{on_cluster}"),
        Placeholder::Alter { name } | Placeholder::Columns { name } => {
            format!("{database}.{name}_local{on_cluster}")
        }
        Placeholder::Local { name } => format!("{database}.{name}_local"),
        Placeholder::Engine { engine, args } => {
            let table = match created {
                Placeholder::Table { name, .. } => *name,
                _ => {
                    debug_assert!(false, "check() lets an engine through only with a table");
                    ""
                }
            };
            let path = format!("'/clickhouse/tables/{{shard}}/{database}/{table}_local'");
            match args.map(str::trim).filter(|args| !args.is_empty()) {
                Some(args) => format!("Replicated{engine}({path}, '{{replica}}', {args})"),
                None => format!("Replicated{engine}({path}, '{{replica}}')"),
            }
        }
    }
}

/// Splits `sql` into text and placeholders.
fn parse(sql: &str) -> Result<Vec<Segment<'_>>, TemplateError> {
    let mut segments = Vec::new();
    let mut rest = sql;
    let mut consumed = 0;
    while let Some(open) = rest.find("{{") {
        let after_open = &rest[open + 2..];
        let close = after_open
            .find("}}")
            .ok_or(TemplateError::Unclosed(consumed + open))?;
        let inner = &after_open[..close];
        if open > 0 {
            segments.push(Segment::Text(&rest[..open]));
        }
        segments.push(parse_placeholder(inner)?);
        let advance = open + 2 + close + 2;
        consumed += advance;
        rest = &rest[advance..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Text(rest));
    }
    Ok(segments)
}

fn parse_placeholder(inner: &str) -> Result<Segment<'_>, TemplateError> {
    let source = inner.trim();
    let malformed = |expected| TemplateError::Malformed {
        placeholder: source.to_owned(),
        expected,
    };
    let (kind, body) = source
        .split_once(char::is_whitespace)
        .map(|(kind, body)| (kind, body.trim()))
        .ok_or_else(|| {
            malformed("a kind (table, engine, view, local, alter, columns) and its argument")
        })?;
    let (parsed, written) = match kind {
        "table" => {
            let expected = "table NAME [sharded by EXPRESSION]";
            let (name, sharding_key) = match body.split_once(char::is_whitespace) {
                None => (body, None),
                Some((name, clause)) => {
                    let key = next_word(clause, "sharded")
                        .and_then(|rest| next_word(rest, "by"))
                        .filter(|key| !key.is_empty())
                        .ok_or_else(|| malformed(expected))?;
                    (name, Some(key))
                }
            };
            if !is_plain_identifier(name) {
                return Err(malformed(expected));
            }
            (Placeholder::Table { name, sharding_key }, name)
        }
        "engine" => {
            let (engine, args) = match body.split_once('(') {
                None => (body, None),
                Some((engine, args)) => (
                    engine.trim_end(),
                    Some(
                        args.strip_suffix(')')
                            .ok_or_else(|| malformed("engine NAME or engine NAME(ARGUMENTS)"))?,
                    ),
                ),
            };
            if !is_plain_identifier(engine)
                || !engine.ends_with("MergeTree")
                || engine.starts_with("Replicated")
            {
                return Err(malformed(
                    "a non-replicated MergeTree-family engine (MergeTree, ReplacingMergeTree, SummingMergeTree, ...)",
                ));
            }
            (Placeholder::Engine { engine, args }, body)
        }
        "view" if is_plain_identifier(body) => (Placeholder::View { name: body }, body),
        "local" if is_plain_identifier(body) => (Placeholder::Local { name: body }, body),
        "alter" if is_plain_identifier(body) => (Placeholder::Alter { name: body }, body),
        "columns" if is_plain_identifier(body) => (Placeholder::Columns { name: body }, body),
        "view" | "local" | "alter" | "columns" => {
            return Err(malformed(
                "view NAME, local NAME, alter NAME or columns NAME",
            ));
        }
        _ => {
            return Err(malformed(
                "a kind: table, engine, view, local, alter or columns",
            ))
        }
    };
    Ok(Segment::Placeholder {
        parsed,
        written,
        source,
    })
}

/// `text` after the word `word` and the whitespace around it, if it starts with that word.
fn next_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let (first, rest) = text.trim_start().split_once(char::is_whitespace)?;
    (first == word).then(|| rest.trim())
}

/// Checks that the statement creates (or alters) at most one object (a table or a view) with at
/// most one engine, which belongs to a table; returns the object.
fn check<'a>(segments: &[Segment<'a>]) -> Result<Option<Placeholder<'a>>, TemplateError> {
    let mut created = None;
    let mut has_engine = false;
    for segment in segments {
        let Segment::Placeholder { parsed, source, .. } = segment else {
            continue;
        };
        let repeated = match parsed {
            Placeholder::Table { .. }
            | Placeholder::View { .. }
            | Placeholder::Alter { .. }
            | Placeholder::Columns { .. } => created.replace(*parsed).is_some(),
            Placeholder::Engine { .. } => std::mem::replace(&mut has_engine, true),
            Placeholder::Local { .. } => false,
        };
        if repeated {
            return Err(TemplateError::Repeated((*source).to_owned()));
        }
    }
    if has_engine && !matches!(created, Some(Placeholder::Table { .. })) {
        return Err(TemplateError::EngineWithoutTable);
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Target {
        Target::Cluster("prod".parse().expect("valid name"))
    }

    #[test]
    fn a_single_server_gets_the_text_as_written() {
        let sql = "CREATE TABLE IF NOT EXISTS {{table t sharded by p}} (p Int32, v Int64)\n\
                   ENGINE = {{engine SummingMergeTree((v))}} ORDER BY p";
        assert_eq!(
            render(sql, &Target::SingleNode, "db"),
            Ok(vec![
                "CREATE TABLE IF NOT EXISTS t (p Int32, v Int64)\nENGINE = SummingMergeTree((v)) ORDER BY p"
                    .to_owned()
            ])
        );
    }

    #[test]
    fn a_cluster_gets_a_replicated_local_table_and_a_distributed_table() {
        let sql = "CREATE TABLE IF NOT EXISTS {{table t sharded by p}} (p Int32, v Int64)\n\
                   ENGINE = {{engine SummingMergeTree((v))}} ORDER BY p";
        assert_eq!(
            render(sql, &cluster(), "db"),
            Ok(vec![
                "CREATE TABLE IF NOT EXISTS db.t_local ON CLUSTER prod (p Int32, v Int64)\n\
                 ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/db/t_local', '{replica}', (v)) ORDER BY p"
                    .to_owned(),
                "CREATE TABLE IF NOT EXISTS db.t ON CLUSTER prod AS db.t_local \
                 ENGINE = Distributed(prod, db, t_local, p)"
                    .to_owned(),
            ])
        );
    }

    #[test]
    fn unreplicated_shards_get_the_clusters_tables_with_the_engines_as_written() {
        let target = Target::UnreplicatedShards("local".parse().expect("valid name"));
        let sql = "CREATE TABLE IF NOT EXISTS {{table t sharded by p}} (p Int32, v Int64)\n\
                   ENGINE = {{engine SummingMergeTree((v))}} ORDER BY p";
        assert_eq!(
            render(sql, &target, "db"),
            Ok(vec![
                "CREATE TABLE IF NOT EXISTS db.t_local (p Int32, v Int64)\n\
                 ENGINE = SummingMergeTree((v)) ORDER BY p"
                    .to_owned(),
                "CREATE TABLE IF NOT EXISTS db.t AS db.t_local \
                 ENGINE = Distributed(local, db, t_local, p)"
                    .to_owned(),
            ])
        );
        assert_eq!(
            render(
                "CREATE MATERIALIZED VIEW IF NOT EXISTS {{view v}} TO {{local out}} AS SELECT x FROM {{local src}}",
                &target,
                "db"
            ),
            Ok(vec![
                "CREATE MATERIALIZED VIEW IF NOT EXISTS db.v TO db.out_local AS SELECT x FROM db.src_local"
                    .to_owned()
            ])
        );
        assert_eq!(
            render("ALTER TABLE {{alter t}} MODIFY TTL x", &target, "db"),
            Ok(vec!["ALTER TABLE db.t_local MODIFY TTL x".to_owned()])
        );
        assert_eq!(
            render("CREATE TABLE x (a UInt8) ENGINE = Memory", &target, "db"),
            Err(TemplateError::NoClusterObject)
        );
    }

    #[test]
    fn an_engine_without_arguments_gets_only_the_path_and_replica() {
        for engine in ["MergeTree", "MergeTree()"] {
            let sql = format!("CREATE TABLE {{{{table t}}}} (x UInt8) ENGINE = {{{{engine {engine}}}}} ORDER BY x");
            let rendered = render(&sql, &cluster(), "db").expect("renders");
            assert_eq!(
                rendered[0],
                "CREATE TABLE db.t_local ON CLUSTER prod (x UInt8) ENGINE = \
                 ReplicatedMergeTree('/clickhouse/tables/{shard}/db/t_local', '{replica}') ORDER BY x"
            );
            assert_eq!(
                rendered[1],
                "CREATE TABLE IF NOT EXISTS db.t ON CLUSTER prod AS db.t_local \
                 ENGINE = Distributed(prod, db, t_local)",
                "no sharding key: the Distributed table refuses inserts on several shards"
            );
        }
    }

    #[test]
    fn an_alter_changes_every_servers_local_table_and_creates_nothing() {
        let sql = "ALTER TABLE {{alter t}} ADD PROJECTION p (SELECT * ORDER BY x)";
        assert_eq!(
            render(sql, &Target::SingleNode, "db"),
            Ok(vec![
                "ALTER TABLE t ADD PROJECTION p (SELECT * ORDER BY x)".to_owned()
            ])
        );
        assert_eq!(
            render(sql, &cluster(), "db"),
            Ok(vec![
                "ALTER TABLE db.t_local ON CLUSTER prod ADD PROJECTION p (SELECT * ORDER BY x)"
                    .to_owned()
            ]),
            "no Distributed table follows an alter"
        );
        assert_eq!(
            render(
                "ALTER TABLE {{alter t}} MODIFY TTL {{alter u}}",
                &cluster(),
                "db"
            ),
            Err(TemplateError::Repeated("alter u".to_owned()))
        );
    }

    #[test]
    fn a_column_change_reaches_the_local_tables_and_the_distributed_table() {
        let sql = "ALTER TABLE {{columns t}} ADD COLUMN IF NOT EXISTS c UInt32 DEFAULT 0";
        assert_eq!(
            render(sql, &Target::SingleNode, "db"),
            Ok(vec![
                "ALTER TABLE t ADD COLUMN IF NOT EXISTS c UInt32 DEFAULT 0".to_owned()
            ])
        );
        assert_eq!(
            render(sql, &cluster(), "db"),
            Ok(vec![
                "ALTER TABLE db.t_local ON CLUSTER prod ADD COLUMN IF NOT EXISTS c UInt32 DEFAULT 0"
                    .to_owned(),
                "ALTER TABLE db.t ON CLUSTER prod ADD COLUMN IF NOT EXISTS c UInt32 DEFAULT 0"
                    .to_owned(),
            ])
        );
        let target = Target::UnreplicatedShards("local".parse().expect("valid name"));
        assert_eq!(
            render(sql, &target, "db"),
            Ok(vec![
                "ALTER TABLE db.t_local ADD COLUMN IF NOT EXISTS c UInt32 DEFAULT 0".to_owned(),
                "ALTER TABLE db.t ADD COLUMN IF NOT EXISTS c UInt32 DEFAULT 0".to_owned(),
            ])
        );
        assert_eq!(
            render(
                "ALTER TABLE {{columns t}} MODIFY TTL {{alter t}}",
                &cluster(),
                "db"
            ),
            Err(TemplateError::Repeated("alter t".to_owned()))
        );
    }

    #[test]
    fn a_view_is_created_everywhere_and_watches_local_tables() {
        let sql = "CREATE MATERIALIZED VIEW IF NOT EXISTS {{view v}} TO {{local out}} AS SELECT x FROM {{local src}}";
        assert_eq!(
            render(sql, &Target::SingleNode, "db"),
            Ok(vec![
                "CREATE MATERIALIZED VIEW IF NOT EXISTS v TO out AS SELECT x FROM src".to_owned()
            ])
        );
        assert_eq!(
            render(sql, &cluster(), "db"),
            Ok(vec![
                "CREATE MATERIALIZED VIEW IF NOT EXISTS db.v ON CLUSTER prod TO db.out_local AS SELECT x FROM db.src_local"
                    .to_owned()
            ])
        );
    }

    #[test]
    fn plain_sql_runs_on_a_single_server_only() {
        let sql = "CREATE TABLE x (a UInt8) ENGINE = Memory";
        assert_eq!(
            render(sql, &Target::SingleNode, "db"),
            Ok(vec![sql.to_owned()])
        );
        assert_eq!(
            render(sql, &cluster(), "db"),
            Err(TemplateError::NoClusterObject)
        );
    }

    #[test]
    fn malformed_placeholders_are_refused_on_every_target() {
        let cases = [
            ("CREATE TABLE {{table t", TemplateError::Unclosed(13)),
            (
                "CREATE TABLE {{tabel t}} (x UInt8) ENGINE = Memory",
                TemplateError::Malformed {
                    placeholder: "tabel t".to_owned(),
                    expected: "a kind: table, engine, view, local, alter or columns",
                },
            ),
            (
                "CREATE TABLE {{table t by p}} (x UInt8) ENGINE = Memory",
                TemplateError::Malformed {
                    placeholder: "table t by p".to_owned(),
                    expected: "table NAME [sharded by EXPRESSION]",
                },
            ),
            (
                "CREATE TABLE {{table t}} (x UInt8) ENGINE = {{engine Memory}}",
                TemplateError::Malformed {
                    placeholder: "engine Memory".to_owned(),
                    expected: "a non-replicated MergeTree-family engine (MergeTree, ReplacingMergeTree, SummingMergeTree, ...)",
                },
            ),
            (
                "CREATE TABLE t (x UInt8) ENGINE = {{engine MergeTree}} ORDER BY x",
                TemplateError::EngineWithoutTable,
            ),
            (
                "CREATE TABLE {{table a}} AS {{table b}}",
                TemplateError::Repeated("table b".to_owned()),
            ),
            (
                "CREATE MATERIALIZED VIEW {{view v}} TO {{table t}} AS SELECT 1",
                TemplateError::Repeated("table t".to_owned()),
            ),
        ];
        for (sql, expected) in cases {
            for target in [Target::SingleNode, cluster()] {
                assert_eq!(render(sql, &target, "db"), Err(expected.clone()), "{sql}");
            }
        }
    }

    #[test]
    fn cluster_names_are_plain_identifiers() {
        assert!("allezon_cluster".parse::<ClusterName>().is_ok());
        assert!("_c1".parse::<ClusterName>().is_ok());
        for bad in ["", "1c", "a-b", "a b", "a'b", "a.b"] {
            assert!(bad.parse::<ClusterName>().is_err(), "{bad:?} accepted");
        }
    }
}
