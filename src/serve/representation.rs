//! A rendered resource in every content coding, with the header values that go
//! with it, computed once so that serving a hit renders, compresses and hashes
//! nothing.
//!
//! Identity and gzip are made when the resource is rendered. Brotli is made the
//! first time a client prefers it: at a quality that beats gzip it costs more
//! than building and rendering the feed together, and most feed readers ask
//! for gzip alone, so a cold render does not pay for it.

use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, TimeZone};
use hyper::HeaderMap;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, CACHE_CONTROL, CONTENT_ENCODING,
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, HeaderValue, LAST_MODIFIED, LINK, VARY,
    X_CONTENT_TYPE_OPTIONS,
};

use crate::serve::pages::PageFile;

/// Brotli quality: the lowest at which feeds come out smaller than with gzip
/// (lower qualities are no smaller, CJK text above all). Made once per render,
/// on the first request that wants it.
const BROTLI_QUALITY: u32 = 5;
/// Brotli windows (log2 of bytes): the smallest that covers the body, within
/// these bounds. A window past the body compresses no better and makes the
/// encoder allocate (and the allocator keep) up to 4 MiB per compression.
const BROTLI_WINDOW: std::ops::RangeInclusive<u32> = 16..=22;
/// Gzip level: about level 6's size for less time, and every cold render pays
/// it; lower levels are visibly larger, higher ones hardly smaller.
const GZIP_LEVEL: u32 = 5;

/// `Vary` of an answer that only the coding chooses.
pub const VARY_CODING: &str = "Accept-Encoding";

/// `Vary` of a feed: a browser's navigation to it gets its preview page
/// instead (`http::handler`), so caches must tell the two requests apart.
pub const VARY_NAVIGATION: &str = "Accept-Encoding, Sec-Fetch-Dest, Sec-Fetch-Mode";

/// A content coding Kabar can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` token; `None` for identity.
    pub fn token(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }
}

/// One body and its strong ETag.
#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Bytes,
    /// Strong validator: a hash of exactly these bytes (RFC 9110 §8.8.3), so each
    /// coding has its own.
    pub etag: HeaderValue,
}

impl Body {
    fn new(bytes: Vec<u8>) -> Body {
        let hash = xxhash_rust::xxh3::xxh3_128(&bytes);
        let etag = HeaderValue::from_str(&format!("\"{hash:032x}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Body {
            bytes: Bytes::from(bytes),
            etag,
        }
    }

    /// Moves the bytes into `pages` when it takes them.
    fn keep_in(&mut self, pages: &Arc<PageFile>) {
        if let Some(kept) = pages.keep(&self.bytes) {
            self.bytes = kept;
        }
    }
}

/// A resource ready to serve: content type, the three codings, Last-Modified.
#[derive(Debug)]
pub struct Representation {
    pub content_type: HeaderValue,
    pub identity: Body,
    pub gzip: Body,
    /// Made from `identity` on first demand ([`Representation::body`]).
    brotli: OnceLock<Body>,
    /// The feed's updated time, to whole seconds (HTTP dates have no fractions).
    pub last_modified: Option<LastModified>,
    /// `Link` header: self and hubs (WebSub discovery); `None` when not a feed.
    pub link: Option<HeaderValue>,
    /// `Vary`: the request fields that choose this answer.
    pub vary: HeaderValue,
    /// `Content-Security-Policy` of a page that runs in a browser.
    pub policy: Option<HeaderValue>,
    /// When it was made: the cache's TTL counts from here.
    pub rendered_at: Instant,
    /// When its bytes go out of date with no write: a news sitemap's, when
    /// its oldest item leaves the window. `None`: only writes change it.
    fresh_until: Option<Instant>,
    /// Where large bodies are kept, brotli's too when it is made; `None`
    /// keeps them in the heap.
    pages: Option<Arc<PageFile>>,
}

/// Everything a response for one coding of a resource takes from it, by
/// reference: from the shared [`Representation`] or a thread's copy of it.
#[derive(Debug, Clone, Copy)]
pub struct Served<'a> {
    pub encoding: Encoding,
    pub content_type: &'a HeaderValue,
    pub body: &'a Body,
    pub last_modified: Option<&'a LastModified>,
    pub link: Option<&'a HeaderValue>,
    pub vary: &'a HeaderValue,
    pub policy: Option<&'a HeaderValue>,
    pub cache_control: &'a HeaderValue,
}

/// The header fields of one coding's two answers: 200 with the body, and 304.
/// Built once per render (per serving thread, from its own copies of the
/// values), so a hit clones a map instead of hashing and inserting each field.
#[derive(Debug, Clone)]
pub struct Headers {
    pub ok: HeaderMap,
    pub not_modified: HeaderMap,
}

