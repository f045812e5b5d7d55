//! The profile cache's data, free of I/O: the log's tail (every tag read from the topic
//! that the projector may not have put into ClickHouse yet) and the cached profiles
//! (a cookie's newest tags as ClickHouse held them, kept up to date from the tail).
//!
//! The invariant that makes an answer from here exact: a cached profile holds every
//! tag of its cookie that ClickHouse held at its read, plus every tag of the cookie
//! the log holds from the projector's watermark at that read onwards. ClickHouse held
//! every offset below that watermark, so nothing the log holds is missing. Copies of a
//! tag (one cookie, action and event time) resolve as the store resolves them: the
//! copy from the latest offset wins.

use super::outside::OutsideTail;
use lru::LruCache;
use read_model::Profile;
use schemas::{Action, UserTag};
use service_kit::metric_names::read_api as names;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::num::NonZeroUsize;

/// Offsets by partition: a projector watermark (every offset below it is in
/// ClickHouse) or a tail bound.
pub(crate) type Offsets = BTreeMap<i32, i64>;

/// A tag read from the log, with where it sits there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoggedTag {
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
    /// The tag.
    pub tag: UserTag,
}

/// What a cache lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The exact answer, from the cookie's cached profile.
    Hit(Profile),
    /// The exact answer, from the tail alone: every tag of the cookie in the asked range
    /// is there (see [`OutsideTail`]). The cookie is cached from then on.
    Whole(Profile),
    /// The cookie is cached but the asked range reaches below what it holds.
    Short,
    /// The cookie is not cached (or the cache cannot answer now).
    Miss,
}

/// Why a profile read from ClickHouse could not be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FillRefused {
    /// The tail no longer holds every tag from the read's watermark (it was evicted
    /// past it, or tags were dropped while the tail was full).
    #[error("the log's tail does not reach back to the read's watermark")]
    TailTooShort,
}

/// One action's cached tags.
#[derive(Debug, Clone, Default)]
struct ActionTags {
    /// Newest first, one per event time: (event time, offset, tag). Tags read from
    /// ClickHouse carry no offset (`i64::MIN`): any copy from the tail is newer.
    tags: Vec<(i64, i64, UserTag)>,
    /// Every stored tag of this action at or after this event time is here
    /// (`i64::MIN`: every stored tag).
    floor_ms: i64,
}

impl ActionTags {
    /// The tags of a read of the newest `asked` tags at or after `from_ms`: when it
    /// found fewer, it found every one; else every one down to the oldest it found.
    fn from_read(tags: &[UserTag], asked: usize, from_ms: i64) -> Self {
        let tags: Vec<_> = tags
            .iter()
            .map(|tag| (tag.time.millis(), i64::MIN, tag.clone()))
            .collect();
        let floor_ms = match tags.last() {
            Some((oldest, _, _)) if tags.len() >= asked => (*oldest).max(from_ms),
            _ => from_ms,
        };
        Self { tags, floor_ms }
    }

    /// Adds a tag from the log; of two copies of one event time, the later offset wins.
    fn add(&mut self, offset: i64, tag: &UserTag) {
        let time = tag.time.millis();
        match self.tags.binary_search_by(|(probe, _, _)| time.cmp(probe)) {
            Ok(at) => {
                if offset >= self.tags[at].1 {
                    self.tags[at] = (time, offset, tag.clone());
                }
            }
            Err(at) => self.tags.insert(at, (time, offset, tag.clone())),
        }
    }

    /// Bytes its tags hold: their slots and their strings.
    fn bytes(&self) -> usize {
        self.tags.capacity() * std::mem::size_of::<(i64, i64, UserTag)>()
            + self
                .tags
                .iter()
                .map(|(_, _, tag)| tag.heap_bytes())
                .sum::<usize>()
    }

    /// Drops the oldest tags beyond `keep` once there are more than `2 * keep`: what is
    /// left is still every stored tag from the new floor on.
    fn bound(&mut self, keep: usize) {
        if self.tags.len() > keep.saturating_mul(2) {
            self.tags.truncate(keep);
            let oldest = self.tags.last().map_or(i64::MIN, |(time, _, _)| *time);
            self.floor_ms = self.floor_ms.max(oldest);
        }
    }

    /// The newest `limit` tags in `[from, to)`, or `None` when tags older than the floor
    /// would be needed.
    fn newest(&self, from_ms: i64, to_ms: i64, limit: usize) -> Option<Vec<UserTag>> {
        let mut found = Vec::new();
        for (time, _, tag) in &self.tags {
            if found.len() >= limit {
                return Some(found);
            }
            if *time >= to_ms {
                continue;
            }
            if *time < from_ms {
                break;
            }
            if *time < self.floor_ms {
                return None;
            }
            found.push(tag.clone());
        }
        (found.len() >= limit || from_ms >= self.floor_ms).then_some(found)
    }
}

