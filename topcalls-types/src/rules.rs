//! The rules of the TopCalls API that `openapi.yaml` cannot state, written
//! once and used on both sides: the client (`topcalls-api`) checks them
//! before sending, the sandbox (`topcalls-sandbox`) answers 400 with them.
//!
//! Patterns, lengths and enums are the schema's, enforced by the generated
//! types; what is left here is what a schema cannot say: one of two members,
//! a member required by another one's value, ranges the generator does not
//! apply (`maximum`), and the syntax of a header.
//!
//! Each check returns the first [`Violation`] it finds. A violation names the
//! member at fault ([`Violation::path`]) and reads as one sentence
//! ([`Display`](std::fmt::Display)), which both sides show as is.
//!
//! ```
//! use topcalls_types::rules::{self, Violation};
//!
//! assert!(rules::idempotency_key("order-1234-reminder").is_ok());
//! let error = rules::idempotency_key("short").unwrap_err();
//! assert_eq!(error, Violation::IdempotencyKey { length: 5 });
//! assert_eq!(error.path(), "Idempotency-Key");
//! ```

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use crate::generated::{CreateCallRequest, CreateCarrierRequest, SipGatewayInput, TrunkType};

/// The accepted `temperature` of a call.
pub const TEMPERATURE: RangeInclusive<f64> = 0.0..=2.0;

/// The longest `max_duration` of a call, in minutes (the shortest is above 0).
pub const MAX_DURATION_MINUTES: f64 = 60.0;

/// The `max_duration` of a call that does not set one, in minutes: what
/// creating it reserves from the balance.
pub const DEFAULT_MAX_DURATION_MINUTES: f64 = 10.0;

/// The SIP port of a gateway that does not set one.
pub const DEFAULT_SIP_PORT: u64 = 5060;

/// The accepted SIP ports.
pub const SIP_PORTS: RangeInclusive<u64> = 1..=65_535;

/// The accepted length of an `Idempotency-Key`, in characters.
pub const IDEMPOTENCY_KEY_LENGTH: RangeInclusive<usize> = 8..=255;

/// A rule a request breaks.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Violation {
    /// `POST /v1/calls` sets both `task` and `instructions`.
    BothTaskAndInstructions,
    /// `POST /v1/calls` sets neither `task` nor `instructions`.
    NeitherTaskNorInstructions,
    /// `temperature` is outside [`TEMPERATURE`].
    Temperature(f64),
    /// `max_duration` is not in (0, [`MAX_DURATION_MINUTES`]].
    MaxDuration(f64),
    /// `sip_gateway.port` is outside [`SIP_PORTS`].
    SipPort(u64),
    /// `sip_gateway.ipv4` is a hostname on an inbound gateway.
    InboundHostname(String),
    /// Trunk type `reg` without `registration`.
    RegistrationMissing,
    /// Trunk type `auth` without `inbound_auth`.
    InboundAuthMissing,
    /// An `Idempotency-Key` that is not 8–255 characters of `[A-Za-z0-9_-]`;
    /// `length` counts its bytes.
    IdempotencyKey {
        /// How long the key was, in bytes.
        length: usize,
    },
    /// A `phone_number` in a country code that no carrier routes
    /// ([`UNASSIGNED_COUNTRY_CODES`]).
    NotDialable(String),
}

impl Violation {
    /// The member (or header) at fault, as the sandbox reports it in a
    /// Problem's `errors[].path`.
    pub fn path(&self) -> &'static str {
        match self {
            Violation::BothTaskAndInstructions => "instructions",
            Violation::NeitherTaskNorInstructions => "task",
            Violation::Temperature(_) => "temperature",
            Violation::MaxDuration(_) => "max_duration",
            Violation::SipPort(_) => "sip_gateway.port",
            Violation::InboundHostname(_) => "sip_gateway.ipv4",
            Violation::RegistrationMissing => "registration",
            Violation::InboundAuthMissing => "inbound_auth",
            Violation::IdempotencyKey { .. } => "Idempotency-Key",
            Violation::NotDialable(_) => "phone_number",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::BothTaskAndInstructions => f.write_str(
                "set exactly one of `task` (simple mode) or `instructions` (advanced mode), not both",
            ),
            Violation::NeitherTaskNorInstructions => f.write_str(
                "set exactly one of `task` (simple mode) or `instructions` (advanced mode)",
            ),
            Violation::Temperature(t) => {
                write!(f, "`temperature` must be between 0 and 2 (got {t})")
            }
            Violation::MaxDuration(minutes) => write!(
                f,
                "`max_duration` must be more than 0 and at most 60 minutes (got {minutes})"
            ),
            Violation::SipPort(port) => write!(
                f,
                "`sip_gateway.port` must be between 1 and 65535 (got {port})"
            ),
            Violation::InboundHostname(address) => write!(
                f,
                "`sip_gateway.ipv4` must be an IPv4 address for an inbound gateway (got {address:?}); \
                 a hostname is accepted only when `inbound` is not true"
            ),
            Violation::RegistrationMissing => {
                f.write_str("trunk type `reg` needs `registration` (username, password)")
            }
            Violation::InboundAuthMissing => {
                f.write_str("trunk type `auth` needs `inbound_auth` (username, password)")
            }
            Violation::IdempotencyKey { length } => write!(
                f,
                "idempotency key must be 8 to 255 characters of A-Z, a-z, 0-9, `_` and `-` \
                 (got {length} characters)"
            ),
            Violation::NotDialable(number) => write!(
                f,
                "`phone_number` {number} is not a dialable number (its country code is not assigned)"
            ),
        }
    }
}