/// Header fields of a resource response, at most (hyper adds Date and
/// Content-Length while writing).
const RESOURCE_HEADERS: usize = 10;

impl Served<'_> {
    /// The header fields of this coding's answers.
    pub fn headers(&self) -> Headers {
        Headers {
            ok: self.ok_headers(),
            not_modified: self.not_modified_headers(),
        }
    }

    /// The header fields of a 304. RFC 9110 §15.4.5: the validators and
    /// caching fields (and CORS, for scripts that revalidate themselves), not
    /// the representation's metadata, which the client already has.
    pub fn not_modified_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(RESOURCE_HEADERS);
        headers.insert(ETAG, self.body.etag.clone());
        headers.insert(CACHE_CONTROL, self.cache_control.clone());
        headers.insert(VARY, self.vary.clone());
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("ETag, Last-Modified, Link"),
        );
        headers
    }

    /// The header fields of a 200: a 304's and the representation's metadata.
    pub fn ok_headers(&self) -> HeaderMap {
        let mut headers = self.not_modified_headers();
        headers.insert(CONTENT_TYPE, self.content_type.clone());
        if let Some(token) = self.encoding.token() {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(token));
        }
        if let Some(modified) = self.last_modified {
            headers.insert(LAST_MODIFIED, modified.header.clone());
        }
        if let Some(link) = self.link {
            headers.insert(LINK, link.clone());
        }
        if let Some(policy) = self.policy {
            headers.insert(CONTENT_SECURITY_POLICY, policy.clone());
        }
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers
    }
}

#[derive(Debug, Clone)]
pub struct LastModified {
    pub time: SystemTime,
    pub header: HeaderValue,
}

impl Representation {
    /// Compresses `body` with gzip and hashes both; brotli waits for a client.
    pub fn new<Tz: TimeZone>(
        content_type: &'static str,
        body: Vec<u8>,
        updated: Option<DateTime<Tz>>,
        link: Option<HeaderValue>,
    ) -> Representation {
        let gzip = gzip(&body);
        Representation {
            content_type: HeaderValue::from_static(content_type),
            identity: Body::new(body),
            gzip: Body::new(gzip),
            brotli: OnceLock::new(),
            last_modified: updated.map(last_modified),
            link,
            vary: HeaderValue::from_static(VARY_CODING),
            policy: None,
            rendered_at: Instant::now(),
            fresh_until: None,
            pages: None,
        }
    }

    /// This representation, chosen by `vary` as well as by the coding.
    pub fn varying(mut self, vary: &'static str) -> Representation {
        self.vary = HeaderValue::from_static(vary);
        self
    }

    /// This representation, served with `policy` as its
    /// `Content-Security-Policy` (dropped if it is no header value).
    pub fn with_policy(mut self, policy: &str) -> Representation {
        self.policy = HeaderValue::from_str(policy).ok();
        self
    }

    /// This representation, out of date from `instant` on (see `fresh_until`).
    pub fn fresh_until(mut self, instant: Option<Instant>) -> Representation {
        self.fresh_until = instant;
        self
    }

    /// When a cache holding it for `ttl` must let it go: at the end of the
    /// TTL, or when it goes out of date, whichever comes first.
    pub fn expires(&self, ttl: std::time::Duration) -> Instant {
        let end_of_ttl = self.rendered_at + ttl;
        self.fresh_until
            .map_or(end_of_ttl, |fresh| fresh.min(end_of_ttl))
    }

    /// Whether it went out of date by itself (see `fresh_until`).
    pub fn is_out_of_date(&self) -> bool {
        self.fresh_until
            .is_some_and(|fresh| Instant::now() >= fresh)
    }

    /// This representation with its large bodies in `pages`, sent from there
    /// with `sendfile` (see `crate::serve::pages`); brotli goes there when made.
    pub fn kept_in(mut self, pages: &Arc<PageFile>) -> Representation {
        self.identity.keep_in(pages);
        self.gzip.keep_in(pages);
        self.pages = Some(Arc::clone(pages));
        self
    }

    /// The body in `encoding`. The first brotli request compresses it (a few
    /// milliseconds of CPU: check [`Representation::is_ready`] and call this on
    /// a blocking thread when it is not); concurrent first callers wait for
    /// that one compression.
    pub fn body(&self, encoding: Encoding) -> &Body {
        match encoding {
            Encoding::Identity => &self.identity,
            Encoding::Gzip => &self.gzip,
            Encoding::Brotli => self.brotli.get_or_init(|| {
                let mut body = Body::new(brotli(&self.identity.bytes));
                if let Some(pages) = &self.pages {
                    body.keep_in(pages);
                }
                body
            }),
        }
    }

