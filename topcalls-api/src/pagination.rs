//! Cursor pagination (`{data, next_cursor}`) as a lazy `Stream` of items.

use std::num::NonZeroU64;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{BoxStream, Stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::{DecodeError, Error, Result};
use crate::operation::Operation;
use crate::request::RequestOptions;
use crate::retry::RetryPolicy;
use crate::types::{CallList, CampaignList, PhoneNumberList};
use crate::validate;

/// One page of a cursor-paginated list.
pub trait Page {
    /// The item type.
    type Item;
    /// Splits the page into its items and the cursor of the next page
    /// (`None` on the last page).
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

macro_rules! page {
    ($($list:ty => $item:ty),* $(,)?) => {$(
        impl Page for $list {
            type Item = $item;
            fn into_parts(self) -> (Vec<$item>, Option<String>) {
                (self.data, self.next_cursor)
            }
        }
    )*};
}

page! {
    CallList => crate::types::Call,
    CampaignList => crate::types::Campaign,
    PhoneNumberList => crate::types::PhoneNumber,
}

/// A page as it arrives: its cursor read, its items still raw JSON. Reading
/// it scans the body once without building the items, so the request for
/// the next page goes out before this page's items are decoded.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct RawPage {
    data: Box<serde_json::value::RawValue>,
    #[serde(default)]
    next_cursor: Option<String>,
}

impl RawPage {
    /// Whether `data` is an empty array, without decoding it.
    fn is_empty(&self) -> bool {
        self.data
            .get()
            .strip_prefix('[')
            .is_some_and(|rest| rest.trim_start().starts_with(']'))
    }

    fn items<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        serde_json::from_str(self.data.get()).map_err(|source| {
            Error::Decode(Box::new(DecodeError {
                status: reqwest::StatusCode::OK,
                request_id: None,
                body: bytes::Bytes::copy_from_slice(self.data.get().as_bytes()),
                source,
            }))
        })
    }
}

/// Items of every page from `first_cursor` on. Stops after the page whose
/// `next_cursor` is null (or an empty page: a server handing back an empty
/// page with a cursor would otherwise be polled forever); an error is
/// yielded as an item and ends the stream.
///
/// **Prefetch:** when a page arrives, its cursor is read first and the
/// request for the next page goes out; then this page's items are decoded
/// while the server prepares the next one, and handed out while that
/// request makes progress (it is driven whenever the stream is polled).
/// At most two pages are in memory: the one being consumed and the one
/// being fetched.
pub(crate) fn paginate<T, F, Fut>(
    first_cursor: Option<String>,
    fetch: F,
) -> impl Stream<Item = Result<T>>
where
    T: DeserializeOwned,
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<RawPage>>,
{
    Paginate::<T, F, Fut> {
        items: Vec::new().into_iter(),
        ready: None,
        pending: None,
        next: Some(first_cursor),
        fetch,
    }
}

/// The stream of [`paginate`].
struct Paginate<T, F, Fut> {
    /// Items of the page being consumed.
    items: std::vec::IntoIter<T>,
    /// The next page, arrived while the current one was being consumed.
    ready: Option<Result<RawPage>>,
    /// The request for the next page, in flight.
    pending: Option<Pin<Box<Fut>>>,
    /// The cursor of the page to request next (`Some(None)`: the first
    /// page); `None` once the last page has been requested.
    next: Option<Option<String>>,
    fetch: F,
}

impl<T, F, Fut> Unpin for Paginate<T, F, Fut> {}