/// A profile read from ClickHouse for the cache: the newest `asked` tags of each
/// action at or after `from_ms` (any time after).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FillRead<'a> {
    /// What the read found.
    pub profile: &'a Profile,
    /// Tags of each action it asked for.
    pub asked: usize,
    /// The oldest event time it asked for.
    pub from_ms: i64,
}

impl FillRead<'_> {
    fn entry(&self) -> Entry {
        Entry {
            views: ActionTags::from_read(&self.profile.views, self.asked, self.from_ms),
            buys: ActionTags::from_read(&self.profile.buys, self.asked, self.from_ms),
            bytes: 0,
        }
    }

    /// The answer to a query from this read alone, when it holds it.
    pub(crate) fn answer(&self, from_ms: i64, to_ms: i64, limit: u64) -> Option<Profile> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let entry = self.entry();
        Some(Profile {
            views: entry.views.newest(from_ms, to_ms, limit)?,
            buys: entry.buys.newest(from_ms, to_ms, limit)?,
        })
    }
}

/// A cached profile.
#[derive(Debug, Clone, Default)]
struct Entry {
    views: ActionTags,
    buys: ActionTags,
    /// What it costs the cache's byte budget, as last measured ([`Entry::measure`]).
    bytes: usize,
}

/// What the cache's map spends on an entry beside the entry itself and its key's text:
/// the key's `String`, the map's node and its slot (an estimate: `lru`'s node holds the
/// key, the value and two links; the hash table a pointer and its control byte).
const ENTRY_OVERHEAD_BYTES: usize = 2 * std::mem::size_of::<String>() + 32;

impl Entry {
    /// Bytes the entry holds, `cookie`'s text and the map's share included.
    fn measure(&self, cookie: &str) -> usize {
        std::mem::size_of::<Entry>()
            + ENTRY_OVERHEAD_BYTES
            + cookie.len()
            + self.views.bytes()
            + self.buys.bytes()
    }

    fn action_mut(&mut self, action: Action) -> &mut ActionTags {
        match action {
            Action::View => &mut self.views,
            Action::Buy => &mut self.buys,
        }
    }
}

/// Sizes of the cache.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Cookies cached at most (least recently asked go first).
    pub cookies: NonZeroUsize,
    /// Bytes the cached profiles hold at most (their tags and keys as the program holds
    /// them, the allocator's overhead aside; least recently asked go first). A shopper
    /// with a full history holds hundreds of tags, another a few: the cookie count alone
    /// does not bound the memory.
    pub bytes: usize,
    /// Tags the tail holds at most; beyond, new tags are dropped and the cache empties
    /// until the projector has caught up past them.
    pub tail_tags: usize,
    /// Tags each action of a cached profile keeps at least (at most twice as many).
    pub per_action: usize,
}

/// The tail and the cached profiles.
#[derive(Debug)]
pub(crate) struct CacheState {
    limits: Limits,
    /// Tags of the tail by cookie, oldest first.
    tail: HashMap<String, VecDeque<LoggedTag>>,
    /// The tail's (offset, cookie) by partition, oldest first, for eviction.
    order: BTreeMap<i32, VecDeque<(i64, String)>>,
    tail_len: usize,
    /// Per partition, every tag from this offset on is in the tail (as far as read).
    tail_from: Offsets,
    entries: LruCache<String, Entry>,
    /// Bytes the cached profiles hold (the sum of their [`Entry::bytes`]).
    bytes: usize,
    /// The cookies that may have tags outside the tail.
    outside: OutsideTail,
    /// Whether the tail is close enough behind the log for answers.
    caught_up: bool,
}

impl CacheState {
    /// An empty cache whose tail starts at `start` (the projector's watermark when the
    /// tail's consumer started), when every tag ClickHouse holds below `start` is older
    /// than `stored_before_ms` (one past the newest event time it held, read after
    /// `start`).
    pub(crate) fn new(limits: Limits, start: Offsets, stored_before_ms: i64) -> Self {
        Self::with_outside(limits, start, OutsideTail::new(stored_before_ms))
    }

    /// [`CacheState::new`] with its record of the cookies outside the tail given.
    pub(crate) fn with_outside(limits: Limits, start: Offsets, outside: OutsideTail) -> Self {
        Self {
            limits,
            tail: HashMap::new(),
            order: BTreeMap::new(),
            tail_len: 0,
            tail_from: start,
            entries: LruCache::new(limits.cookies),
            bytes: 0,
            outside,
            caught_up: false,
        }
    }

    /// Tags in the tail.
    pub(crate) fn tail_len(&self) -> usize {
        self.tail_len
    }

    /// Cookies cached.
    pub(crate) fn cached_cookies(&self) -> usize {
        self.entries.len()
    }

    /// Bytes the cached profiles hold (see [`Limits::bytes`]).
    pub(crate) fn cached_bytes(&self) -> usize {
        self.bytes
    }

    /// Caches `entry` as `cookie`'s profile (replacing what was cached for it), then
    /// brings the cache back within its budget.
    fn cache(&mut self, cookie: String, entry: Entry) {
        cache_within(
            &mut self.entries,
            &mut self.bytes,
            self.limits.bytes,
            cookie,
            entry,
        );
    }