impl std::error::Error for Violation {}

/// E.164 country codes that no carrier routes: a number in one of them is
/// refused as not dialable. `+999` is an ITU-T E.164 spare code.
pub const UNASSIGNED_COUNTRY_CODES: &[&str] = &["+999"];

/// A number that can be rung: not in an [`UNASSIGNED_COUNTRY_CODES`] code.
/// Its E.164 syntax is the schema's pattern, checked by the generated types.
pub fn dialable(number: &str) -> Result<(), Violation> {
    if UNASSIGNED_COUNTRY_CODES
        .iter()
        .any(|code| number.starts_with(code))
    {
        Err(Violation::NotDialable(number.to_string()))
    } else {
        Ok(())
    }
}

/// `POST /v1/calls`: a [`dialable`] number, exactly one of `task` /
/// `instructions`, then [`temperature`], then [`max_duration`].
pub fn create_call(body: &CreateCallRequest) -> Result<(), Violation> {
    dialable(body.phone_number.as_str())?;
    task_or_instructions(body.task.is_some(), body.instructions.is_some())?;
    if let Some(t) = body.temperature {
        temperature(t)?;
    }
    if let Some(minutes) = body.max_duration {
        max_duration(minutes)?;
    }
    Ok(())
}

/// Exactly one of `task` (simple mode) and `instructions` (advanced mode).
/// Their minimum lengths (10) are the schema's, checked by the generated types.
pub fn task_or_instructions(task: bool, instructions: bool) -> Result<(), Violation> {
    match (task, instructions) {
        (true, true) => Err(Violation::BothTaskAndInstructions),
        (false, false) => Err(Violation::NeitherTaskNorInstructions),
        _ => Ok(()),
    }
}

/// A `temperature` within [`TEMPERATURE`] (NaN is not).
pub fn temperature(value: f64) -> Result<(), Violation> {
    if TEMPERATURE.contains(&value) {
        Ok(())
    } else {
        Err(Violation::Temperature(value))
    }
}

/// A `max_duration` above 0 and at most [`MAX_DURATION_MINUTES`] (NaN is not).
pub fn max_duration(minutes: f64) -> Result<(), Violation> {
    if minutes > 0.0 && minutes <= MAX_DURATION_MINUTES {
        Ok(())
    } else {
        Err(Violation::MaxDuration(minutes))
    }
}

/// `POST /v1/phone-numbers/carriers`: the gateway ([`sip_gateway`]), then
/// the credentials its trunk type needs ([`trunk_credentials`]).
pub fn create_carrier(body: &CreateCarrierRequest) -> Result<(), Violation> {
    sip_gateway(&body.sip_gateway)?;
    trunk_credentials(
        body.trunk_type.as_ref(),
        body.registration.is_some(),
        body.inbound_auth.is_some(),
    )
}

/// A gateway: its port within [`SIP_PORTS`], then its address
/// ([`gateway_address`]).
pub fn sip_gateway(gateway: &SipGatewayInput) -> Result<(), Violation> {
    if let Some(port) = gateway.port.map(std::num::NonZeroU64::get) {
        sip_port(port)?;
    }
    gateway_address(gateway.ipv4.as_str(), gateway.inbound == Some(true))
}

/// A SIP port within [`SIP_PORTS`].
pub fn sip_port(port: u64) -> Result<(), Violation> {
    if SIP_PORTS.contains(&port) {
        Ok(())
    } else {
        Err(Violation::SipPort(port))
    }
}

