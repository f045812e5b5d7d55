//! Profile reads, batched when they pile up.
//!
//! At most `slots` profile queries run in ClickHouse at once. A request finding a slot
//! free is read at once, alone: under the contract's load (100 a second, a few
//! milliseconds each) that is nearly every request, and a lone read is the cheapest.
//! Requests arriving while every slot is busy queue, and when a slot frees, its next
//! query reads up to `max_batch` of them together (distinct cookies, one query: see
//! `read_model::profile::newest_many`). On ClickHouse 26 most of a point read's cost is per query
//! (parsing, analysis, planning: about 2 ms of a 3 ms read), so a burst is served many
//! times faster than one query per request would be.
//!
//! Admission is [`crate::admission::batch_cost`]'s: a request queues while the wait it can expect
//! (the full batches queued ahead of it, its own batch, what runs now, each priced by
//! the recent part per query and part per read, which relax toward an idle engine's
//! after a while without a batch) fits its deadline, and is answered 503
//! at once when it does not. A request whose caller left, or that can no longer be
//! answered in time even if its batch started now, is dropped from the queue unread and
//! answered 503 then, not at its deadline; a batch still running at the last of its
//! requests' deadlines is dropped, and ClickHouse cancels it. While the queue stands
//! (every request waiting, a sustained overload: [`crate::admission::standing_queue`]) admission
//! keeps it shorter, so that what it admits ends in time and the excess is refused at
//! once.

use crate::admission::batch_cost::{BatchCost, Queue};
use crate::admission::gate::GateError;
use crate::admission::standing_queue::StandingQueue;
use crate::contract::store::{ProfileRead, ProfileStore, StoreError};
use read_model::Profile;
use service_kit::metric_names::read_api as names;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// What a waiting request gets back.
type Reply = Result<Profile, GateError<StoreError>>;

struct Waiting {
    read: ProfileRead,
    queued_at: Instant,
    until: Instant,
    reply: oneshot::Sender<Reply>,
}

/// The requests waiting for a batch, and whether they form a standing queue.
struct Pending {
    waiting: VecDeque<Waiting>,
    standing: StandingQueue,
}

struct Shared {
    store: Arc<dyn ProfileStore>,
    slots: Arc<Semaphore>,
    capacity: usize,
    max_batch: usize,
    queue: Mutex<Pending>,
    cost: BatchCost,
    /// Reads in the batches running now.
    running_reads: AtomicUsize,
}

/// Profile reads for every request of one read-api.
#[derive(Clone)]
pub(crate) struct ProfileBatcher {
    shared: Arc<Shared>,
}

impl ProfileBatcher {
    /// Reads through `store` (ClickHouse's `Store`, or a double in tests), `slots`
    /// queries at once, up to `max_batch` requests each.
    pub(crate) fn new(store: impl ProfileStore, slots: usize, max_batch: usize) -> Self {
        let capacity = slots.max(1);
        let max_batch = max_batch.max(1);
        Self {
            shared: Arc::new(Shared {
                store: Arc::new(store),
                slots: Arc::new(Semaphore::new(capacity)),
                capacity,
                max_batch,
                queue: Mutex::new(Pending {
                    waiting: VecDeque::new(),
                    standing: StandingQueue::new(Instant::now()),
                }),
                cost: BatchCost::new(max_batch, Instant::now()),
                running_reads: AtomicUsize::new(0),
            }),
        }
    }

    /// `read`'s profile within `deadline`, or a refusal at once when it cannot be had in
    /// time.
    pub(crate) async fn read(&self, read: ProfileRead, deadline: Duration) -> Reply {
        let queued_at = Instant::now();
        let until = queued_at + deadline;
        let (sender, receiver) = oneshot::channel();
        {
            let mut queue = lock(&self.shared.queue);
            let at = Queue {
                ahead: queue.waiting.len(),
                running: self.shared.capacity - self.shared.slots.available_permits(),
                running_reads: self.shared.running_reads.load(Ordering::Relaxed),
                slots: self.shared.capacity,
                max_batch: self.shared.max_batch,
                standing: queue.standing.is_standing(),
            };
            if let Err(expected) = self.shared.cost.admits(at, deadline, queued_at) {
                metrics::counter!(names::QUERIES_SHED.name, "reason" => "expected_wait")
                    .increment(1);
                return Err(GateError::Busy {
                    queued: at.ahead,
                    expected,
                    deadline,
                });
            }
            queue.waiting.push_back(Waiting {
                read,
                queued_at,
                until,
                reply: sender,
            });
        }
        self.dispatch();
        match tokio::time::timeout_at(until, receiver).await {
            Ok(Ok(reply)) => reply,
            // The dispatcher dropped the request (its deadline had no room left) or the
            // deadline passed: either way the answer is late.
            Ok(Err(_)) | Err(_) => {
                metrics::counter!(names::QUERIES_LATE.name).increment(1);
                Err(GateError::Late(deadline))
            }
        }
    }