    /// Drops the least recently asked profiles until the rest fit the byte budget.
    fn within_budget(&mut self) {
        drop_beyond(&mut self.entries, &mut self.bytes, self.limits.bytes);
    }

    /// Whether the tail is close enough behind the log for answers.
    pub(crate) fn caught_up(&self) -> bool {
        self.caught_up
    }

    /// Sets whether the tail is close enough behind the log for answers.
    pub(crate) fn set_caught_up(&mut self, caught_up: bool) {
        self.caught_up = caught_up;
    }

    /// Adds a tag read from the log to the tail, and to its cookie's cached profile.
    /// When the tail is full the tag is dropped instead: every cached profile goes, and
    /// nothing is cached again until the projector's watermark passes it.
    pub(crate) fn push(&mut self, logged: LoggedTag) {
        if self.tail_len >= self.limits.tail_tags {
            self.outside
                .record(&logged.tag.cookie, logged.tag.time.millis());
            self.skip(logged.partition, logged.offset);
            return;
        }
        if let Some(entry) = self.entries.peek_mut(&logged.tag.cookie) {
            let tags = entry.action_mut(logged.tag.action);
            tags.add(logged.offset, &logged.tag);
            tags.bound(self.limits.per_action);
            let before = entry.bytes;
            entry.bytes = entry.measure(&logged.tag.cookie);
            self.bytes = self.bytes - before + entry.bytes;
        }
        self.within_budget();
        self.order
            .entry(logged.partition)
            .or_default()
            .push_back((logged.offset, logged.tag.cookie.clone()));
        self.tail
            .entry(logged.tag.cookie.clone())
            .or_default()
            .push_back(logged);
        self.tail_len += 1;
    }

    /// Leaves the record at `offset` out of the tail: every cached profile goes, and
    /// nothing is cached again until the projector's watermark passes it.
    pub(crate) fn skip(&mut self, partition: i32, offset: i64) {
        metrics::counter!(names::PROFILE_CACHE_TAIL_SKIPPED.name).increment(1);
        let from = self.tail_from.entry(partition).or_insert(0);
        *from = (*from).max(offset + 1);
        self.entries.clear();
        self.bytes = 0;
    }

    /// Drops from the tail every tag below `watermark` (tags ClickHouse holds): call it
    /// with a watermark older than any read still being cached.
    pub(crate) fn evict_below(&mut self, watermark: &Offsets) {
        for (partition, below) in watermark {
            let Some(order) = self.order.get_mut(partition) else {
                continue;
            };
            while let Some((offset, _)) = order.front() {
                if offset >= below {
                    break;
                }
                let Some((_, cookie)) = order.pop_front() else {
                    break;
                };
                // A shopper the tail holds whole stays answerable from memory once its
                // tags leave the tail: cached from the tail before the first one goes.
                if !self.entries.contains(&cookie) {
                    if let Some(whole_from) = self.outside.whole_from(&cookie) {
                        let entry = whole_entry(&self.tail, &cookie, whole_from, self.limits);
                        cache_within(
                            &mut self.entries,
                            &mut self.bytes,
                            self.limits.bytes,
                            cookie.clone(),
                            entry,
                        );
                    }
                }
                if let Some(tags) = self.tail.get_mut(&cookie) {
                    if let Some(at) = tags
                        .iter()
                        .position(|tag| tag.partition == *partition && tag.offset < *below)
                    {
                        if let Some(evicted) = tags.remove(at) {
                            self.outside.record(&cookie, evicted.tag.time.millis());
                            self.tail_len -= 1;
                        }
                    }
                    if tags.is_empty() {
                        self.tail.remove(&cookie);
                    }
                }
            }
            let from = self.tail_from.entry(*partition).or_insert(0);
            *from = (*from).max(*below);
        }
    }

    /// Caches `cookie`'s profile as read from ClickHouse when the projector's
    /// watermark was `watermark` (taken before the read), with every tag of the tail
    /// from that watermark on. Replaces what was cached for the cookie.
    pub(crate) fn fill(
        &mut self,
        cookie: &str,
        read: FillRead<'_>,
        watermark: &Offsets,
    ) -> Result<(), FillRefused> {
        let reaches = self
            .tail_from
            .iter()
            .all(|(partition, from)| watermark.get(partition).copied().unwrap_or(0) >= *from);
        if !reaches {
            return Err(FillRefused::TailTooShort);
        }
        let mut entry = read.entry();
        if let Some(tags) = self.tail.get(cookie) {
            for logged in tags {
                let below = watermark.get(&logged.partition).copied().unwrap_or(0);
                if logged.offset >= below {
                    entry
                        .action_mut(logged.tag.action)
                        .add(logged.offset, &logged.tag);
                }
            }
        }
        entry.views.bound(self.limits.per_action);
        entry.buys.bound(self.limits.per_action);
        self.cache(cookie.to_owned(), entry);
        Ok(())
    }