/// A gateway address: a hostname only when the gateway is not inbound
/// (TopCalls matches inbound traffic by IP). The schema's pattern already
/// admits only an IPv4 address or a hostname (so no `203.0.113.999`); which
/// of the two an inbound gateway needs depends on another member, so it is
/// checked here.
pub fn gateway_address(address: &str, inbound: bool) -> Result<(), Violation> {
    if inbound && address.parse::<Ipv4Addr>().is_err() {
        return Err(Violation::InboundHostname(address.to_string()));
    }
    Ok(())
}

/// `registration` with trunk type `reg`, `inbound_auth` with `auth`.
pub fn trunk_credentials(
    trunk_type: Option<&TrunkType>,
    registration: bool,
    inbound_auth: bool,
) -> Result<(), Violation> {
    match trunk_type {
        Some(TrunkType::Reg) if !registration => Err(Violation::RegistrationMissing),
        Some(TrunkType::Auth) if !inbound_auth => Err(Violation::InboundAuthMissing),
        _ => Ok(()),
    }
}

/// An `Idempotency-Key`: [`IDEMPOTENCY_KEY_LENGTH`] characters of
/// `[A-Za-z0-9_-]`.
pub fn idempotency_key(key: &str) -> Result<(), Violation> {
    idempotency_key_bytes(key.as_bytes())
}

