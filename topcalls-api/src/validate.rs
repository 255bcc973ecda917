//! Checks made before anything is sent. Patterns and lengths are enforced by
//! the generated request types themselves; what they cannot express (one of
//! two fields, numeric ranges, carrier rules, the idempotency-key syntax) is
//! [`topcalls_types::rules`], the one copy the sandbox answers with too; path
//! ids and page sizes are checked here.

use std::num::NonZeroU64;

use crate::error::{Error, Result};
use crate::types::CreateCallRequest;
use crate::types::rules::{self, Violation};

/// Turns a builder (or anything convertible) into the request type, with the
/// generated type's own checks (E.164 pattern, lengths) as `InvalidRequest`.
pub(crate) fn convert<T, R>(request: R) -> Result<T>
where
    R: TryInto<T>,
    R::Error: Into<Error>,
{
    request.try_into().map_err(Into::into)
}

/// A call to place, converted and checked as `POST /v1/calls` needs it:
/// the generated type's checks ([`convert`]), then [`create_call`]. The one
/// path of `create`, `create_many` and `bulk::validate`.
pub(crate) fn new_call<R>(call: R) -> Result<CreateCallRequest>
where
    R: TryInto<CreateCallRequest>,
    R::Error: Into<Error>,
{
    let body = convert(call)?;
    create_call(&body)?;
    Ok(body)
}

/// `POST /v1/calls`: a dialable number, exactly one of `task` / `instructions`; `temperature`
/// in 0–2; `max_duration` in (0, 60] minutes ([`rules::create_call`]).
pub(crate) fn create_call(body: &CreateCallRequest) -> Result<()> {
    rules::create_call(body).map_err(violation)
}

/// A path id: non-empty, no surrounding whitespace.
pub(crate) fn id(name: &str, value: &str) -> Result<String> {
    if value.is_empty() || value.trim() != value {
        return invalid(format!(
            "`{name}` must be a non-empty id without surrounding spaces (got {value:?})"
        ));
    }
    Ok(value.to_string())
}

/// A page size: 1–200.
pub(crate) fn limit(limit: Option<u32>) -> Result<Option<NonZeroU64>> {
    match limit {
        None => Ok(None),
        Some(n @ 1..=200) => Ok(NonZeroU64::new(u64::from(n))),
        Some(n) => invalid(format!("`limit` must be between 1 and 200 (got {n})")),
    }
}

fn invalid<T>(message: impl Into<String>) -> Result<T> {
    Err(Error::InvalidRequest(message.into()))
}

/// `POST /v1/phone-numbers/carriers`: a port in 1–65535; an IPv4 address
/// (not a hostname) for an inbound gateway; `registration` with trunk type
/// `reg`, `inbound_auth` with `auth` ([`rules::create_carrier`]).
pub(crate) fn create_carrier(body: &crate::types::CreateCarrierRequest) -> Result<()> {
    rules::create_carrier(body).map_err(violation)
}

/// A rule shared with the sandbox, broken: nothing is sent.
fn violation(violation: Violation) -> Error {
    Error::InvalidRequest(violation.to_string())
}