    /// `cookie`'s newest `limit` tags of each action in `[from_ms, to_ms)`.
    pub(crate) fn lookup(&mut self, cookie: &str, from_ms: i64, to_ms: i64, limit: u64) -> Lookup {
        if !self.caught_up {
            return Lookup::Miss;
        }
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if !self.entries.contains(cookie) {
            return self.lookup_whole(cookie, from_ms, to_ms, limit);
        }
        let Some(entry) = self.entries.get(cookie) else {
            return Lookup::Miss;
        };
        match (
            entry.views.newest(from_ms, to_ms, limit),
            entry.buys.newest(from_ms, to_ms, limit),
        ) {
            (Some(views), Some(buys)) => Lookup::Hit(Profile { views, buys }),
            _ => Lookup::Short,
        }
    }

    /// The answer from the tail alone, when it holds every tag of `cookie` from
    /// `from_ms` on; the cookie's profile is cached from the tail then.
    fn lookup_whole(&mut self, cookie: &str, from_ms: i64, to_ms: i64, limit: usize) -> Lookup {
        let Some(whole_from) = self.outside.whole_from(cookie) else {
            return Lookup::Miss;
        };
        if from_ms < whole_from {
            return Lookup::Miss;
        }
        let entry = whole_entry(&self.tail, cookie, whole_from, self.limits);
        let answer = match (
            entry.views.newest(from_ms, to_ms, limit),
            entry.buys.newest(from_ms, to_ms, limit),
        ) {
            (Some(views), Some(buys)) => Lookup::Whole(Profile { views, buys }),
            _ => Lookup::Miss,
        };
        self.cache(cookie.to_owned(), entry);
        answer
    }
}

/// Caches `entry` as `cookie`'s profile in `entries`, whose profiles hold `bytes` (kept
/// up to date), then drops the least recently asked ones beyond `budget` bytes. (A
/// function of the fields, so the tail can be borrowed meanwhile.)
fn cache_within(
    entries: &mut LruCache<String, Entry>,
    bytes: &mut usize,
    budget: usize,
    cookie: String,
    mut entry: Entry,
) {
    entry.bytes = entry.measure(&cookie);
    *bytes += entry.bytes;
    // `push` gives back the entry it replaced, or the least recently asked one it
    // dropped to stay within the cookie count.
    if let Some((_, gone)) = entries.push(cookie, entry) {
        *bytes -= gone.bytes;
    }
    drop_beyond(entries, bytes, budget);
}

/// Drops the least recently asked profiles of `entries` until they hold at most
/// `budget` bytes.
fn drop_beyond(entries: &mut LruCache<String, Entry>, bytes: &mut usize, budget: usize) {
    while *bytes > budget {
        let Some((_, gone)) = entries.pop_lru() else {
            break;
        };
        *bytes -= gone.bytes;
    }
}

