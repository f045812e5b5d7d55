//! The components of the local stack, named as `scripts/lib.sh` names them.

/// The ClickHouse servers of the sharded stack's shards 2 to 9 (`SHARDS` is at most 9).
const SHARD_NAMES: [&str; 8] = [
    "clickhouse-2",
    "clickhouse-3",
    "clickhouse-4",
    "clickhouse-5",
    "clickhouse-6",
    "clickhouse-7",
    "clickhouse-8",
    "clickhouse-9",
];

/// The projector instances 1 to 8 of the sharded stack (`PROJECTORS` is at most 9).
const INSTANCE_NAMES: [&str; 8] = [
    "projector-1",
    "projector-2",
    "projector-3",
    "projector-4",
    "projector-5",
    "projector-6",
    "projector-7",
    "projector-8",
];

/// A number from `MIN` to `MAX`: the numbers of the sharded stack's extra servers and
/// instances ([`ShardNumber`], [`InstanceNumber`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoundedNumber<const MIN: u8, const MAX: u8>(u8);

impl<const MIN: u8, const MAX: u8> BoundedNumber<MIN, MAX> {
    /// `number`, if it lies from `MIN` to `MAX`.
    pub const fn new(number: u8) -> Option<Self> {
        if number >= MIN && number <= MAX {
            Some(Self(number))
        } else {
            None
        }
    }

    /// The number, from `MIN` to `MAX`.
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// The number of an extra shard of the sharded stack: 2 to 9 (shard 1 is `clickhouse`).
pub type ShardNumber = BoundedNumber<2, 9>;

/// The number of an extra projector instance of the sharded stack: 1 to 8 (instance 0
/// is `projector`).
pub type InstanceNumber = BoundedNumber<1, 8>;

/// A component of the local stack: what `scripts/stack.sh` starts and stops and what
/// has a pid file `.stack/run/<name>.pid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// ClickHouse (chdb's clickhouse-local serving HTTP, `serve.py` in a Python process;
    /// shard 1 of a sharded stack).
    ClickHouse,
    /// The Tansu broker.
    Tansu,
    /// write-api.
    WriteApi,
    /// read-api.
    ReadApi,
    /// The projector (instance 0 on a stack with several).
    Projector,
    /// The archiver.
    Archiver,
    /// nginx, the front door (a master and its workers; the pid file holds the master).
    Nginx,
    /// Another shard's ClickHouse server on the sharded stack (`clickhouse-N`).
    ClickHouseShard(ShardNumber),
    /// Another projector instance on the sharded stack (`projector-N`).
    ProjectorInstance(InstanceNumber),
}

impl Component {
    /// The components every stack has, in the order of `COMPONENTS` in `scripts/lib.sh`.
    pub const BASE: [Self; 7] = [
        Self::ClickHouse,
        Self::Tansu,
        Self::WriteApi,
        Self::ReadApi,
        Self::Projector,
        Self::Archiver,
        Self::Nginx,
    ];

    /// The components only a sharded stack can have (`SHARDS`, `PROJECTORS` > 1): the
    /// extra shards' ClickHouse servers, then the extra projector instances.
    pub fn sharded() -> impl Iterator<Item = Self> {
        let shards = (2..=9)
            .filter_map(ShardNumber::new)
            .map(Self::ClickHouseShard);
        let instances = (1..=8)
            .filter_map(InstanceNumber::new)
            .map(Self::ProjectorInstance);
        shards.chain(instances)
    }

    /// Every component a stack can have.
    pub fn every() -> impl Iterator<Item = Self> {
        Self::BASE.into_iter().chain(Self::sharded())
    }

    /// Its name in `scripts/stack.sh` and in its pid file.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ClickHouse => "clickhouse",
            Self::Tansu => "tansu",
            Self::WriteApi => "write-api",
            Self::ReadApi => "read-api",
            Self::Projector => "projector",
            Self::Archiver => "archiver",
            Self::Nginx => "nginx",
            Self::ClickHouseShard(shard) => SHARD_NAMES[shard.0 as usize - 2],
            Self::ProjectorInstance(instance) => INSTANCE_NAMES[instance.0 as usize - 1],
        }
    }

    /// The component named `name` (as `scripts/stack.sh` names it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::every().find(|component| component.name() == name)
    }

    /// Whether only a sharded stack has it.
    pub const fn is_sharded(self) -> bool {
        matches!(self, Self::ClickHouseShard(_) | Self::ProjectorInstance(_))
    }

    /// What its `/proc/<pid>/cmdline` must contain (`exe_of` in `scripts/lib.sh`): the
    /// program it runs (`serve.py` for every ClickHouse, `projector` for every instance).
    pub const fn command_mark(self) -> &'static str {
        match self {
            Self::ClickHouse | Self::ClickHouseShard(_) => "serve.py",
            Self::ProjectorInstance(_) => "projector",
            other => other.name(),
        }
    }

    /// Whether a command line (`/proc/<pid>/cmdline`, NUL bytes or spaces between the
    /// arguments) is this component's.
    pub fn runs_in(self, command_line: &str) -> bool {
        command_line.contains(self.command_mark())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_those_of_the_scripts_and_round_trip() {
        let names: Vec<&str> = Component::every().map(Component::name).collect();
        assert_eq!(
            &names[..7],
            [
                "clickhouse",
                "tansu",
                "write-api",
                "read-api",
                "projector",
                "archiver",
                "nginx"
            ]
        );
        assert_eq!(names[7], "clickhouse-2");
        assert_eq!(names[14], "clickhouse-9");
        assert_eq!(names[15], "projector-1");
        assert_eq!(names[22], "projector-8");
        assert_eq!(names.len(), 23);
        for component in Component::every() {
            assert_eq!(Component::parse(component.name()), Some(component));
        }
        assert_eq!(Component::parse("clickhouse-1"), None);
        assert_eq!(Component::parse("projector-0"), None);
        assert_eq!(Component::parse("kafka"), None);
        assert_eq!(ShardNumber::new(1), None);
        assert_eq!(ShardNumber::new(10), None);
        assert_eq!(ShardNumber::new(9).map(ShardNumber::get), Some(9));
        assert_eq!(InstanceNumber::new(0), None);
        assert_eq!(InstanceNumber::new(9), None);
        assert_eq!(InstanceNumber::new(1).map(InstanceNumber::get), Some(1));
        assert!(Component::parse("projector-1").is_some_and(Component::is_sharded));
        assert!(!Component::Projector.is_sharded());
    }

    #[test]
    fn a_command_line_is_checked_against_the_program_the_component_runs() {
        let clickhouse =
            "/repo/.stack/clickhouse/venv/bin/python\0/repo/deploy/local/serve.py\0--port\08124\0";
        assert!(Component::ClickHouse.runs_in(clickhouse));
        assert!(Component::parse("clickhouse-2").is_some_and(|shard| shard.runs_in(clickhouse)));
        assert!(!Component::Projector.runs_in(clickhouse));
        let projector = "/repo/target/release/projector\0";
        assert!(Component::Projector.runs_in(projector));
        assert!(Component::parse("projector-1").is_some_and(|instance| instance.runs_in(projector)));
        assert!(!Component::WriteApi.runs_in(projector));
        assert!(Component::Nginx.runs_in("nginx: master process nginx -c /repo/.stack/nginx.conf"));
        assert!(!Component::Tansu.runs_in("/usr/bin/bash /repo/scripts/up.sh"));
    }
}
