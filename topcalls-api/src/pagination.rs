//! Cursor pagination (`{data, next_cursor}`) as a lazy `Stream` of items.

use std::num::NonZeroU64;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{BoxStream, Stream, StreamExt};

use crate::client::Client;
use crate::error::Result;
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

/// Items of every page from `first_cursor` on. Stops after the page whose
/// `next_cursor` is null (or an empty page: a server handing back an empty
/// page with a cursor would otherwise be polled forever); an error is
/// yielded as an item and ends the stream.
///
/// **Prefetch:** as soon as a page arrives, the request for the next one
/// starts, and it makes progress whenever the stream is polled while the
/// consumer works through the current page's items. So the server's work
/// and the round trip for page `k + 1` overlap the consumer's work on page
/// `k`. At most two pages are in memory: the one being consumed and the
/// one being fetched.
pub(crate) fn paginate<P, F, Fut>(
    first_cursor: Option<String>,
    fetch: F,
) -> impl Stream<Item = Result<P::Item>>
where
    P: Page,
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<P>>,
{
    Paginate::<P, F, Fut> {
        items: Vec::new().into_iter(),
        ready: None,
        pending: None,
        next: Some(first_cursor),
        fetch,
    }
}

/// The stream of [`paginate`].
struct Paginate<P: Page, F, Fut> {
    /// Items of the page being consumed.
    items: std::vec::IntoIter<P::Item>,
    /// The next page, arrived while the current one was being consumed.
    ready: Option<Result<P>>,
    /// The request for the next page, in flight.
    pending: Option<Pin<Box<Fut>>>,
    /// The cursor of the page to request next (`Some(None)`: the first
    /// page); `None` once the last page has been requested.
    next: Option<Option<String>>,
    fetch: F,
}

impl<P: Page, F, Fut> Unpin for Paginate<P, F, Fut> {}

impl<P, F, Fut> Stream for Paginate<P, F, Fut>
where
    P: Page,
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<P>>,
{
    type Item = Result<P::Item>;

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
                    let (items, cursor) = page.into_parts();
                    this.next = match cursor {
                        Some(cursor) if !items.is_empty() => Some(Some(cursor)),
                        _ => None,
                    };
                    this.items = items.into_iter();
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
        <L::Page as Page>::Item: Send + 'a,
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
            async move { client.execute(operation?, &options).await }
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use futures::StreamExt;

    use super::*;

    struct Numbers(Vec<u32>, Option<String>);

    impl Page for Numbers {
        type Item = u32;
        fn into_parts(self) -> (Vec<u32>, Option<String>) {
            (self.0, self.1)
        }
    }

    /// Three pages of two items; records each cursor requested.
    fn pages(requested: &RefCell<Vec<Option<String>>>) -> impl Stream<Item = Result<u32>> + '_ {
        paginate(None, move |cursor: Option<String>| {
            requested.borrow_mut().push(cursor.clone());
            async move {
                let page = match cursor.as_deref() {
                    None => Numbers(vec![1, 2], Some("b".into())),
                    Some("b") => Numbers(vec![3, 4], Some("c".into())),
                    _ => Numbers(vec![5, 6], None),
                };
                Ok(page)
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
        let calls = RefCell::new(0);
        let items: Vec<_> = paginate(None, |_| {
            *calls.borrow_mut() += 1;
            async { Ok(Numbers(Vec::new(), Some("again".into()))) }
        })
        .collect()
        .await;
        assert!(items.is_empty());
        assert_eq!(*calls.borrow(), 1);
    }
}