    /// What to answer with in `encoding` (see [`Representation::body`]),
    /// under `cache_control`.
    pub fn served<'a>(&'a self, encoding: Encoding, cache_control: &'a HeaderValue) -> Served<'a> {
        Served {
            encoding,
            content_type: &self.content_type,
            body: self.body(encoding),
            last_modified: self.last_modified.as_ref(),
            link: self.link.as_ref(),
            vary: &self.vary,
            policy: self.policy.as_ref(),
            cache_control,
        }
    }

    /// Whether [`Representation::body`] answers at once for `encoding`.
    pub fn is_ready(&self, encoding: Encoding) -> bool {
        encoding != Encoding::Brotli || self.brotli.get().is_some()
    }

    /// Bytes held, for the cache's size bound: brotli is counted before it
    /// exists (as large as gzip, which it undercuts), since the weight is
    /// taken once, when the cache takes the entry.
    pub fn weight(&self) -> u32 {
        let total = self.identity.bytes.len() + 2 * self.gzip.bytes.len();
        u32::try_from(total + 1024).unwrap_or(u32::MAX)
    }
}

fn last_modified<Tz: TimeZone>(updated: DateTime<Tz>) -> LastModified {
    let secs = u64::try_from(updated.timestamp()).unwrap_or(0);
    let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    let header = HeaderValue::from_str(&httpdate::fmt_http_date(time))
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
    LastModified { time, header }
}

/// Gzip with a zero mtime and no name, so the bytes depend on the input alone.
fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new().write(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::new(GZIP_LEVEL),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

/// log2 of the smallest window (see [`BROTLI_WINDOW`]) holding all of `body`.
fn brotli_window(body: &[u8]) -> u32 {
    let bits = usize::BITS - body.len().saturating_sub(1).leading_zeros();
    bits.clamp(*BROTLI_WINDOW.start(), *BROTLI_WINDOW.end())
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 4);
    {
        let mut writer =
            brotli::CompressorWriter::new(&mut out, 64 * 1024, BROTLI_QUALITY, brotli_window(body));
        let _ = writer.write_all(body);
        let _ = writer.flush();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn codings_decode_to_the_identity_body_and_have_their_own_etags() {
        let body = "<rss>ça marche — 日本語 — عربي</rss>"
            .repeat(200)
            .into_bytes();
        let rep = Representation::new::<chrono::Utc>("text/plain", body.clone(), None, None);
        let mut gunzipped = Vec::new();
        flate2::read::GzDecoder::new(&rep.gzip.bytes[..])
            .read_to_end(&mut gunzipped)
            .unwrap();
        assert!(!rep.is_ready(Encoding::Brotli));
        let mut unbrotlied = Vec::new();
        brotli::Decompressor::new(&rep.body(Encoding::Brotli).bytes[..], 4096)
            .read_to_end(&mut unbrotlied)
            .unwrap();
        assert!(rep.is_ready(Encoding::Brotli));
        assert_eq!(gunzipped, body);
        assert_eq!(unbrotlied, body);
        assert_ne!(rep.identity.etag, rep.gzip.etag);
        assert_ne!(rep.gzip.etag, rep.body(Encoding::Brotli).etag);
        assert!(rep.body(Encoding::Brotli).bytes.len() < rep.gzip.bytes.len());
        let again = Representation::new::<chrono::Utc>("text/plain", body, None, None);
        assert_eq!(
            again.gzip.bytes, rep.gzip.bytes,
            "compression is deterministic"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn kept_bodies_lie_in_the_page_file_with_the_same_bytes_and_etags() {
        let pages =
            PageFile::new(std::path::Path::new(crate::serve::shmem::SHMEM_ENABLED)).unwrap();
        // Barely compressible (xorshift), so every coding is large enough
        // for the file, brotli too, made after the others were moved there.
        let mut x: u32 = 0x9e37_79b9;
        let body: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        let heap = Representation::new::<chrono::Utc>("text/plain", body.clone(), None, None);
        let kept =
            Representation::new::<chrono::Utc>("text/plain", body, None, None).kept_in(&pages);
        for encoding in [Encoding::Identity, Encoding::Gzip, Encoding::Brotli] {
            let (from_heap, from_file) = (heap.body(encoding), kept.body(encoding));
            assert!(
                from_file.bytes == from_heap.bytes,
                "{encoding:?}: same bytes"
            );
            assert_eq!(from_file.etag, from_heap.etag, "{encoding:?}");
            assert!(
                pages.offset_of(&from_file.bytes).is_some(),
                "{encoding:?} in the file"
            );
            assert!(pages.offset_of(&from_heap.bytes).is_none());
        }
    }
}
