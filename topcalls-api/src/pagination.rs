//! Cursor pagination (`{data, next_cursor}`) as a lazy `Stream` of items.

use std::num::NonZeroU64;

use std::time::Duration;

use futures::stream::{self, BoxStream, Stream, StreamExt};

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

/// Items of every page from `first_cursor` on, fetched one page at a time
/// and only when the consumer asks for more. Stops after the page whose
/// `next_cursor` is null; an error is yielded as an item and ends the stream.
pub(crate) fn paginate<P, F, Fut>(
    first_cursor: Option<String>,
    fetch: F,
) -> impl Stream<Item = Result<P::Item>>
where
    P: Page,
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<P>>,
{
    enum State {
        Next(Option<String>),
        Done,
    }
    stream::unfold(
        (State::Next(first_cursor), fetch),
        |(state, mut fetch)| async move {
            let State::Next(cursor) = state else {
                return None;
            };
            match fetch(cursor).await {
                Ok(page) => {
                    let (items, next) = page.into_parts();
                    // A server that hands back an empty page with a cursor would
                    // otherwise be polled forever.
                    let state = match next {
                        Some(cursor) if !items.is_empty() => State::Next(Some(cursor)),
                        _ => State::Done,
                    };
                    Some((Ok(items), (state, fetch)))
                }
                Err(error) => Some((Err(error), (State::Done, fetch))),
            }
        },
    )
    .flat_map(|page| match page {
        Ok(items) => stream::iter(items.into_iter().map(Ok)).left_stream(),
        Err(error) => stream::once(async move { Err(error) }).right_stream(),
    })
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

    /// Every item from the cursor on, newest first, one page in memory at a
    /// time; a page is fetched only when the stream needs it.
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
