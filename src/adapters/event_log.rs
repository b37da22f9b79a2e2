//! The event log on R2: the production [`EventStore`].
//!
//! Layout (see docs/adr/0004-event-log-layout.md):
//! - `streams/<stream>/<first seq, 16 digits>`: one *commit* object per appended batch, holding
//!   the batch's MessagePack-encoded envelopes, each framed by a 4-byte big-endian length. Its
//!   custom metadata records the last seq and last hash of the batch.
//! - `heads/<stream>`: a hint, `"<seq> <hash>"`, of a recent head. Only ever behind the truth.
//! - `snapshots/v2/<stream>`: a cached fold of the stream (MessagePack), also only a shortcut.
//!
//! Correctness rests on one primitive: R2's create-only put (`onlyIf: {etagDoesNotMatch: "*"}`).
//! Every writer that wants to append after seq N writes the key of seq N+1; exactly one wins,
//! so no event is lost, duplicated or reordered, and a batch lands whole or not at all. The hint
//! only saves work: a writer probes forward from it (`head` of the next commit key) until it
//! finds the real end of the stream.

use std::collections::HashMap;

use events::codec::{decode_storage, encode_storage, Decoded};
use events::envelope::{event_id, seal, Envelope, NewEvent, GENESIS_HASH};
use events::store::{EventStore, StoreError};
use events::{ChainError, ChainFault, ChainVerifier};
use futures_util::future::join_all;
use worker::{Bucket, Conditional, Include};

/// Commits fetched concurrently by a read.
const READ_PARALLELISM: usize = 32;

/// Where a stream's readable prefix ends, when a stored commit cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// First seq of the unreadable commit.
    pub seq: u64,
    /// What was wrong.
    pub detail: String,
}

/// The head of a stream: last seq and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Last seq (0 for an empty stream).
    pub seq: u64,
    /// Hash of that event (the genesis hash for an empty stream).
    pub hash: String,
}

/// [`EventStore`] over one R2 bucket.
pub struct R2EventLog {
    bucket: Bucket,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        detail: format!("r2 {what}: {e}"),
    }
}

fn commit_prefix(stream: &str) -> String {
    format!("streams/{stream}/")
}

fn commit_key(stream: &str, first_seq: u64) -> String {
    format!("streams/{stream}/{first_seq:016}")
}

/// Snapshots are keyed by fold format: a change to the fold logic bumps the version, so old
/// snapshots are ignored rather than trusted.
fn snapshot_key(stream: &str) -> String {
    format!("snapshots/v2/{stream}")
}

fn hint_key(stream: &str) -> String {
    format!("heads/{stream}")
}

/// Frames blobs as `[len u32 BE][bytes]…`.
fn frame(blobs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(blobs.iter().map(|b| b.len() + 4).sum());
    for b in blobs {
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(b);
    }
    out
}

fn unframe(mut bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 4 {
            return Err("truncated frame header".into());
        }
        let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        bytes = &bytes[4..];
        if len == 0 || len > bytes.len() {
            return Err(format!(
                "frame of {len} bytes does not fit in the {} bytes left",
                bytes.len()
            ));
        }
        out.push(&bytes[..len]);
        bytes = &bytes[len..];
    }
    if out.is_empty() {
        return Err("empty commit".into());
    }
    Ok(out)
}

/// Decodes a commit object that starts at `first_seq`.
fn decode_commit(first_seq: u64, bytes: &[u8]) -> Result<Vec<Decoded>, Corruption> {
    let corrupt = |detail: String| Corruption {
        seq: first_seq,
        detail,
    };
    let frames = unframe(bytes).map_err(corrupt)?;
    let mut out = Vec::with_capacity(frames.len());
    for (i, f) in frames.into_iter().enumerate() {
        let seq = first_seq + i as u64;
        let d = decode_storage(f).map_err(|e| Corruption {
            seq,
            detail: e.to_string(),
        })?;
        if d.seq() != seq {
            return Err(Corruption {
                seq,
                detail: format!("object holds seq {} where seq {seq} belongs", d.seq()),
            });
        }
        out.push(d);
    }
    Ok(out)
}