impl<T, F, Fut> Stream for Paginate<T, F, Fut>
where
    T: DeserializeOwned,
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<RawPage>>,
{
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            // Request the next page as soon as its cursor is known and no
            // other page is waiting: two pages at most.
            if this.pending.is_none()
                && this.ready.is_none()
                && let Some(cursor) = this.next.take()
            {
                this.pending = Some(Box::pin((this.fetch)(cursor)));
            }
            // Drive the request in flight, whether or not items are waiting.
            if let Some(fetch) = this.pending.as_mut()
                && let Poll::Ready(page) = fetch.as_mut().poll(cx)
            {
                this.pending = None;
                this.ready = Some(page);
            }
            if let Some(item) = this.items.next() {
                return Poll::Ready(Some(Ok(item)));
            }
            match this.ready.take() {
                Some(Ok(page)) => {
                    this.next = match &page.next_cursor {
                        Some(cursor) if !page.is_empty() => Some(Some(cursor.clone())),
                        _ => None,
                    };
                    // The next request first, so the server works on it
                    // while this page is decoded.
                    if let Some(cursor) = this.next.take() {
                        let mut fetch = Box::pin((this.fetch)(cursor));
                        if let Poll::Ready(next) = fetch.as_mut().poll(cx) {
                            this.ready = Some(next);
                        } else {
                            this.pending = Some(fetch);
                        }
                    }
                    match page.items() {
                        Ok(items) => this.items = items.into_iter(),
                        Err(error) => {
                            this.next = None;
                            this.pending = None;
                            this.ready = None;
                            return Poll::Ready(Some(Err(error)));
                        }
                    }
                }
                Some(Err(error)) => {
                    this.next = None;
                    return Poll::Ready(Some(Err(error)));
                }
                None if this.pending.is_some() => return Poll::Pending,
                None => return Poll::Ready(None),
            }
        }
    }
}

/// What one kind of listing sends besides `limit` and `cursor` (its filters),
/// and the operation that fetches a page. Implemented by the SDK for calls,
/// campaigns and phone numbers; sealed.
pub trait Listing: Clone + Send + Sync + Sealed {
    /// The page type.
    type Page: Page;
    /// The operation fetching one page.
    #[doc(hidden)]
    fn operation<'a>(
        &self,
        client: &'a Client,
        limit: Option<NonZeroU64>,
        cursor: Option<String>,
    ) -> impl Operation<Output = Self::Page> + Send + use<'a, Self>;
}

/// Keeps [`Listing`] to this crate. Public in a private module: nameable
/// here and nowhere else.
#[allow(unreachable_pub, reason = "the seal of `Listing`")]
pub trait Sealed {}

/// A cursor-paginated listing: set filters, paging and options, then read
/// one page with [`List::page`] or every item with [`List::stream`]. The
/// options ([`List::deadline`], [`List::retry`]) apply to each page's request.
///
/// The stream is `Unpin`: `next().await` works on it as it comes.
///
/// ```no_run
/// # async fn run(client: topcalls_api::Client) -> topcalls_api::Result<()> {
/// use std::time::Duration;
/// use futures::StreamExt;
///
/// let mut calls = client.calls().list().limit(100).deadline(Duration::from_secs(10)).stream();
/// while let Some(call) = calls.next().await {
///     println!("{}", call?.id);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a listing does nothing until `page()` or `stream()`"]
pub struct List<'a, L> {
    client: &'a Client,
    limit: Option<u32>,
    cursor: Option<String>,
    options: RequestOptions,
    pub(crate) filters: L,
}

/// The items of a [`List`], one page fetched at a time: an `Unpin` stream.
pub type Items<'a, T> = BoxStream<'a, Result<T>>;

impl<'a, L: Listing> List<'a, L> {
    pub(crate) fn new(client: &'a Client, filters: L) -> Self {
        Self {
            client,
            limit: None,
            cursor: None,
            options: RequestOptions::default(),
            filters,
        }
    }