    /// Starts a dispatcher if a slot is free.
    fn dispatch(&self) {
        if let Ok(slot) = Arc::clone(&self.shared.slots).try_acquire_owned() {
            let shared = Arc::clone(&self.shared);
            tokio::spawn(serve(shared, slot));
        }
    }
}

/// Serves the queue with one slot until it is empty.
async fn serve(shared: Arc<Shared>, mut slot: OwnedSemaphorePermit) {
    loop {
        let batch = take_batch(&shared);
        if batch.is_empty() {
            drop(slot);
            // A request may have queued after the queue was found empty and before the
            // slot was released, and found no slot free: look once more.
            if lock(&shared.queue).waiting.is_empty() {
                return;
            }
            match Arc::clone(&shared.slots).try_acquire_owned() {
                Ok(again) => {
                    slot = again;
                    continue;
                }
                Err(_) => return,
            }
        }
        run_batch(&shared, batch).await;
    }
}

/// Up to `max_batch` waiting requests of distinct cookies, oldest first; requests whose
/// caller left, or whose deadline comes before a batch of this size would end, are
/// dropped (their callers answer 503 at once). Their waits tell whether the queue
/// stands.
fn take_batch(shared: &Shared) -> Vec<Waiting> {
    let now = Instant::now();
    let mut queue = lock(&shared.queue);
    if queue.waiting.is_empty() {
        queue.standing.drained(now);
        return Vec::new();
    }
    let size = queue.waiting.len().min(shared.max_batch);
    let ends = now + shared.cost.estimate(size, now);
    let mut batch = Vec::new();
    let mut cookies = HashSet::new();
    let mut kept = VecDeque::with_capacity(queue.waiting.len());
    while let Some(waiting) = queue.waiting.pop_front() {
        if waiting.reply.is_closed() {
            continue;
        }
        if cannot_finish(waiting.until, now, ends, batch.is_empty()) {
            // Dropping the sender tells the caller its answer is late.
            metrics::counter!(names::QUERIES_SHED.name, "reason" => "cannot_finish").increment(1);
            continue;
        }
        if batch.len() < shared.max_batch && cookies.insert(waiting.read.cookie.clone()) {
            let wait = now.saturating_duration_since(waiting.queued_at);
            queue.standing.served(wait, now);
            batch.push(waiting);
        } else {
            kept.push_back(waiting);
        }
    }
    queue.waiting = kept;
    batch
}

/// Whether a request due `until` is dropped from a batch expected to end at `ends`: when
/// its deadline has passed, or when it comes before the batch's end, except for a
/// batch's first request. That one always runs while its deadline has not passed: only
/// finished batches bring the estimate down after a slow spell (ClickHouse paused, every
/// batch cut at the deadline), and dropping every request on the estimate's word would
/// never run one again.
fn cannot_finish(until: Instant, now: Instant, ends: Instant, first: bool) -> bool {
    until <= now || (!first && until < ends)
}

async fn run_batch(shared: &Shared, batch: Vec<Waiting>) {
    let until = batch
        .iter()
        .map(|waiting| waiting.until)
        .max()
        .unwrap_or_else(Instant::now);
    let reads: Vec<ProfileRead> = batch.iter().map(|waiting| waiting.read.clone()).collect();
    metrics::histogram!(names::PROFILE_BATCH_SIZE.name).record(reads.len() as f64);
    metrics::gauge!(names::CLICKHOUSE_QUERIES_IN_FLIGHT.name)
        .set((shared.capacity - shared.slots.available_permits()) as f64);
    let started = Instant::now();
    shared
        .running_reads
        .fetch_add(reads.len(), Ordering::Relaxed);
    let outcome = tokio::time::timeout_at(until, shared.store.read_profiles(&reads)).await;
    shared
        .running_reads
        .fetch_sub(reads.len(), Ordering::Relaxed);
    shared
        .cost
        .record(reads.len(), started.elapsed(), Instant::now());
    match outcome {
        Ok(Ok(profiles)) => {
            for (waiting, profile) in batch.into_iter().zip(profiles) {
                let _ = waiting.reply.send(Ok(profile));
            }
        }
        Ok(Err(error)) => {
            let error = Arc::new(error);
            for waiting in batch {
                let _ = waiting
                    .reply
                    .send(Err(GateError::Query(StoreError::Batch(Arc::clone(&error)))));
            }
        }
        // Every caller's deadline has passed: they answered 503 already.
        Err(_) => {}
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_always_runs_its_first_request_while_it_can_still_be_answered() {
        let now = Instant::now();
        let ends = now + Duration::from_millis(200);
        let until = now + Duration::from_millis(150);
        // The estimate says the batch ends past the deadline (after a slow spell):
        // the first request runs anyway, the others are dropped.
        assert!(!cannot_finish(until, now, ends, true));
        assert!(cannot_finish(until, now, ends, false));
        // A deadline already passed is dropped, first or not.
        assert!(cannot_finish(now, now, ends, true));
        // A deadline after the batch's end is kept.
        assert!(!cannot_finish(
            ends + Duration::from_millis(1),
            now,
            ends,
            false
        ));
    }
}
