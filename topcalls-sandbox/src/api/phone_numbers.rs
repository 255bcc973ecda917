//! `/v1/phone-numbers` and its carriers (`/v1/phone-numbers/carriers`).

use std::sync::Arc;

use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use topcalls_types::rules;
use topcalls_types::{
    Carrier, CarrierList, CarrierTrunkType, CreateCarrierRequest, CreatePhoneNumberRequest,
    PhoneNumber, PhoneNumberList, PhoneNumberSource, PhoneNumberStatus, SipGateway,
    SipGatewayInput, SipInboundAuth, SipRegistration, TrunkType,
};

use crate::api::body::{Answer, Id, Members, RawBody, ok, parse};
use crate::api::query::{Query, opaque_page};
use crate::app::{App, Caller};
use crate::problem::ApiProblem;
use crate::state::{self, is_dialable};

pub(crate) async fn list_numbers(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::parse(raw);
    let world = app.world();
    let numbers = world.accounts[caller.account]
        .numbers
        .iter()
        .filter(|n| n.number.status != Some(PhoneNumberStatus::Deleted))
        .map(|n| (n.seq, &n.number));
    let (data, next_cursor) = opaque_page(numbers, &query)?;
    ok(StatusCode::OK, &PhoneNumberList { data, next_cursor })
}

pub(crate) async fn create_number(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    RawBody(body): RawBody,
) -> Answer {
    let request: CreatePhoneNumberRequest =
        parse(&body, &[Members::of::<CreatePhoneNumberRequest>("")])?;
    let number = request.number.to_string();
    if !is_dialable(&number) {
        return Err(ApiProblem::field(
            "number",
            format!("{number} is not a dialable number"),
        ));
    }
    let now = app.clock.now();
    let mut world = app.world();
    let seq = world.seq();
    let account = &mut world.accounts[caller.account];
    if account
        .numbers
        .iter()
        .any(|n| n.number.number == number && n.number.status != Some(PhoneNumberStatus::Deleted))
    {
        return Err(ApiProblem::conflict(
            "duplicate",
            format!("{number} is already on this account"),
        ));
    }
    let carrier = match &request.voip_carrier_sid {
        None => None,
        Some(sid) => Some(
            account
                .carriers
                .iter()
                .find(|c| !c.deleted && c.carrier.voip_carrier_sid == sid.to_string())
                .ok_or_else(|| {
                    ApiProblem::field("voip_carrier_sid", "no carrier with this voip_carrier_sid")
                })?
                .carrier
                .clone(),
        ),
    };
    let phone = PhoneNumber {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: Some(account.id.clone()),
        number,
        // The documented sources: a bring-your-own carrier's number, or one
        // on TopCalls' own (default) carrier.
        source: Some(if carrier.is_some() {
            PhoneNumberSource::Byoc
        } else {
            PhoneNumberSource::Topcalls
        }),
        status: Some(PhoneNumberStatus::Active),
        phone_number_sid: Some(format!("PN{}", uuid::Uuid::new_v4().simple())),
        voip_carrier_sid: carrier.as_ref().map(|c| c.voip_carrier_sid.clone()),
        carrier_name: carrier.and_then(|c| c.carrier_name),
        label: request.label.map(|l| l.to_string()),
        error_message: None,
        created_by_user_id: None,
        created_at: Some(now),
        updated_at: Some(now),
    };
    account.numbers.push(state::NumberRecord {
        seq,
        number: phone.clone(),
    });
    ok(StatusCode::CREATED, &phone)
}

pub(crate) async fn get_number(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    let world = app.world();
    let number = world.accounts[caller.account]
        .numbers
        .iter()
        .find(|n| n.number.id == id && n.number.status != Some(PhoneNumberStatus::Deleted))
        .ok_or_else(|| ApiProblem::not_found("phone number"))?;
    ok(StatusCode::OK, &number.number)
}

pub(crate) async fn delete_number(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    let now = app.clock.now();
    let mut world = app.world();
    let number = world.accounts[caller.account]
        .numbers
        .iter_mut()
        .find(|n| n.number.id == id && n.number.status != Some(PhoneNumberStatus::Deleted))
        .ok_or_else(|| ApiProblem::not_found("phone number"))?;
    number.number.status = Some(PhoneNumberStatus::Deleted);
    number.number.updated_at = Some(now);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list_carriers(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
) -> Answer {
    let world = app.world();
    let data = world.accounts[caller.account]
        .carriers
        .iter()
        .filter(|c| !c.deleted)
        .map(|c| c.carrier.clone())
        .collect();
    ok(StatusCode::OK, &CarrierList { data })
}

pub(crate) async fn create_carrier(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    RawBody(body): RawBody,
) -> Answer {
    let request: CreateCarrierRequest = parse(
        &body,
        &[
            Members::of::<CreateCarrierRequest>(""),
            Members::of::<SipGatewayInput>("sip_gateway"),
            Members::of::<SipRegistration>("registration"),
            Members::of::<SipInboundAuth>("inbound_auth"),
        ],
    )?;
    rules::create_carrier(&request).map_err(|v| ApiProblem::rule(&v))?;
    let port = request
        .sip_gateway
        .port
        .map_or(rules::DEFAULT_SIP_PORT, |p| p.get());
    let trunk = match request.trunk_type.unwrap_or(TrunkType::StaticIp) {
        TrunkType::StaticIp => CarrierTrunkType::StaticIp,
        TrunkType::Auth => CarrierTrunkType::Auth,
        TrunkType::Reg => CarrierTrunkType::Reg,
    };
    let now = app.clock.now();
    let mut world = app.world();
    let account = &mut world.accounts[caller.account];
    let carrier = Carrier {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: Some(account.id.clone()),
        voip_carrier_sid: uuid::Uuid::new_v4().to_string(),
        sip_gateway_sid: Some(uuid::Uuid::new_v4().to_string()),
        carrier_name: Some(request.carrier_name.to_string()),
        trunk_type: Some(trunk),
        // Passwords are never echoed back.
        sip_gateway: Some(SipGateway {
            ipv4: Some(request.sip_gateway.ipv4.to_string()),
            port: Some(port as i64),
            inbound: request.sip_gateway.inbound,
            outbound: request.sip_gateway.outbound,
        }),
        created_at: Some(now),
    };
    account.carriers.push(state::CarrierRecord {
        carrier: carrier.clone(),
        deleted: false,
    });
    ok(StatusCode::CREATED, &carrier)
}

pub(crate) async fn delete_carrier(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    let mut world = app.world();
    let account = &mut world.accounts[caller.account];
    let remaining = account.remaining_minutes();
    let carrier = account
        .carriers
        .iter_mut()
        .find(|c| c.carrier.id == id && !c.deleted)
        .ok_or_else(|| ApiProblem::not_found("carrier"))?;
    // The docs' only answer for this operation is a 402 with `details`; the
    // sandbox gives it to an account whose call minutes are used up.
    if remaining <= 0.0 {
        let mut problem = ApiProblem::new(
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_quota",
            "No call minutes remain on this account",
        );
        problem.details = Some(serde_json::Value::String(
            "Deleting a carrier needs a positive call-minute balance: add minutes, then delete \
             the carrier again."
                .into(),
        ));
        return Err(problem);
    }
    carrier.deleted = true;
    Ok(StatusCode::NO_CONTENT.into_response())
}