    /// Items per page, 1–200 (server default 50); checked before sending.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Start from this cursor (a `next_cursor` from an earlier page).
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Applies `options` to each page's request (see [`crate::Request::options`]).
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = self.options.merge(options);
        self
    }

    /// The retry policy of each page's request.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// The deadline of each page's request, across its attempts.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline = Some(deadline);
        self
    }

    /// One page, from the cursor set with [`List::cursor`] (or the newest).
    pub async fn page(&self) -> Result<L::Page> {
        let limit = validate::limit(self.limit)?;
        let operation = self
            .filters
            .operation(self.client, limit, self.cursor.clone());
        self.client.execute(operation, &self.options).await
    }

    /// Every item from the cursor on, newest first. The next page is
    /// requested as soon as the current one arrives, so its round trip
    /// overlaps the consumption of this one; at most two pages are in
    /// memory. Nothing is requested before the stream is first polled.
    pub fn stream(self) -> Items<'a, <L::Page as Page>::Item>
    where
        L: 'a,
        L::Page: Send,
        <L::Page as Page>::Item: DeserializeOwned + Send + 'a,
    {
        let Self {
            client,
            limit,
            cursor,
            options,
            filters,
        } = self;
        paginate(cursor, move |cursor| {
            let operation =
                validate::limit(limit).map(|limit| filters.operation(client, limit, cursor));
            let options = options.clone();
            async move { client.execute_as::<_, RawPage>(operation?, &options).await }
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use futures::StreamExt;

    use super::*;

    fn raw(json: &str) -> Result<RawPage> {
        serde_json::from_str(json).map_err(|e| Error::InvalidRequest(e.to_string()))
    }

    /// Three pages of two items; records each cursor requested.
    fn pages(requested: &RefCell<Vec<Option<String>>>) -> impl Stream<Item = Result<u32>> + '_ {
        paginate(None, move |cursor: Option<String>| {
            requested.borrow_mut().push(cursor.clone());
            async move {
                match cursor.as_deref() {
                    None => raw(r#"{"data": [1, 2], "next_cursor": "b"}"#),
                    Some("b") => raw(r#"{"next_cursor": "c", "data": [3, 4]}"#),
                    _ => raw(r#"{"data": [5, 6], "next_cursor": null}"#),
                }
            }
        })
    }

    #[tokio::test]
    async fn the_next_page_is_requested_while_this_one_is_consumed() {
        let requested = RefCell::new(Vec::new());
        let mut items = std::pin::pin!(pages(&requested));
        assert!(
            requested.borrow().is_empty(),
            "nothing before the first poll"
        );
        assert_eq!(items.next().await.map(Result::ok), Some(Some(1)));
        // Page 2 is on its way (here: already arrived) while item 1 is handed out…
        assert_eq!(requested.borrow().len(), 2);
        // …but never page 3 before page 2 is being consumed: two pages at most.
        assert_eq!(items.next().await.map(Result::ok), Some(Some(2)));
        assert_eq!(requested.borrow().len(), 2);
        let rest: Vec<u32> = items.map(|item| item.unwrap_or_default()).collect().await;
        assert_eq!(rest, [3, 4, 5, 6]);
        assert_eq!(
            *requested.borrow(),
            [None, Some("b".to_string()), Some("c".to_string())]
        );
    }

    #[tokio::test]
    async fn an_empty_page_with_a_cursor_ends_the_stream() {
        for empty in [
            r#"{"data": [], "next_cursor": "x"}"#,
            r#"{"data": [ ], "next_cursor": "x"}"#,
        ] {
            let calls = RefCell::new(0);
            let items: Vec<Result<u32>> = paginate(None, |_| {
                *calls.borrow_mut() += 1;
                async { raw(empty) }
            })
            .collect()
            .await;
            assert!(items.is_empty());
            assert_eq!(*calls.borrow(), 1);
        }
    }

    #[tokio::test]
    async fn items_that_do_not_decode_end_the_stream_with_a_decode_error() {
        let calls = RefCell::new(0);
        let items: Vec<Result<u32>> = paginate(None, |_| {
            *calls.borrow_mut() += 1;
            async { raw(r#"{"data": ["not a number"], "next_cursor": "x"}"#) }
        })
        .collect()
        .await;
        assert_eq!(items.len(), 1);
        assert!(matches!(&items[0], Err(Error::Decode(_))), "{items:?}");
    }
}