/// Stream names are project ids: a strict alphabet keeps them from escaping their prefix.
pub fn valid_stream(stream: &str) -> bool {
    !stream.is_empty()
        && stream.len() <= 64
        && stream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl R2EventLog {
    /// Wraps the bucket binding.
    pub fn new(bucket: Bucket) -> Self {
        Self { bucket }
    }

    /// The event log in the platform bucket.
    pub fn of(env: &worker::Env) -> Result<Self, crate::error::ApiError> {
        Ok(Self::new(super::bindings::store_bucket(env)?))
    }

    async fn read_hint(&self, stream: &str) -> Result<Head, StoreError> {
        let Some(obj) = self
            .bucket
            .get(hint_key(stream))
            .execute()
            .await
            .map_err(|e| unavailable("get head", e))?
        else {
            return Ok(Head {
                seq: 0,
                hash: GENESIS_HASH.to_owned(),
            });
        };
        let text = match obj.body() {
            Some(b) => b.text().await.map_err(|e| unavailable("read head", e))?,
            None => String::new(),
        };
        // A damaged hint is ignored: probing from zero is slower but still correct.
        let parsed = text.split_once(' ').and_then(|(s, h)| {
            Some(Head {
                seq: s.parse().ok()?,
                hash: h.to_owned(),
            })
        });
        Ok(parsed.unwrap_or(Head {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }))
    }

    async fn write_hint(&self, stream: &str, head: &Head) {
        // Best effort: a lost or stale hint costs probes, never correctness.
        let _ = self
            .bucket
            .put(hint_key(stream), format!("{} {}", head.seq, head.hash))
            .execute()
            .await;
    }

    /// The current head, probing forward from the hint.
    pub async fn head(&self, stream: &str) -> Result<Head, StoreError> {
        let mut head = self.read_hint(stream).await?;
        loop {
            let key = commit_key(stream, head.seq + 1);
            let Some(obj) = self
                .bucket
                .head(key)
                .await
                .map_err(|e| unavailable("head commit", e))?
            else {
                return Ok(head);
            };
            let meta = obj.custom_metadata().unwrap_or_default();
            match (
                meta.get("last").and_then(|s| s.parse::<u64>().ok()),
                meta.get("last_hash"),
            ) {
                (Some(last), Some(hash)) if last > head.seq => {
                    head = Head {
                        seq: last,
                        hash: hash.clone(),
                    }
                }
                _ => {
                    // Metadata missing: learn the end of the commit from its content.
                    let decoded = self.get_commit(stream, head.seq + 1).await?.map_err(|c| {
                        StoreError::Codec {
                            seq: c.seq,
                            source: events::codec::CodecError::Malformed { detail: c.detail },
                        }
                    })?;
                    let last = decoded
                        .last()
                        .expect("decode_commit never returns an empty commit");
                    head = Head {
                        seq: last.seq(),
                        hash: chained_hash(last),
                    };
                }
            }
        }
    }

    /// Reads and decodes the commit starting at `first_seq`, if there is one.
    async fn get_commit(
        &self,
        stream: &str,
        first_seq: u64,
    ) -> Result<Result<Vec<Decoded>, Corruption>, StoreError> {
        let Some(obj) = self
            .bucket
            .get(commit_key(stream, first_seq))
            .execute()
            .await
            .map_err(|e| unavailable("get commit", e))?
        else {
            return Ok(Err(Corruption {
                seq: first_seq,
                detail: "commit is missing".into(),
            }));
        };
        let bytes = match obj.body() {
            Some(b) => b.bytes().await.map_err(|e| unavailable("read commit", e))?,
            None => Vec::new(),
        };
        Ok(decode_commit(first_seq, &bytes))
    }

    /// A retried append returns what it stored before; anything else at a stale seq conflicts.
    async fn replay_or_conflict(
        &self,
        stream: &str,
        expected: u64,
        events: &[NewEvent],
        actual: u64,
    ) -> Result<Vec<Envelope>, StoreError> {
        let conflict = StoreError::Conflict { expected, actual };
        if expected >= actual {
            return Err(conflict);
        }
        let Ok(stored) = self.get_commit(stream, expected + 1).await? else {
            return Err(conflict);
        };
        if stored.len() != events.len() {
            return Err(conflict);
        }
        let mut out = Vec::with_capacity(events.len());
        for (d, new) in stored.into_iter().zip(events) {
            match d {
                Decoded::Event(e) if e.id == event_id(stream, e.seq, &new.meta, &new.event) => {
                    out.push(e)
                }
                _ => return Err(conflict),
            }
        }
        Ok(out)
    }

    /// The commits of a stream in order: `(first seq, last seq if recorded)`.
    ///
    /// Listing starts after the commit key of `after_seq`, so reading the tail of a long stream
    /// lists only the tail. When the listed commits do not begin at `after_seq + 1` (the wanted
    /// event sits inside a batch that starts earlier), it falls back to listing from the start.
    async fn commits(
        &self,
        stream: &str,
        after_seq: u64,
    ) -> Result<Vec<(u64, Option<u64>)>, StoreError> {
        if after_seq > 0 {
            let tail = self
                .list_commits(stream, Some(commit_key(stream, after_seq)))
                .await?;
            match tail.first() {
                Some((first, _)) if *first == after_seq + 1 => return Ok(tail),
                // Nothing starts after `after_seq`: it is the head, or it lies inside the last
                // commit (a reader that stopped mid-commit); only the head tells which.
                None if self.head(stream).await?.seq <= after_seq => return Ok(tail),
                _ => {}
            }
        }
        self.list_commits(stream, None).await
    }

    async fn list_commits(
        &self,
        stream: &str,
        start_after: Option<String>,
    ) -> Result<Vec<(u64, Option<u64>)>, StoreError> {
        let prefix = commit_prefix(stream);
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut list = self
                .bucket
                .list()
                .prefix(prefix.clone())
                .include(vec![Include::CustomMetadata])
                .limit(1000);
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            } else if let Some(s) = &start_after {
                list = list.start_after(s.clone());
            }
            let page = list
                .execute()
                .await
                .map_err(|e| unavailable("list commits", e))?;
            for obj in page.objects() {
                let key = obj.key();
                let Some(first) = key
                    .strip_prefix(&prefix)
                    .and_then(|s| s.parse::<u64>().ok())
                else {
                    continue;
                };
                let last = obj
                    .custom_metadata()
                    .ok()
                    .and_then(|m| m.get("last").and_then(|s| s.parse().ok()));
                out.push((first, last));
            }
            match (page.truncated(), page.cursor()) {
                (true, Some(c)) => cursor = Some(c),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Reads events after `after_seq`, stopping (without failing) at the first unreadable commit.
    pub async fn read_lenient(
        &self,
        stream: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<(Vec<Decoded>, Option<Corruption>), StoreError> {
        let commits = self.commits(stream, after_seq).await?;
        // Pick the commits that hold events after `after_seq`, enough to fill `limit`. A commit's
        // last seq is its metadata, or one before the next commit's first seq.
        let mut wanted = Vec::new();
        let mut covered = 0usize;
        for (i, (first, last)) in commits.iter().enumerate() {
            if covered >= limit {
                break;
            }
            let end = last.or_else(|| commits.get(i + 1).map(|(next, _)| next - 1));
            if end.is_some_and(|end| end <= after_seq) {
                continue;
            }
            covered += end.map_or(1, |end| (end - (*first).max(after_seq + 1) + 1) as usize);
            wanted.push((i, *first));
        }
        // Fetch in parallel batches (R2 round trips dominate), then check them in order.
        let mut out = Vec::new();
        for batch in wanted.chunks(READ_PARALLELISM) {
            let fetched = join_all(
                batch
                    .iter()
                    .map(|(_, first)| self.get_commit(stream, *first)),
            )
            .await;
            for ((i, _), result) in batch.iter().zip(fetched) {
                if out.len() >= limit {
                    return Ok((out, None));
                }
                match result? {
                    Ok(decoded) => out.extend(
                        decoded
                            .into_iter()
                            .filter(|d| d.seq() > after_seq)
                            .take(limit - out.len()),
                    ),
                    Err(c) => return Ok((out, Some(c))),
                }
                // Full: the rest of this commit was left out on purpose, and is no gap.
                if out.len() >= limit {
                    return Ok((out, None));
                }
                if let (Some(expected_next), Some((next, _))) =
                    (out.last().map(|d| d.seq() + 1), commits.get(i + 1))
                {
                    if *next != expected_next && *next > after_seq {
                        let detail = format!("events {expected_next}..{} are missing", next - 1);
                        return Ok((
                            out,
                            Some(Corruption {
                                seq: expected_next,
                                detail,
                            }),
                        ));
                    }
                }
            }
        }
        Ok((out, None))
    }

    /// Verifies the whole chain in one read: how many events were readable, and the first break.
    pub async fn verify_report(
        &self,
        stream: &str,
    ) -> Result<(usize, Result<(), ChainError>), StoreError> {
        let (events, corruption) = self.read_lenient(stream, 0, usize::MAX).await?;
        let mut verifier = ChainVerifier::new();
        for d in &events {
            if let Err(e) = verifier.check(d) {
                return Ok((events.len(), Err(e)));
            }
        }
        let outcome = match corruption {
            Some(c) => Err(ChainError {
                seq: c.seq,
                reason: ChainFault::Corrupt { detail: c.detail },
            }),
            None => Ok(()),
        };
        Ok((events.len(), outcome))
    }

    /// Every stream id in the bucket (for projection rebuilds).
    pub async fn streams(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut list = self
                .bucket
                .list()
                .prefix("streams/")
                .delimiter("/")
                .limit(1000);
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let page = list
                .execute()
                .await
                .map_err(|e| unavailable("list streams", e))?;
            out.extend(page.delimited_prefixes().into_iter().filter_map(|p| {
                p.strip_prefix("streams/")
                    .map(|s| s.trim_end_matches('/').to_owned())
            }));
            match (page.truncated(), page.cursor()) {
                (true, Some(c)) => cursor = Some(c),
                _ => break,
            }
        }
        Ok(out)
    }

    /// The first stream after `after` in key order (`None` for `after`: the first stream of all).
    pub async fn next_stream(&self, after: Option<&str>) -> Result<Option<String>, StoreError> {
        let mut list = self
            .bucket
            .list()
            .prefix("streams/".to_string())
            .delimiter("/")
            .limit(1);
        if let Some(s) = after {
            // Every key of stream `s` starts with `streams/<s>/`; `0` is the character after `/`.
            list = list.start_after(format!("streams/{s}0"));
        }
        let page = list
            .execute()
            .await
            .map_err(|e| unavailable("list streams", e))?;
        Ok(page.delimited_prefixes().into_iter().next().and_then(|p| {
            p.strip_prefix("streams/")
                .map(|s| s.trim_end_matches('/').to_owned())
        }))
    }

    /// A cached fold of the stream (see `service::load`), if one is stored.
    pub async fn snapshot(&self, stream: &str) -> Option<Vec<u8>> {
        let obj = self
            .bucket
            .get(snapshot_key(stream))
            .execute()
            .await
            .ok()??;
        obj.body()?.bytes().await.ok()
    }

    /// Stores a cached fold; best effort, since it can always be recomputed from the log.
    pub async fn put_snapshot(&self, stream: &str, bytes: Vec<u8>) {
        let _ = self.bucket.put(snapshot_key(stream), bytes).execute().await;
    }

    /// Whether there is anything stored after `seq` (cheap: one `head` call), for live tails.
    pub async fn has_after(&self, stream: &str, seq: u64) -> Result<bool, StoreError> {
        Ok(self
            .bucket
            .head(commit_key(stream, seq + 1))
            .await
            .map_err(|e| unavailable("head commit", e))?
            .is_some())
    }
}

fn chained_hash(d: &Decoded) -> String {
    use events::Chained;
    d.hash().to_owned()
}

impl EventStore for R2EventLog {
    async fn append(
        &self,
        stream: &str,
        expected_seq: u64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Envelope>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let head = self.head(stream).await?;
        if head.seq != expected_seq {
            return self
                .replay_or_conflict(stream, expected_seq, &events, head.seq)
                .await;
        }
        let mut prev = head.hash.clone();
        let mut sealed = Vec::with_capacity(events.len());
        for (i, new) in events.iter().enumerate() {
            let env = seal(
                stream,
                expected_seq + 1 + i as u64,
                &prev,
                new.meta.clone(),
                new.event.clone(),
            )?;
            prev.clone_from(&env.hash);
            sealed.push(env);
        }
        let last = sealed.last().expect("non-empty batch");
        let meta: HashMap<String, String> = [
            ("last".to_owned(), last.seq.to_string()),
            ("last_hash".to_owned(), last.hash.clone()),
        ]
        .into_iter()
        .collect();
        let body = frame(&sealed.iter().map(encode_storage).collect::<Vec<_>>());
        let written = self
            .bucket
            .put(commit_key(stream, expected_seq + 1), body)
            .custom_metadata(meta)
            .only_if(Conditional {
                etag_does_not_match: Some("*".into()),
                ..Default::default()
            })
            .execute()
            .await
            .map_err(|e| unavailable("put commit", e))?;
        if written.is_none() {
            // Another writer took this position first.
            let actual = self.head(stream).await?.seq;
            return self
                .replay_or_conflict(stream, expected_seq, &events, actual)
                .await;
        }
        self.write_hint(
            stream,
            &Head {
                seq: last.seq,
                hash: last.hash.clone(),
            },
        )
        .await;
        Ok(sealed)
    }

    async fn read(
        &self,
        stream: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Decoded>, StoreError> {
        let (events, corruption) = self.read_lenient(stream, after_seq, limit).await?;
        match corruption {
            Some(c) if events.len() < limit => Err(StoreError::Codec {
                seq: c.seq,
                source: events::codec::CodecError::Malformed { detail: c.detail },
            }),
            _ => Ok(events),
        }
    }

    async fn verify(&self, stream: &str) -> Result<(), StoreError> {
        Ok(self.verify_report(stream).await?.1?)
    }
}
