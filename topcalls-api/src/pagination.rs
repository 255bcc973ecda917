//! Cursor pagination (`{data, next_cursor}`) as a lazy `Stream` of items.

use std::num::NonZeroU64;

use futures::stream::{self, Stream, StreamExt};

use crate::client::Client;
use crate::error::Result;
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
/// and how it fetches a page. Implemented by the SDK for calls, campaigns and
/// phone numbers.
pub trait Listing: Clone + Send + Sync {
    /// The page type.
    type Page: Page;
    /// Fetches one page.
    fn fetch(
        &self,
        client: &Client,
        limit: Option<NonZeroU64>,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<Self::Page>> + Send;
}

/// A cursor-paginated listing: set filters and paging, then read one page
/// with [`List::page`] or every item with [`List::stream`].
#[derive(Debug, Clone)]
pub struct List<'a, L> {
    client: &'a Client,
    limit: Option<u32>,
    cursor: Option<String>,
    pub(crate) filters: L,
}

impl<'a, L: Listing> List<'a, L> {
    pub(crate) fn new(client: &'a Client, filters: L) -> Self {
        Self {
            client,
            limit: None,
            cursor: None,
            filters,
        }
    }

    /// Items per page, 1–200 (server default 50); checked before sending.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Start from this cursor (a `next_cursor` from an earlier page).
    #[must_use]
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// One page, from the cursor set with [`List::cursor`] (or the newest).
    pub async fn page(&self) -> Result<L::Page> {
        let limit = validate::limit(self.limit)?;
        self.filters
            .fetch(self.client, limit, self.cursor.clone())
            .await
    }

    /// Every item from the cursor on, newest first, one page in memory at a
    /// time; a page is fetched only when the stream needs it.
    pub fn stream(self) -> impl Stream<Item = Result<<L::Page as Page>::Item>> + 'a
    where
        L: 'a,
    {
        let Self {
            client,
            limit,
            cursor,
            filters,
        } = self;
        paginate(cursor, move |cursor| {
            let filters = filters.clone();
            async move {
                let limit = validate::limit(limit)?;
                filters.fetch(client, limit, cursor).await
            }
        })
    }
}