/// `cookie`'s profile from the tail alone, complete from `whole_from` on.
fn whole_entry(
    tail: &HashMap<String, VecDeque<LoggedTag>>,
    cookie: &str,
    whole_from: i64,
    limits: Limits,
) -> Entry {
    let empty = ActionTags {
        tags: Vec::new(),
        floor_ms: whole_from,
    };
    let mut entry = Entry {
        views: empty.clone(),
        buys: empty,
        bytes: 0,
    };
    for logged in tail.get(cookie).into_iter().flatten() {
        entry
            .action_mut(logged.tag.action)
            .add(logged.offset, &logged.tag);
    }
    entry.views.bound(limits.per_action);
    entry.buys.bound(limits.per_action);
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{Device, EventTime, ProductId, ProductInfo, TagTime};

    fn tag(cookie: &str, action: Action, time_ms: i64, price: i32) -> UserTag {
        UserTag {
            time: TagTime::from(EventTime::from_millis(time_ms)),
            cookie: cookie.into(),
            country: "PL".into(),
            device: Device::Pc,
            action,
            origin: "o".into(),
            product_info: ProductInfo {
                product_id: ProductId::Number(1),
                brand_id: "b".into(),
                category_id: "c".into(),
                price,
            },
        }
    }

    fn logged(offset: i64, tag: UserTag) -> LoggedTag {
        LoggedTag {
            partition: 0,
            offset,
            tag,
        }
    }

    fn limits() -> Limits {
        Limits {
            cookies: NonZeroUsize::new(10).expect("non-zero"),
            bytes: usize::MAX,
            tail_tags: 100,
            per_action: 3,
        }
    }

    /// What caching `cookie` with `read` alone costs the byte budget.
    fn entry_bytes(cookie: &str, read: &Profile) -> usize {
        let entry = all(read, 5).entry();
        entry.measure(cookie)
    }

    #[test]
    fn a_byte_budget_drops_the_least_recently_asked_profiles() {
        let profile = |cookie: &str| Profile {
            views: vec![
                tag(cookie, Action::View, 40, 1),
                tag(cookie, Action::View, 30, 1),
            ],
            buys: vec![tag(cookie, Action::Buy, 35, 1)],
        };
        let one = entry_bytes("a", &profile("a"));
        assert!(one > 3 * std::mem::size_of::<UserTag>(), "{one}");
        let mut state = CacheState::new(
            Limits {
                bytes: 2 * one,
                ..limits()
            },
            offsets(0),
            NOTHING_WHOLE,
        );
        state.set_caught_up(true);
        state
            .fill("a", all(&profile("a"), 5), &offsets(0))
            .expect("fills");
        state
            .fill("b", all(&profile("b"), 5), &offsets(0))
            .expect("fills");
        assert_eq!((state.cached_cookies(), state.cached_bytes()), (2, 2 * one));
        // "a" asked again: "b" is now the least recently asked, and goes for "c".
        assert!(matches!(state.lookup("a", 0, 100, 5), Lookup::Hit(_)));
        state
            .fill("c", all(&profile("c"), 5), &offsets(0))
            .expect("fills");
        assert_eq!((state.cached_cookies(), state.cached_bytes()), (2, 2 * one));
        assert_eq!(state.lookup("b", 0, 100, 5), Lookup::Miss);
        assert!(matches!(state.lookup("a", 0, 100, 5), Lookup::Hit(_)));
        assert!(matches!(state.lookup("c", 0, 100, 5), Lookup::Hit(_)));
        // A profile that grows from the log past the budget pushes the other one out.
        for (offset, time) in [(0, 50), (1, 60), (2, 70)] {
            state.push(logged(offset, tag("c", Action::Buy, time, 1)));
        }
        assert_eq!(state.cached_cookies(), 1);
        assert!(state.cached_bytes() <= 2 * one, "{}", state.cached_bytes());
        assert_eq!(state.lookup("a", 0, 100, 5), Lookup::Miss);
        assert_eq!(
            times(&hit(state.lookup("c", 0, 100, 5)).buys),
            vec![70, 60, 50, 35]
        );
    }

    #[test]
    fn the_byte_count_follows_every_change_of_the_cache() {
        let mut state = ready(0);
        let read = Profile {
            views: vec![tag("a", Action::View, 40, 1)],
            buys: vec![],
        };
        state.fill("a", all(&read, 5), &offsets(0)).expect("fills");
        let filled = state.cached_bytes();
        assert_eq!(filled, entry_bytes("a", &read));
        state.push(logged(0, tag("a", Action::View, 50, 1)));
        let grown = state.cached_bytes();
        assert!(grown > filled, "{grown} after {filled}");
        // Filled again from a read that holds the logged tag (the watermark past it):
        // replaced, not added.
        state.fill("a", all(&read, 5), &offsets(1)).expect("fills");
        let refilled = state.cached_bytes();
        assert_eq!(refilled, filled);
        let mut sum = 0;
        for (cookie, entry) in &state.entries {
            assert_eq!(entry.bytes, entry.measure(cookie));
            sum += entry.bytes;
        }
        assert_eq!(sum, refilled);
        state.skip(0, 5);
        assert_eq!((state.cached_cookies(), state.cached_bytes()), (0, 0));
    }

    fn offsets(at: i64) -> Offsets {
        BTreeMap::from([(0, at)])
    }

    fn times(tags: &[UserTag]) -> Vec<i64> {
        tags.iter().map(|tag| tag.time.millis()).collect()
    }

    fn hit(lookup: Lookup) -> Profile {
        match lookup {
            Lookup::Hit(profile) => profile,
            other => panic!("expected a hit, got {other:?}"),
        }
    }

    fn all(profile: &Profile, asked: usize) -> FillRead<'_> {
        FillRead {
            profile,
            asked,
            from_ms: i64::MIN,
        }
    }

    /// Nothing is known whole: every cookie may have tags outside the tail.
    const NOTHING_WHOLE: i64 = i64::MAX;

    fn ready(start: i64) -> CacheState {
        let mut state = CacheState::new(limits(), offsets(start), NOTHING_WHOLE);
        state.set_caught_up(true);
        state
    }

    #[test]
    fn a_read_alone_answers_what_it_holds() {
        let read = Profile {
            views: vec![tag("a", Action::View, 40, 1), tag("a", Action::View, 30, 1)],
            buys: vec![tag("a", Action::Buy, 35, 1)],
        };
        let answer = all(&read, 2).answer(32, 100, 5).expect("held");
        assert_eq!(times(&answer.views), vec![40]);
        assert_eq!(times(&answer.buys), vec![35]);
        assert_eq!(all(&read, 2).answer(0, 100, 5), None);
        assert!(all(&read, 3).answer(0, 100, 5).is_some());
    }

    #[test]
    fn a_read_from_a_time_on_holds_only_what_is_after_it() {
        let mut state = ready(0);
        let read = Profile {
            views: vec![tag("a", Action::View, 40, 1), tag("a", Action::View, 30, 1)],
            buys: vec![],
        };
        let fill = FillRead {
            profile: &read,
            asked: 5,
            from_ms: 30,
        };
        state.fill("a", fill, &offsets(0)).expect("fills");
        assert_eq!(
            times(&hit(state.lookup("a", 30, 100, 5)).views),
            vec![40, 30]
        );
        assert_eq!(times(&hit(state.lookup("a", 35, 100, 5)).views), vec![40]);
        assert_eq!(state.lookup("a", 20, 100, 5), Lookup::Short);
        // One view is enough, but buys before 30 are unknown.
        assert_eq!(state.lookup("a", 20, 100, 1), Lookup::Short);
    }

    #[test]
    fn a_cookie_never_read_is_a_miss() {
        let mut state = ready(0);
        state.push(logged(0, tag("a", Action::View, 10, 1)));
        assert_eq!(state.lookup("a", 0, 100, 10), Lookup::Miss);
    }

    #[test]
    fn tags_logged_after_the_read_join_the_answer() {
        let mut state = ready(0);
        let read = Profile {
            views: vec![tag("a", Action::View, 10, 1)],
            buys: vec![],
        };
        state.fill("a", all(&read, 3), &offsets(1)).expect("fills");
        state.push(logged(1, tag("a", Action::View, 20, 1)));
        state.push(logged(2, tag("a", Action::Buy, 15, 1)));
        state.push(logged(3, tag("b", Action::View, 30, 1)));
        let profile = hit(state.lookup("a", 0, 100, 10));
        assert_eq!(times(&profile.views), vec![20, 10]);
        assert_eq!(times(&profile.buys), vec![15]);
    }

    #[test]
    fn tail_tags_between_the_watermark_and_the_read_join_once() {
        let mut state = ready(0);
        // Offsets 0..2 are in ClickHouse (watermark 2) but the read saw offset 2 too.
        state.push(logged(0, tag("a", Action::View, 10, 1)));
        state.push(logged(1, tag("a", Action::View, 11, 1)));
        state.push(logged(2, tag("a", Action::View, 12, 1)));
        let read = Profile {
            views: vec![
                tag("a", Action::View, 12, 1),
                tag("a", Action::View, 11, 1),
                tag("a", Action::View, 10, 1),
            ],
            buys: vec![],
        };
        state.fill("a", all(&read, 5), &offsets(2)).expect("fills");
        let profile = hit(state.lookup("a", 0, 100, 10));
        assert_eq!(times(&profile.views), vec![12, 11, 10]);
    }

    #[test]
    fn of_two_copies_the_later_offset_wins() {
        let mut state = ready(0);
        let read = Profile {
            views: vec![tag("a", Action::View, 10, 1)],
            buys: vec![],
        };
        state.fill("a", all(&read, 3), &offsets(5)).expect("fills");
        state.push(logged(5, tag("a", Action::View, 10, 7)));
        state.push(logged(6, tag("a", Action::View, 10, 9)));
        let profile = hit(state.lookup("a", 0, 100, 10));
        assert_eq!(profile.views.len(), 1);
        assert_eq!(profile.views[0].product_info.price, 9);
    }

    #[test]
    fn ranges_and_limits_are_applied_newest_first() {
        let mut state = ready(0);
        let read = Profile {
            views: vec![
                tag("a", Action::View, 40, 1),
                tag("a", Action::View, 30, 1),
                tag("a", Action::View, 20, 1),
            ],
            buys: vec![],
        };
        state.fill("a", all(&read, 5), &offsets(0)).expect("fills");
        assert_eq!(
            times(&hit(state.lookup("a", 20, 40, 10)).views),
            vec![30, 20]
        );
        assert_eq!(
            times(&hit(state.lookup("a", 0, 100, 2)).views),
            vec![40, 30]
        );
        assert_eq!(
            times(&hit(state.lookup("a", 50, 60, 2)).views),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn a_range_below_what_a_full_read_holds_is_short() {
        let mut state = ready(0);
        // The read asked for 2 and got 2: older tags may exist in ClickHouse.
        let read = Profile {
            views: vec![tag("a", Action::View, 40, 1), tag("a", Action::View, 30, 1)],
            buys: vec![],
        };
        state.fill("a", all(&read, 2), &offsets(0)).expect("fills");
        assert_eq!(
            times(&hit(state.lookup("a", 0, 100, 2)).views),
            vec![40, 30]
        );
        assert_eq!(
            times(&hit(state.lookup("a", 30, 100, 5)).views),
            vec![40, 30]
        );
        assert_eq!(state.lookup("a", 0, 100, 3), Lookup::Short);
        assert_eq!(state.lookup("a", 0, 35, 5), Lookup::Short);
    }

    #[test]
    fn a_tag_below_the_floor_does_not_vouch_for_the_range_above_it() {
        let mut state = ready(0);
        let read = Profile {
            views: vec![tag("a", Action::View, 40, 1), tag("a", Action::View, 30, 1)],
            buys: vec![],
        };
        state.fill("a", all(&read, 2), &offsets(0)).expect("fills");
        // An out-of-order tag far below the floor: tags between it and the floor may be
        // stored without being here.
        state.push(logged(0, tag("a", Action::View, 5, 1)));
        assert_eq!(state.lookup("a", 10, 100, 5), Lookup::Short);
        assert_eq!(state.lookup("a", 0, 100, 5), Lookup::Short);
    }

    #[test]
    fn a_profile_grown_past_twice_its_keep_forgets_its_oldest() {
        let mut state = ready(0);
        state
            .fill("a", all(&Profile::default(), 3), &offsets(0))
            .expect("fills");
        for (offset, time) in (0..7).zip([10, 20, 30, 40, 50, 60, 70]) {
            state.push(logged(offset, tag("a", Action::View, time, 1)));
        }
        // 7 > 2 * 3: the newest 3 are kept, and the floor is the oldest of them.
        assert_eq!(
            times(&hit(state.lookup("a", 0, 100, 3)).views),
            vec![70, 60, 50]
        );
        assert_eq!(state.lookup("a", 0, 100, 4), Lookup::Short);
        assert_eq!(
            times(&hit(state.lookup("a", 0, 100, 3)).buys),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn nothing_is_answered_while_the_tail_lags() {
        let mut state = ready(0);
        state
            .fill("a", all(&Profile::default(), 3), &offsets(0))
            .expect("fills");
        state.set_caught_up(false);
        assert_eq!(state.lookup("a", 0, 100, 3), Lookup::Miss);
    }

    #[test]
    fn a_read_whose_watermark_the_tail_no_longer_reaches_is_not_cached() {
        let mut state = ready(0);
        state.push(logged(0, tag("a", Action::View, 10, 1)));
        state.push(logged(1, tag("a", Action::View, 11, 1)));
        state.evict_below(&offsets(2));
        assert_eq!(state.tail_len(), 0);
        assert_eq!(
            state.fill("a", all(&Profile::default(), 3), &offsets(1)),
            Err(FillRefused::TailTooShort)
        );
        assert!(state
            .fill("a", all(&Profile::default(), 3), &offsets(2))
            .is_ok());
    }

    #[test]
    fn a_full_tail_drops_tags_and_every_cached_profile_until_the_watermark_passes() {
        let mut state = CacheState::new(
            Limits {
                tail_tags: 2,
                ..limits()
            },
            offsets(0),
            NOTHING_WHOLE,
        );
        state.set_caught_up(true);
        state
            .fill("a", all(&Profile::default(), 3), &offsets(0))
            .expect("fills");
        state.push(logged(0, tag("a", Action::View, 10, 1)));
        state.push(logged(1, tag("a", Action::View, 11, 1)));
        state.push(logged(2, tag("a", Action::View, 12, 1)));
        assert_eq!(state.lookup("a", 0, 100, 3), Lookup::Miss);
        assert_eq!(
            state.fill("a", all(&Profile::default(), 3), &offsets(2)),
            Err(FillRefused::TailTooShort)
        );
        state.evict_below(&offsets(3));
        assert_eq!(state.tail_len(), 0);
        assert!(state
            .fill("a", all(&Profile::default(), 3), &offsets(3))
            .is_ok());
    }

    #[test]
    fn eviction_keeps_tags_at_or_above_the_watermark() {
        let mut state = ready(0);
        for offset in 0..5 {
            state.push(logged(offset, tag("a", Action::View, offset * 10, 1)));
        }
        state.evict_below(&offsets(3));
        assert_eq!(state.tail_len(), 2);
        state
            .fill("a", all(&Profile::default(), 3), &offsets(3))
            .expect("fills");
        assert_eq!(
            times(&hit(state.lookup("a", 0, 100, 10)).views),
            vec![40, 30]
        );
    }

    /// A cache whose tail starts at offset 0, ClickHouse having held tags older than
    /// `stored_before_ms` only.
    fn ready_stored_before(stored_before_ms: i64) -> CacheState {
        let mut state = CacheState::new(limits(), offsets(0), stored_before_ms);
        state.set_caught_up(true);
        state
    }

    fn whole(lookup: Lookup) -> Profile {
        match lookup {
            Lookup::Whole(profile) => profile,
            other => panic!("expected an answer from the tail, got {other:?}"),
        }
    }

    #[test]
    fn a_shopper_first_seen_in_the_tail_is_answered_from_it_and_cached() {
        let mut state = ready_stored_before(100);
        state.push(logged(0, tag("new", Action::View, 120, 1)));
        state.push(logged(1, tag("new", Action::Buy, 130, 2)));
        state.push(logged(2, tag("new", Action::View, 140, 3)));
        state.push(logged(3, tag("other", Action::View, 150, 4)));
        let profile = whole(state.lookup("new", 100, 1_000, 200));
        assert_eq!(times(&profile.views), [140, 120]);
        assert_eq!(times(&profile.buys), [130]);
        // Cached from then on: later tags join it, and it stays after the tail evicts.
        state.push(logged(4, tag("new", Action::View, 160, 5)));
        state.evict_below(&offsets(5));
        let profile = hit(state.lookup("new", 110, 1_000, 2));
        assert_eq!(times(&profile.views), [160, 140]);
    }

    #[test]
    fn a_range_reaching_before_what_the_tail_holds_whole_goes_to_clickhouse() {
        let mut state = ready_stored_before(100);
        state.push(logged(0, tag("new", Action::View, 120, 1)));
        assert_eq!(state.lookup("new", 99, 1_000, 200), Lookup::Miss);
        assert_eq!(state.lookup("never-seen", 99, 1_000, 200), Lookup::Miss);
        // From the start on, a shopper the log never had is an empty answer.
        assert_eq!(
            whole(state.lookup("never-seen", 100, 1_000, 200)),
            Profile::default()
        );
    }

    #[test]
    fn a_shopper_whose_tags_left_the_tail_is_still_answered_from_memory() {
        let mut state = ready_stored_before(100);
        state.push(logged(0, tag("early", Action::View, 120, 1)));
        state.evict_below(&offsets(1));
        assert_eq!(state.tail_len(), 0);
        state.push(logged(1, tag("early", Action::Buy, 130, 2)));
        let profile = hit(state.lookup("early", 100, 1_000, 200));
        assert_eq!(times(&profile.views), [120]);
        assert_eq!(times(&profile.buys), [130]);
    }

    #[test]
    fn a_shopper_with_tags_outside_the_tail_and_not_cached_goes_to_clickhouse() {
        let mut state = CacheState::new(
            Limits {
                cookies: NonZeroUsize::new(1).expect("non-zero"),
                ..limits()
            },
            offsets(0),
            100,
        );
        state.set_caught_up(true);
        state.push(logged(0, tag("early", Action::View, 120, 1)));
        state.push(logged(1, tag("late", Action::View, 125, 1)));
        // Both leave the tail; the one-cookie cache keeps "late" only.
        state.evict_below(&offsets(2));
        state.push(logged(2, tag("early", Action::View, 130, 1)));
        // "early" has a tag at 120 that only ClickHouse holds now.
        assert_eq!(state.lookup("early", 100, 1_000, 200), Lookup::Miss);
        assert_eq!(
            times(&hit(state.lookup("late", 100, 1_000, 200)).views),
            [125]
        );
    }

    #[test]
    fn a_shopper_outside_in_an_older_generation_only_is_answered_from_the_tail_after_it() {
        let sizes = super::super::outside::Sizes {
            capacity: 1_000,
            span_ms: 50,
            kept: 8,
        };
        let mut state = CacheState::with_outside(
            Limits {
                cookies: NonZeroUsize::new(1).expect("non-zero"),
                ..limits()
            },
            offsets(0),
            OutsideTail::with_sizes(100, sizes),
        );
        state.set_caught_up(true);
        state.push(logged(0, tag("early", Action::View, 120, 1)));
        state.push(logged(1, tag("other", Action::View, 125, 1)));
        state.push(logged(2, tag("later", Action::View, 200, 1)));
        // All three leave the tail: "later" closes the first generation (its span is
        // 100..150), and the one-cookie cache keeps "later" only.
        state.evict_below(&offsets(3));
        state.push(logged(3, tag("early", Action::Buy, 300, 2)));
        // "early" has a tag at 120 that only ClickHouse holds now...
        assert_eq!(state.lookup("early", 110, 1_000, 200), Lookup::Miss);
        // ...and none outside the tail after the first generation: a range from then on
        // is answered from the tail.
        let profile = whole(state.lookup("early", 250, 1_000, 200));
        assert!(profile.views.is_empty());
        assert_eq!(times(&profile.buys), [300]);
    }

    #[test]
    fn a_shopper_whose_tags_a_full_tail_dropped_goes_to_clickhouse() {
        let mut state = CacheState::new(
            Limits {
                tail_tags: 1,
                ..limits()
            },
            offsets(0),
            100,
        );
        state.set_caught_up(true);
        state.push(logged(0, tag("kept", Action::View, 120, 1)));
        state.push(logged(1, tag("dropped", Action::View, 130, 1)));
        assert_eq!(state.lookup("dropped", 100, 1_000, 200), Lookup::Miss);
    }

    #[test]
    fn copies_in_the_tail_resolve_to_the_latest_offset() {
        let mut state = ready_stored_before(100);
        state.push(logged(0, tag("new", Action::View, 120, 1)));
        state.push(logged(1, tag("new", Action::View, 120, 9)));
        let profile = whole(state.lookup("new", 100, 1_000, 200));
        assert_eq!(profile.views.len(), 1);
        assert_eq!(profile.views[0].product_info.price, 9);
    }

    #[test]
    fn nothing_is_answered_from_the_tail_before_it_has_caught_up() {
        let mut state = CacheState::new(limits(), offsets(0), 100);
        state.push(logged(0, tag("new", Action::View, 120, 1)));
        assert_eq!(state.lookup("new", 100, 1_000, 200), Lookup::Miss);
    }
}
