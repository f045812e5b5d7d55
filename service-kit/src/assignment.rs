//! Which partitions an instance of a log reader (the projector, the archiver) owns:
//! instance `i` of `n` reads every partition `p` with `p mod n = i`.
//!
//! Partitions are assigned directly (`assign`), never through a consumer group's
//! coordinator: a restarted or replacement instance owns its partitions the moment it
//! starts, whatever the broker remembers about a member that died (Tansu 0.6 keeps a
//! SIGKILLed member and never hands its partitions on). Where each partition resumes
//! comes from the reader's own durable state (the projector's batch log in ClickHouse,
//! the archiver's files), so ownership needs no coordination beyond
//! every instance being given a different number (the operator's, or the orchestrator's
//! job; two instances with one number would project the same partitions twice).

/// Instance `instance` of `instances`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    instance: u32,
    instances: u32,
}

/// An instance number that is not below the instance count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("instance {instance} does not exist among {instances} instances (0 to {last})", last = instances.saturating_sub(1))]
pub struct InvalidAssignment {
    /// The instance number given.
    pub instance: u32,
    /// The instance count given.
    pub instances: u32,
}

impl Assignment {
    /// Instance `instance` of `instances`.
    pub fn new(instance: u32, instances: u32) -> Result<Self, InvalidAssignment> {
        if instance >= instances {
            return Err(InvalidAssignment {
                instance,
                instances,
            });
        }
        Ok(Self {
            instance,
            instances,
        })
    }

    /// The only instance: it owns every partition.
    pub const fn sole() -> Self {
        Self {
            instance: 0,
            instances: 1,
        }
    }

    /// Whether this instance owns `partition`.
    pub fn owns(&self, partition: i32) -> bool {
        u32::try_from(partition).is_ok_and(|partition| partition % self.instances == self.instance)
    }

    /// The partitions of `all` this instance owns, in order.
    pub fn owned(&self, all: impl IntoIterator<Item = i32>) -> Vec<i32> {
        let mut owned: Vec<i32> = all.into_iter().filter(|p| self.owns(*p)).collect();
        owned.sort_unstable();
        owned.dedup();
        owned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_share_the_partitions_without_overlap() {
        let partitions = 0..10;
        let shares: Vec<Vec<i32>> = (0..3)
            .map(|instance| {
                Assignment::new(instance, 3)
                    .expect("valid")
                    .owned(partitions.clone())
            })
            .collect();
        assert_eq!(shares[0], vec![0, 3, 6, 9]);
        assert_eq!(shares[1], vec![1, 4, 7]);
        assert_eq!(shares[2], vec![2, 5, 8]);
        assert_eq!(
            Assignment::sole().owned(partitions),
            (0..10).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_instance_number_must_exist() {
        assert!(Assignment::new(2, 2).is_err());
        assert!(Assignment::new(0, 0).is_err());
        assert!(!Assignment::sole().owns(-1));
    }
}
