//! Per-thread copies of hot renders, so that serving a hit touches no memory
//! another core writes.
//!
//! A hit clones a body and a header map (see [`Headers`]) into the response. On
//! the shared [`Representation`] every such clone is an atomic increment (and
//! later a decrement) of a reference count that every serving thread updates,
//! so the cache line holding it travels between cores on nearly every
//! request, as does the hot slot's lock. Each serving thread instead keeps its
//! own copy of each hot render it serves: handles on the same bytes but with a
//! reference count of their own ([`Bytes::from_owner`]), and its own copies of
//! the few header values. Made once per thread and render; a hit then reads
//! two counters that change only on writes and evictions, and the clock.
//!
//! A copy is used only while its slot's stamp (the resource's generation and
//! the slot's version, bumped whenever the slot's content changes) is the one
//! it was made under, and until its expiry, so it is never staler than the
//! slot it came from.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hyper::header::HeaderValue;

use crate::serve::representation::{Body, Encoding, Headers, LastModified, Representation, Served};

/// What a slot held when a copy was made of it: the resource's generation and
/// the slot's own version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub generation: u64,
    pub version: u64,
}

/// One thread's copy of a hot render.
pub struct Local {
    stamp: Stamp,
    expires: Instant,
    shared: Arc<Representation>,
    fields: Fields,
    identity: Coded,
    gzip: Coded,
    /// Copied once the shared render has it (brotli is made on demand).
    brotli: Option<Coded>,
}

/// This thread's copies of the header values every coding shares.
struct Fields {
    last_modified: Option<LastModified>,
    link: Option<HeaderValue>,
    policy: Option<HeaderValue>,
    cache_control: HeaderValue,
}

/// One coding's body and the header fields of its answers.
struct Coded {
    body: Body,
    headers: Headers,
}

impl Local {
    pub(super) fn new(
        shared: Arc<Representation>,
        stamp: Stamp,
        expires: Instant,
        cache_control: &HeaderValue,
    ) -> Local {
        let fields = Fields {
            last_modified: shared.last_modified.as_ref().map(|m| LastModified {
                time: m.time,
                header: copy_value(&m.header),
            }),
            link: shared.link.as_ref().map(copy_value),
            policy: shared.policy.as_ref().map(copy_value),
            cache_control: copy_value(cache_control),
        };
        Local {
            stamp,
            expires,
            identity: Coded::new(&shared, &fields, Encoding::Identity, &shared.identity),
            gzip: Coded::new(&shared, &fields, Encoding::Gzip, &shared.gzip),
            brotli: None,
            fields,
            shared,
        }
    }

    /// What to answer with in `encoding`, and the header fields to answer
    /// with, or `None` while the shared render has not made that coding yet
    /// (the first brotli request makes it, off this path).
    pub fn served(&mut self, encoding: Encoding) -> Option<(Served<'_>, &Headers)> {
        if encoding == Encoding::Brotli
            && self.brotli.is_none()
            && self.shared.is_ready(Encoding::Brotli)
        {
            let body = self.shared.body(Encoding::Brotli);
            self.brotli = Some(Coded::new(&self.shared, &self.fields, encoding, body));
        }
        let coded = match encoding {
            Encoding::Identity => &self.identity,
            Encoding::Gzip => &self.gzip,
            Encoding::Brotli => self.brotli.as_ref()?,
        };
        Some((
            served(&self.shared, &self.fields, encoding, &coded.body),
            &coded.headers,
        ))
    }

    fn is_current(&self, stamp: Stamp, now: Instant) -> bool {
        self.stamp == stamp && now < self.expires
    }
}

/// The copies one thread holds, for one cache (a process may run several, as
/// the tests do; a thread serving another one starts over).
#[derive(Default)]
struct Copies {
    cache: u64,
    slots: Vec<Option<Local>>,
}

thread_local! {
    static COPIES: RefCell<Copies> = RefCell::new(Copies::default());
}

/// Runs `f` on this thread's copy of slot `slot` of cache `cache` (of
/// `slots` slots), first making it with `make` when the copy is missing or
/// not current (made under another stamp, or expired). `None` when `make` has
/// nothing to copy (the slot is empty or stale: the caller takes the shared
/// path), when `f` says so, or when the thread is shutting down.
pub(super) fn with<R>(
    cache: u64,
    slots: usize,
    slot: usize,
    stamp: Stamp,
    make: impl FnOnce() -> Option<Local>,
    f: impl FnOnce(&mut Local) -> Option<R>,
) -> Option<R> {
    COPIES
        .try_with(|copies| {
            let mut copies = copies.try_borrow_mut().ok()?;
            if copies.cache != cache || copies.slots.len() != slots {
                copies.cache = cache;
                copies.slots.clear();
                copies.slots.resize_with(slots, || None);
            }
            let entry = copies.slots.get_mut(slot)?;
            let now = Instant::now();
            if !entry.as_ref().is_some_and(|l| l.is_current(stamp, now)) {
                // Drop the old copy first: it may be the last hold on an
                // evicted render.
                *entry = None;
                *entry = make();
            }
            entry.as_mut().and_then(f)
        })
        .ok()
        .flatten()
}

/// Drops this thread's copies that are no longer `current`, so that a render
/// the cache let go of is not kept alive by a thread that stopped serving it.
/// Runs when the thread makes a new copy: rare, and a hundred slots at most.
pub(super) fn sweep(cache: u64, current: impl Fn(usize) -> Stamp) {
    let _ = COPIES.try_with(|copies| {
        let Ok(mut copies) = copies.try_borrow_mut() else {
            return;
        };
        if copies.cache != cache {
            return;
        }
        let now = Instant::now();
        for (slot, entry) in copies.slots.iter_mut().enumerate() {
            if entry
                .as_ref()
                .is_some_and(|l| !l.is_current(current(slot), now))
            {
                *entry = None;
            }
        }
    });
}

impl Coded {
    /// This thread's copy of `body`, with its answers' header fields.
    fn new(shared: &Representation, fields: &Fields, encoding: Encoding, body: &Body) -> Coded {
        let body = copy_body(body);
        let headers = served(shared, fields, encoding, &body).headers();
        Coded { body, headers }
    }
}

/// `body` served with this thread's copies of the shared fields.
fn served<'a>(
    shared: &'a Representation,
    fields: &'a Fields,
    encoding: Encoding,
    body: &'a Body,
) -> Served<'a> {
    Served {
        encoding,
        // A static value: cloning it touches no shared count.
        content_type: &shared.content_type,
        body,
        last_modified: fields.last_modified.as_ref(),
        link: fields.link.as_ref(),
        // A static value, like the content type.
        vary: &shared.vary,
        policy: fields.policy.as_ref(),
        cache_control: &fields.cache_control,
    }
}

/// A handle on the same bytes with a reference count of its own.
fn copy_body(body: &Body) -> Body {
    Body {
        bytes: Bytes::from_owner(body.bytes.clone()),
        etag: copy_value(&body.etag),
    }
}

/// The same header value in an allocation of its own.
fn copy_value(value: &HeaderValue) -> HeaderValue {
    HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone())
}
