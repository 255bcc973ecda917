//! Reading response bodies under a size limit.
//!
//! A response declaring more than the limit (`Content-Length`) is refused
//! before a byte of its body is read; a body that streams past the limit
//! (chunked, or lying about its length) is cut off as soon as it does. The
//! process never holds more than the limit of one body, plus the one chunk
//! the connection handed over last.

use std::error::Error as StdError;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use reqwest::Response;

use crate::error::ResponseTooLargeError;

/// The default limit: 32 MiB.
///
/// The largest answer of the API is a page of 200 calls with transcripts.
/// Speech runs at about 150 words (~900 bytes of text) a minute, and each
/// transcript turn (one every ~10 s) adds ~90 bytes of JSON around its text:
/// ~1.4 KB of JSON per call minute. Two hundred calls of the 60-minute
/// maximum, with summaries and metadata, come to ~18 MB; of the 10-minute
/// default, ~3.5 MB. 32 MiB leaves room above the worst case and bounds what
/// a hostile or broken server can make the client hold.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Larger than the limit; `declared` is its `Content-Length`, if any.
    TooLarge { declared: Option<u64> },
    /// The connection failed or timed out while reading.
    Transport(reqwest::Error),
}

/// Reads `response`'s body, at most `limit` bytes of it.
pub(crate) async fn read(mut response: Response, limit: usize) -> Result<Bytes, ReadError> {
    let declared = response.content_length();
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ReadError::TooLarge { declared });
    }
    // A body already cut off by the retry loop says so in its error.
    let classify = |error: reqwest::Error| match find_too_large(&error) {
        Some(found) => ReadError::TooLarge {
            declared: found.declared_length,
        },
        None => ReadError::Transport(error),
    };
    // Most bodies arrive in one chunk: keep it as is, copy nothing.
    let Some(first) = response.chunk().await.map_err(classify)? else {
        return Ok(Bytes::new());
    };
    if first.len() > limit {
        return Err(ReadError::TooLarge { declared });
    }
    let Some(second) = response.chunk().await.map_err(classify)? else {
        return Ok(first);
    };
    let mut total = first.len().saturating_add(second.len());
    if total > limit {
        return Err(ReadError::TooLarge { declared });
    }
    // `declared` is at most `limit` here; without it, grow as chunks come,
    // doubling but never past the limit.
    let mut body = Vec::with_capacity(declared.map_or(total, |length| length as usize).max(total));
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        total = total.saturating_add(chunk.len());
        if total > limit {
            return Err(ReadError::TooLarge { declared });
        }
        if body.capacity() < total {
            let grown = body.capacity().saturating_mul(2).max(total).min(limit);
            body.reserve_exact(grown - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// The [`ResponseTooLargeError`] somewhere in `error`'s chain of causes.
pub(crate) fn find_too_large<'e>(
    error: &'e (dyn StdError + 'static),
) -> Option<&'e ResponseTooLargeError> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<ResponseTooLargeError>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// `response` with a body that fails with `error` once read past `limit`
/// bytes (at once when its `Content-Length` says so). For callers of the
/// generated builders, whose `send()` reads the body itself: the error then
/// arrives as `ResponseBodyError`, with `error` among its causes.
#[cfg(feature = "fuzzing")]
pub(crate) fn limit(response: Response, limit: usize, error: ResponseTooLargeError) -> Response {
    let response: http::Response<reqwest::Body> = response.into();
    response
        .map(|inner| {
            reqwest::Body::wrap(Limited {
                inner: Some(inner),
                remaining: limit,
                error: Some(error),
            })
        })
        .into()
}

/// A response whose body fails with `error` when read: what the retry loop
/// hands on after it read past the limit while looking at a `409`.
pub(crate) fn failed(parts: http::response::Parts, error: ResponseTooLargeError) -> Response {
    let body = reqwest::Body::wrap(Limited {
        inner: None,
        remaining: 0,
        error: Some(error),
    });
    http::Response::from_parts(parts, body).into()
}

/// A body cut off after `remaining` more bytes. Once over, `inner` is
/// dropped (with it the connection) and `error` is reported once; the body
/// then ends.
struct Limited {
    inner: Option<reqwest::Body>,
    remaining: usize,
    error: Option<ResponseTooLargeError>,
}

type BoxError = Box<dyn StdError + Send + Sync>;

impl Limited {
    fn fail(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.inner = None;
        Poll::Ready(self.error.take().map(|error| Err(error.into())))
    }
}

impl HttpBody for Limited {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return this.fail();
        };
        // What is left of the declared length is over the limit: fail
        // before reading.
        if inner.size_hint().lower() > this.remaining as u64 {
            return this.fail();
        }
        match ready!(Pin::new(inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    match this.remaining.checked_sub(data.len()) {
                        Some(left) => this.remaining = left,
                        None => return this.fail(),
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(error)) => Poll::Ready(Some(Err(error.into()))),
            None => Poll::Ready(None),
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(SizeHint::default, HttpBody::size_hint)
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Some(inner) => inner.is_end_stream(),
            None => self.error.is_none(),
        }
    }
}
