//! Profile reads, batched when they pile up.
//!
//! At most `slots` profile queries run in ClickHouse at once. A request finding a slot
//! free is read at once, alone: under the contract's load (100 a second, a few
//! milliseconds each) that is nearly every request, and a lone read is the cheapest.
//! Requests arriving while every slot is busy queue, and when a slot frees, its next
//! query reads up to `max_batch` of them together (distinct cookies, one query: see
//! `Store::profiles`). On ClickHouse 26 most of a point read's cost is per query
//! (parsing, analysis, planning: about 2 ms of a 3 ms read), so a burst is served many
//! times faster than one query per request would be.
//!
//! Admission is the gate's (`crate::gate`): a request queues while the wait it can
//! expect, the rounds of batches ahead of it times the recent batch duration, still
//! leaves room before its deadline, and is answered 503 at once when it does not. A
//! request whose deadline passes while it waits, or whose caller left, is dropped from
//! the queue unread; a batch still running at the last of its requests' deadlines is
//! dropped, and ClickHouse cancels it.

use crate::gate::{Admission, GateError};
use crate::store::{ProfileRead, Store, StoreError};
use read_model::Profile;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// What a waiting request gets back.
type Reply = Result<Profile, GateError<StoreError>>;

struct Waiting {
    read: ProfileRead,
    until: Instant,
    reply: oneshot::Sender<Reply>,
}

struct Shared {
    store: Store,
    slots: Arc<Semaphore>,
    capacity: usize,
    max_batch: usize,
    queue: Mutex<VecDeque<Waiting>>,
    admission: Admission,
}

/// Profile reads for every request of one read-api.
#[derive(Clone)]
pub struct ProfileBatcher {
    shared: Arc<Shared>,
}

impl ProfileBatcher {
    /// Reads through `store`, `slots` queries at once, up to `max_batch` requests each.
    pub fn new(store: Store, slots: usize, max_batch: usize) -> Self {
        let capacity = slots.max(1);
        Self {
            shared: Arc::new(Shared {
                store,
                slots: Arc::new(Semaphore::new(capacity)),
                capacity,
                max_batch: max_batch.max(1),
                queue: Mutex::new(VecDeque::new()),
                admission: Admission::new(capacity),
            }),
        }
    }

    /// The recent duration of one batch (or lone read).
    pub fn batch_duration(&self) -> Duration {
        self.shared.admission.recent()
    }

    /// `read`'s profile within `deadline`, or a refusal at once when it cannot be had in
    /// time.
    pub async fn read(&self, read: ProfileRead, deadline: Duration) -> Reply {
        let until = Instant::now() + deadline;
        let (sender, receiver) = oneshot::channel();
        {
            let mut queue = lock(&self.shared.queue);
            self.shared
                .admission
                .check(queue.len(), self.shared.max_batch, deadline)?;
            queue.push_back(Waiting {
                read,
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
                metrics::counter!("read_api_queries_late_total").increment(1);
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
            if lock(&shared.queue).is_empty() {
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
/// caller left or whose deadline leaves no room for a read are dropped.
fn take_batch(shared: &Shared) -> Vec<Waiting> {
    let room = shared.admission.recent();
    let now = Instant::now();
    let mut queue = lock(&shared.queue);
    let mut batch = Vec::new();
    let mut cookies = HashSet::new();
    let mut kept = VecDeque::with_capacity(queue.len());
    while let Some(waiting) = queue.pop_front() {
        if waiting.reply.is_closed() || waiting.until < now + room / 2 {
            // Dropping the sender tells the caller its answer is late.
            continue;
        }
        if batch.len() < shared.max_batch && cookies.insert(waiting.read.cookie.clone()) {
            batch.push(waiting);
        } else {
            kept.push_back(waiting);
        }
    }
    *queue = kept;
    batch
}

async fn run_batch(shared: &Shared, batch: Vec<Waiting>) {
    let until = batch
        .iter()
        .map(|waiting| waiting.until)
        .max()
        .unwrap_or_else(Instant::now);
    let reads: Vec<ProfileRead> = batch.iter().map(|waiting| waiting.read.clone()).collect();
    metrics::histogram!("read_api_profile_batch_size").record(reads.len() as f64);
    metrics::gauge!("read_api_clickhouse_queries_in_flight")
        .set((shared.capacity - shared.slots.available_permits()) as f64);
    let started = Instant::now();
    let outcome = tokio::time::timeout_at(until, shared.store.profiles(&reads)).await;
    shared.admission.record(started.elapsed());
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
