//! Query parameters and pages: `limit`, opaque cursors (`cur_<n>`) and the
//! calls' timestamp cursors.

use chrono::{DateTime, Utc};

use crate::problem::ApiProblem;

/// Query parameters; unknown ones are ignored, bad values are a 400.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<String>) -> Self {
        let raw = raw.unwrap_or_default();
        Query(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn limit(&self) -> Result<usize, ApiProblem> {
        match self.get("limit") {
            None => Ok(50),
            Some(raw) => match raw.parse::<usize>() {
                Ok(n @ 1..=200) => Ok(n),
                _ => Err(ApiProblem::field(
                    "limit",
                    format!("must be an integer from 1 to 200 (got {raw:?})"),
                )),
            },
        }
    }
    /// An opaque cursor (campaigns, phone numbers): items strictly older
    /// than this sequence number.
    fn opaque_cursor(&self) -> Result<Option<u64>, ApiProblem> {
        match self.get("cursor") {
            None | Some("") => Ok(None),
            Some(raw) => raw
                .strip_prefix("cur_")
                .and_then(|n| n.parse().ok())
                .map(Some)
                .ok_or_else(|| ApiProblem::field("cursor", "not a cursor this API returned")),
        }
    }

    /// The calls cursor, an RFC 3339 timestamp: calls created before it (an
    /// empty one is no timestamp). A `+` of an offset that reached us
    /// unencoded (as a space) is read back.
    pub(crate) fn time_cursor(&self) -> Result<Option<DateTime<Utc>>, ApiProblem> {
        match self.get("cursor") {
            None => Ok(None),
            Some(raw) => DateTime::parse_from_rfc3339(raw)
                .or_else(|e| match raw.rsplit_once(' ') {
                    Some((time, offset)) => {
                        DateTime::parse_from_rfc3339(&format!("{time}+{offset}"))
                    }
                    None => Err(e),
                })
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| {
                    ApiProblem::field(
                        "cursor",
                        format!(
                            "must be an ISO 8601 timestamp such as 2025-12-22T10:29:00Z, \
                             like the `next_cursor` of a page (got {raw:?})"
                        ),
                    )
                }),
        }
    }
}

/// One page, newest first, from items sorted oldest first by a key that
/// grows strictly (a sequence number, a creation time): the `limit` newest
/// items before `before`, and the key of the last one when more follow.
/// Only the items on the page are cloned.
pub(crate) fn page<'a, K: PartialOrd + Copy, T: Clone + 'a>(
    items: impl DoubleEndedIterator<Item = (K, &'a T)>,
    before: Option<K>,
    limit: usize,
) -> (Vec<T>, Option<K>) {
    take_page(
        items
            .rev()
            .filter(|(key, _)| before.is_none_or(|b| *key < b))
            .map(|(key, item)| (key, item.clone())),
        limit,
    )
}

/// One page from items already newest first and past the cursor: the first
/// `limit`, and the key of the last one when more follow. Takes at most
/// `limit + 1` items from `newest_first`.
pub(crate) fn take_page<K: Copy, T>(
    newest_first: impl Iterator<Item = (K, T)>,
    limit: usize,
) -> (Vec<T>, Option<K>) {
    let mut picked: Vec<(K, T)> = newest_first.take(limit + 1).collect();
    let next = if picked.len() > limit {
        picked.truncate(limit);
        picked.last().map(|(key, _)| *key)
    } else {
        None
    };
    (picked.into_iter().map(|(_, item)| item).collect(), next)
}

/// A page of items with opaque `cur_<seq>` cursors.
pub(crate) fn opaque_page<'a, T: Clone + 'a>(
    items: impl DoubleEndedIterator<Item = (u64, &'a T)>,
    query: &Query,
) -> Result<(Vec<T>, Option<String>), ApiProblem> {
    let (data, next) = page(items, query.opaque_cursor()?, query.limit()?);
    Ok((data, next.map(|seq| format!("cur_{seq}"))))
}
