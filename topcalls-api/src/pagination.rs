//! Cursor pagination (`{data, next_cursor}`) as a lazy `Stream` of items.

use futures::stream::{self, Stream, StreamExt};

use crate::error::Result;
use crate::types::{CallList, CampaignList, PhoneNumberList};

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