/// [`idempotency_key`] for a header value's raw bytes (which need not be UTF-8).
pub fn idempotency_key_bytes(key: &[u8]) -> Result<(), Violation> {
    let valid_chars = key
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
    if IDEMPOTENCY_KEY_LENGTH.contains(&key.len()) && valid_chars {
        Ok(())
    } else {
        Err(Violation::IdempotencyKey { length: key.len() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(task: Option<&str>, instructions: Option<&str>) -> CreateCallRequest {
        let mut body = serde_json::json!({"phone_number": "+15551234567"});
        if let Some(task) = task {
            body["task"] = task.into();
        }
        if let Some(instructions) = instructions {
            body["instructions"] = instructions.into();
        }
        serde_json::from_value(body).unwrap()
    }

    fn gateway(ipv4: &str, inbound: bool, port: Option<u64>) -> SipGatewayInput {
        let mut builder = SipGatewayInput::builder().ipv4(ipv4).inbound(inbound);
        if let Some(port) = port {
            builder = builder.port(std::num::NonZeroU64::new(port));
        }
        builder.try_into().unwrap()
    }

    #[test]
    fn exactly_one_of_task_and_instructions() {
        let task = "Confirm the appointment.";
        let instructions = "You are a receptionist at a dental clinic.";
        assert_eq!(create_call(&call(Some(task), None)), Ok(()));
        assert_eq!(create_call(&call(None, Some(instructions))), Ok(()));
        assert_eq!(
            create_call(&call(Some(task), Some(instructions))),
            Err(Violation::BothTaskAndInstructions)
        );
        assert_eq!(
            create_call(&call(None, None)),
            Err(Violation::NeitherTaskNorInstructions)
        );
        assert_eq!(Violation::BothTaskAndInstructions.path(), "instructions");
        assert_eq!(Violation::NeitherTaskNorInstructions.path(), "task");
    }

    #[test]
    fn the_one_of_rule_comes_before_the_ranges() {
        let mut body = call(None, None);
        body.temperature = Some(9.0);
        assert_eq!(
            create_call(&body),
            Err(Violation::NeitherTaskNorInstructions)
        );
        body.task = call(Some("Confirm the appointment."), None).task;
        assert_eq!(create_call(&body), Err(Violation::Temperature(9.0)));
        body.temperature = Some(2.0);
        body.max_duration = Some(0.0);
        assert_eq!(create_call(&body), Err(Violation::MaxDuration(0.0)));
    }

    #[test]
    fn temperature_is_0_to_2() {
        for ok in [0.0, 0.7, 2.0] {
            assert_eq!(temperature(ok), Ok(()), "{ok}");
        }
        for bad in [-0.1, 2.01, f64::NAN, f64::INFINITY] {
            assert!(temperature(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn max_duration_is_above_0_and_at_most_60() {
        for ok in [0.1, DEFAULT_MAX_DURATION_MINUTES, 60.0] {
            assert_eq!(max_duration(ok), Ok(()), "{ok}");
        }
        for bad in [0.0, -1.0, 60.01, f64::NAN, f64::INFINITY] {
            assert!(max_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Violation::MaxDuration(0.0).to_string(),
            "`max_duration` must be more than 0 and at most 60 minutes (got 0)"
        );
    }

    #[test]
    fn ports_are_1_to_65535() {
        assert_eq!(sip_port(1), Ok(()));
        assert_eq!(sip_port(DEFAULT_SIP_PORT), Ok(()));
        assert_eq!(sip_port(65_535), Ok(()));
        assert_eq!(sip_port(0), Err(Violation::SipPort(0)));
        assert_eq!(sip_port(65_536), Err(Violation::SipPort(65_536)));
        assert_eq!(
            sip_gateway(&gateway("203.0.113.10", false, Some(70_000))),
            Err(Violation::SipPort(70_000))
        );
        assert_eq!(Violation::SipPort(0).path(), "sip_gateway.port");
    }

    #[test]
    fn hostnames_only_for_gateways_that_are_not_inbound() {
        assert_eq!(gateway_address("sip.myprovider.com", false), Ok(()));
        assert_eq!(gateway_address("203.0.113.10", true), Ok(()));
        assert_eq!(gateway_address("203.0.113.10", false), Ok(()));
        assert_eq!(
            gateway_address("sip.myprovider.com", true),
            Err(Violation::InboundHostname("sip.myprovider.com".into()))
        );
        // What the schema refuses anyway is still no IPv4 address for an inbound gateway.
        assert_eq!(
            gateway_address("10.0.0.256", true),
            Err(Violation::InboundHostname("10.0.0.256".into()))
        );
        // The schema's pattern: an IPv4 address or a hostname, never other digits and dots.
        for valid in [
            "203.0.113.10",
            "sip.myprovider.com",
            "1-1",
            "host.123",
            "10.0.0.1a",
        ] {
            assert!(
                valid.parse::<crate::SipGatewayInputIpv4>().is_ok(),
                "{valid}"
            );
        }
        for invalid in [
            "0",
            "00.0",
            "203.0.113.999",
            "1.2.3",
            "01.2.3.4",
            "sip..example.com",
        ] {
            assert!(
                invalid.parse::<crate::SipGatewayInputIpv4>().is_err(),
                "{invalid}"
            );
        }
        assert!(
            Violation::InboundHostname("sip.example.com".into())
                .to_string()
                .contains("sip_gateway.ipv4")
        );
    }

    #[test]
    fn trunk_types_need_their_credentials() {
        assert_eq!(trunk_credentials(None, false, false), Ok(()));
        assert_eq!(
            trunk_credentials(Some(&TrunkType::StaticIp), false, false),
            Ok(())
        );
        assert_eq!(
            trunk_credentials(Some(&TrunkType::Reg), false, true),
            Err(Violation::RegistrationMissing)
        );
        assert_eq!(
            trunk_credentials(Some(&TrunkType::Reg), true, false),
            Ok(())
        );
        assert_eq!(
            trunk_credentials(Some(&TrunkType::Auth), true, false),
            Err(Violation::InboundAuthMissing)
        );
        assert_eq!(
            trunk_credentials(Some(&TrunkType::Auth), false, true),
            Ok(())
        );
    }

    #[test]
    fn a_carrier_is_checked_gateway_first() {
        let body = CreateCarrierRequest {
            carrier_name: "My carrier".parse().unwrap(),
            inbound_auth: None,
            registration: None,
            sip_gateway: gateway("sip.example.com", true, None),
            trunk_type: Some(TrunkType::Reg),
        };
        assert_eq!(
            create_carrier(&body),
            Err(Violation::InboundHostname("sip.example.com".into()))
        );
        let body = CreateCarrierRequest {
            sip_gateway: gateway("203.0.113.10", true, Some(5060)),
            ..body
        };
        assert_eq!(create_carrier(&body), Err(Violation::RegistrationMissing));
    }

    #[test]
    fn idempotency_keys_are_8_to_255_of_a_small_alphabet() {
        for ok in [
            "order-1234",
            "abcdefgh",
            "A_b-C_d-",
            &"x".repeat(255),
            "550e8400-e29b-41d4-a716-446655440000",
        ] {
            assert_eq!(idempotency_key(ok), Ok(()), "{ok}");
        }
        for bad in [
            "short",
            "has space in it",
            "ünïcödé-key",
            "key.with.dots",
            "",
        ] {
            assert!(idempotency_key(bad).is_err(), "{bad}");
        }
        assert_eq!(
            idempotency_key(&"x".repeat(256)),
            Err(Violation::IdempotencyKey { length: 256 })
        );
        assert!(idempotency_key_bytes(b"abcdefg\xff").is_err());
        assert_eq!(
            Violation::IdempotencyKey { length: 5 }.to_string(),
            "idempotency key must be 8 to 255 characters of A-Z, a-z, 0-9, `_` and `-` (got 5 characters)"
        );
    }
}
