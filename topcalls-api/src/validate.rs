//! Checks made before anything is sent. Patterns and lengths are enforced by
//! the generated request types themselves; what they cannot express (one of
//! two fields, numeric ranges, path ids) is checked here, against the limits
//! stated in openapi.yaml.

use std::num::NonZeroU64;

use crate::error::{Error, Result};
use crate::types::CreateCallRequest;

/// Turns a builder (or anything convertible) into the request type, with the
/// generated type's own checks (E.164 pattern, lengths) as `InvalidRequest`.
pub(crate) fn convert<T, R>(request: R) -> Result<T>
where
    R: TryInto<T>,
    R::Error: Into<Error>,
{
    request.try_into().map_err(Into::into)
}

/// `POST /v1/calls`: exactly one of `task` / `instructions`; `temperature`
/// in 0–2; `max_duration` in (0, 60] minutes.
pub(crate) fn create_call(body: &CreateCallRequest) -> Result<()> {
    match (&body.task, &body.instructions) {
        (Some(_), Some(_)) => {
            return invalid(
                "set exactly one of `task` (simple mode) or `instructions` (advanced mode), not both",
            );
        }
        (None, None) => {
            return invalid(
                "set exactly one of `task` (simple mode) or `instructions` (advanced mode)",
            );
        }
        _ => {}
    }
    if let Some(t) = body.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return invalid(format!("`temperature` must be between 0 and 2 (got {t})"));
    }
    if let Some(minutes) = body.max_duration
        && !(minutes > 0.0 && minutes <= 60.0)
    {
        return invalid(format!(
            "`max_duration` must be more than 0 and at most 60 minutes (got {minutes})"
        ));
    }
    Ok(())
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
/// `reg`, `inbound_auth` with `auth`.
pub(crate) fn create_carrier(body: &crate::types::CreateCarrierRequest) -> Result<()> {
    use crate::types::TrunkType;
    let gateway = &body.sip_gateway;
    if let Some(port) = gateway.port.map(NonZeroU64::get)
        && port > 65_535
    {
        return invalid(format!(
            "`sip_gateway.port` must be between 1 and 65535 (got {port})"
        ));
    }
    if gateway.inbound == Some(true) && gateway.ipv4.parse::<std::net::Ipv4Addr>().is_err() {
        return invalid(format!(
            "`sip_gateway.ipv4` must be an IPv4 address for an inbound gateway (got {:?}); \
             a hostname is accepted only when `inbound` is not true",
            gateway.ipv4.as_str()
        ));
    }
    match body.trunk_type {
        Some(TrunkType::Reg) if body.registration.is_none() => {
            invalid("trunk type `reg` needs `registration` (username, password)")
        }
        Some(TrunkType::Auth) if body.inbound_auth.is_none() => {
            invalid("trunk type `auth` needs `inbound_auth` (username, password)")
        }
        _ => Ok(()),
    }
}
