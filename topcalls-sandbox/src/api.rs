//! The routes: every operation of openapi.yaml, with bodies in the
//! generated `topcalls_types` types.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{
    DefaultBodyLimit, Extension, FromRequest, FromRequestParts, Path, RawQuery, Request, State,
};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use topcalls_types::rules;
use topcalls_types::*;

use crate::problem::ApiProblem;
use crate::server::{self, App, Caller};
use crate::state::{self, Scope, is_dialable};

type Answer = Result<Response, ApiProblem>;

/// What the gates in front of an operation check before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    /// The scope the key needs (the spec's `x-required-scope`).
    pub(crate) scope: Scope,
    /// The operation reads a JSON request body (`Content-Type` is checked).
    pub(crate) json_body: bool,
}

/// The rules of each operation, by method and route template; `None` for a
/// method the route does not serve.
pub(crate) fn rules(method: &Method, route: &str) -> Option<Rules> {
    use Scope::*;
    let (scope, json_body) = match (method.as_str(), route) {
        ("GET", "/v1/calls" | "/v1/calls/{call_id}" | "/v1/balance") => (CallsRead, false),
        ("POST", "/v1/calls") => (CallsWrite, true),
        ("POST", "/v1/calls/{call_id}/stop" | "/v1/calls/{call_id}/cancel") => (CallsWrite, false),
        ("GET", "/v1/campaigns" | "/v1/campaigns/{campaign_id}") => (CampaignsRead, false),
        ("POST", "/v1/campaigns/{campaign_id}/start" | "/v1/campaigns/{campaign_id}/pause") => {
            (CampaignsWrite, false)
        }
        ("GET", "/v1/phone-numbers" | "/v1/phone-numbers/{phone_number_id}")
        | ("GET", "/v1/phone-numbers/carriers") => (NumbersRead, false),
        ("POST", "/v1/phone-numbers" | "/v1/phone-numbers/carriers") => (NumbersWrite, true),
        ("DELETE", "/v1/phone-numbers/{phone_number_id}")
        | ("DELETE", "/v1/phone-numbers/carriers/{carrier_id}") => (NumbersWrite, false),
        ("GET", "/v1/models" | "/v1/voices/builtin" | "/v1/voices") => (Any, false),
        // Subscriptions deliver call events (transcripts included) to any URL: as
        // much a write on calls as placing one.
        ("POST", "/v1/webhooks") => (CallsWrite, true),
        _ => return None,
    };
    Some(Rules { scope, json_body })
}

pub(crate) fn router(app: Arc<App>) -> axum::Router {
    let v1 = axum::Router::new()
        .route("/v1/calls", get(list_calls).post(create_call))
        .route("/v1/calls/{call_id}", get(get_call))
        .route("/v1/calls/{call_id}/stop", post(stop_call))
        .route("/v1/calls/{call_id}/cancel", post(cancel_call))
        .route("/v1/campaigns", get(list_campaigns))
        .route("/v1/campaigns/{campaign_id}", get(get_campaign))
        .route("/v1/campaigns/{campaign_id}/start", post(start_campaign))
        .route("/v1/campaigns/{campaign_id}/pause", post(pause_campaign))
        .route(
            "/v1/phone-numbers/carriers",
            get(list_carriers).post(create_carrier),
        )
        .route(
            "/v1/phone-numbers/carriers/{carrier_id}",
            delete(delete_carrier),
        )
        .route("/v1/phone-numbers", get(list_numbers).post(create_number))
        .route(
            "/v1/phone-numbers/{phone_number_id}",
            get(get_number).delete(delete_number),
        )
        .route("/v1/models", get(list_models))
        .route("/v1/voices/builtin", get(list_builtin_voices))
        .route("/v1/voices", get(list_voices))
        .route("/v1/balance", get(get_balance))
        .route("/v1/webhooks", post(create_subscription))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(server::MAX_BODY))
        // The gates, innermost first (see `server`): they run bottom to top.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            server::idempotency,
        ))
        .layer(axum::middleware::from_fn(server::request_body))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            server::faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            server::authenticate,
        ));
    let admin = axum::Router::new()
        .route("/_sandbox/advance", post(crate::admin::advance))
        .route("/_sandbox/settle", post(crate::admin::settle))
        .method_not_allowed_fallback(method_not_allowed);
    axum::Router::new()
        .merge(v1)
        .merge(admin)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            server::buffer_body,
        ))
        .layer(axum::middleware::from_fn(server::request_id))
        .with_state(app)
}

async fn not_found(uri: Uri) -> ApiProblem {
    ApiProblem::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiProblem {
    ApiProblem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// The raw request body; one that cannot be read (too large, cut short) is a 400 problem.
struct RawBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiProblem;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiProblem> {
        Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|rejection| ApiProblem::field("body", rejection.body_text()))
    }
}

/// The id in the path; one that cannot be decoded (bad percent-encoding) names nothing: 404.
struct Id(String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiProblem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiProblem> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Id(id))
            .map_err(|rejection| {
                ApiProblem::new(StatusCode::NOT_FOUND, "not_found", rejection.body_text())
            })
    }
}

fn ok<T: serde::Serialize>(status: StatusCode, body: &T) -> Answer {
    Ok((status, Json(body)).into_response())
}

/// A JSON body as the generated request type `T`; errors name the field.
///
/// The body must be exactly one JSON object: anything after it (garbage, a
/// second object) is a 400. No member the request types declare is
/// nullable, so `null` is refused wherever `shape` names a member — serde
/// alone would read it as "absent" for an optional one.
fn parse<T: DeserializeOwned>(bytes: &Bytes, shape: &[Members]) -> Result<T, ApiProblem> {
    if bytes.is_empty() {
        return Err(ApiProblem::field("body", "a JSON body is required"));
    }
    // `from_slice` reads to the end: trailing characters are an error.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiProblem::field("body", format!("not one JSON value: {e}")))?;
    if !value.is_object() {
        return Err(ApiProblem::field("body", "must be a JSON object"));
    }
    for members in shape {
        let object = if members.at.is_empty() {
            Some(&value)
        } else {
            value.get(members.at)
        };
        if let Some(serde_json::Value::Object(object)) = object {
            for name in members.names {
                if object.get(*name).is_some_and(serde_json::Value::is_null) {
                    let path = if members.at.is_empty() {
                        (*name).to_string()
                    } else {
                        format!("{}.{name}", members.at)
                    };
                    return Err(ApiProblem::field(
                        path,
                        "must not be null: omit the member instead",
                    ));
                }
            }
        }
    }
    // Typed from the bytes, not from `value`: a duplicated member is an error
    // here, while building a `Value` silently keeps the last one.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let mut path = e.path().to_string();
        let message = e.inner().to_string();
        // A missing field is reported at its parent: name the field itself.
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            path = if path == "." {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
        }
        let path = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiProblem::field(path, message)
    })
}

/// The members a request type declares, and where its object sits in the
/// body (`""` for the body itself, `sip_gateway` for a nested object).
struct Members {
    at: &'static str,
    names: &'static [&'static str],
}

impl Members {
    /// The members `T` declares, read from its derived `Deserialize`.
    fn of<T: DeserializeOwned>(at: &'static str) -> Self {
        Self {
            at,
            names: declared_members::<T>(),
        }
    }
}

/// The member names a derived `Deserialize` of a struct asks for: serde
/// passes them to `deserialize_struct`, where a probe keeps them.
fn declared_members<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only structs are probed"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    // The probe always answers with an error, once it has the names.
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// Query parameters; unknown ones are ignored, bad values are a 400.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<String>) -> Self {
        let raw = raw.unwrap_or_default();
        Query(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn limit(&self) -> Result<usize, ApiProblem> {
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
    fn time_cursor(&self) -> Result<Option<DateTime<Utc>>, ApiProblem> {
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
fn page<'a, K: PartialOrd + Copy, T: Clone + 'a>(
    items: impl DoubleEndedIterator<Item = (K, &'a T)>,
    before: Option<K>,
    limit: usize,
) -> (Vec<T>, Option<K>) {
    let mut picked: Vec<(K, &T)> = items
        .rev()
        .filter(|(key, _)| before.is_none_or(|b| *key < b))
        .take(limit + 1)
        .collect();
    let next = if picked.len() > limit {
        picked.truncate(limit);
        picked.last().map(|(key, _)| *key)
    } else {
        None
    };
    (
        picked.into_iter().map(|(_, item)| item.clone()).collect(),
        next,
    )
}

/// A page of items with opaque `cur_<seq>` cursors.
fn opaque_page<'a, T: Clone + 'a>(
    items: impl DoubleEndedIterator<Item = (u64, &'a T)>,
    query: &Query,
) -> Result<(Vec<T>, Option<String>), ApiProblem> {
    let (data, next) = page(items, query.opaque_cursor()?, query.limit()?);
    Ok((data, next.map(|seq| format!("cur_{seq}"))))
}

// ---- calls ---------------------------------------------------------------

async fn list_calls(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::parse(raw);
    let status = match query.get("status") {
        None => None,
        Some(raw) => Some(raw.parse::<CallOutcomeFilter>().map_err(|_| {
            ApiProblem::field(
                "status",
                "one of completed, no-answer, failed, busy, dispatch_timeout",
            )
        })?),
    };
    let world = app.world();
    let account = &world.accounts[caller.account];
    let calls: Box<dyn DoubleEndedIterator<Item = &state::CallRecord>> =
        match query.get("campaign_id") {
            Some(campaign) => Box::new(account.campaign_calls(campaign)),
            None => Box::new(account.calls.iter()),
        };
    let calls = calls.filter(|c| {
        status.as_ref().is_none_or(|s| {
            c.call
                .call_status
                .as_ref()
                .is_some_and(|cs| cs.to_string() == s.to_string())
        })
    });
    // A call's `created_at` is unique within its account and grows with
    // every call (see `Account::call_created_at`), so it orders the pages.
    let (data, next) = page(
        calls.map(|c| (c.call.created_at, &c.call)),
        query.time_cursor()?,
        query.limit()?,
    );
    let next_cursor = next.map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    ok(StatusCode::OK, &CallList { data, next_cursor })
}

async fn create_call(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    RawBody(body): RawBody,
) -> Answer {
    let request: CreateCallRequest = parse(&body, &[Members::of::<CreateCallRequest>("")])?;
    rules::create_call(&request).map_err(|v| ApiProblem::rule(&v))?;
    let task = match (&request.task, &request.instructions) {
        (Some(task), _) => task.to_string(),
        (None, Some(instructions)) => instructions.to_string(),
        (None, None) => {
            return Err(ApiProblem::rule(
                &rules::Violation::NeitherTaskNorInstructions,
            ));
        }
    };
    let max_duration = request
        .max_duration
        .unwrap_or(rules::DEFAULT_MAX_DURATION_MINUTES);
    let to = request.phone_number.to_string();
    if !is_dialable(&to) {
        return Err(ApiProblem::field(
            "phone_number",
            format!("{to} is not a dialable number"),
        ));
    }
    if let Some(url) = &request.webhook_url {
        check_http_url("webhook_url", url)?;
    }
    let now = app.clock.now();
    let mut world = app.world();
    let account = &mut world.accounts[caller.account];
    let available = account.available_minutes();
    if available < max_duration {
        return Err(ApiProblem::new(
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_quota",
            format!(
                "You need {} minutes but have {} remaining",
                minutes(max_duration),
                minutes(available)
            ),
        ));
    }
    account.reserved_minutes += max_duration;
    let from = request
        .from_number
        .map(|n| n.to_string())
        .or_else(|| account.default_caller_id());
    let created = account.call_created_at(now);
    let mut record = state::new_call(&account.id, &to, from, &task, max_duration, created);
    record.call.metadata = Some(request.request_data.clone());
    if let Some(url) = &request.webhook_url {
        let events = request
            .webhook_events
            .iter()
            .map(ToString::to_string)
            .collect();
        record.webhook = Some((url.clone(), events));
    }
    let response = CreateCallResponse {
        call_id: record.call.id.clone(),
        provider_call_id: record.call.external_call_id.clone(),
        status: CallGatewayStatus::Queued,
    };
    let queued = crate::webhooks::lifecycle_events(&mut record);
    account.add_call(record);
    world.route_events(caller.account, queued, now);
    ok(StatusCode::CREATED, &response)
}

/// Minutes for people: at most two decimals (`2.5`, `10`, `498.38`).
fn minutes(value: f64) -> String {
    ((value * 100.0).round() / 100.0).to_string()
}

/// 400 on `field` unless `url` is an absolute http(s) URL (webhooks go nowhere else).
fn check_http_url(field: &str, url: &str) -> Result<(), ApiProblem> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err(ApiProblem::field(field, "must be an absolute http(s) URL")),
    }
}

fn find_call<'a>(
    world: &'a mut state::World,
    caller: &Caller,
    id: &str,
) -> Result<&'a mut state::CallRecord, ApiProblem> {
    world.accounts[caller.account]
        .call_mut(id)
        .ok_or_else(|| ApiProblem::not_found("call"))
}

async fn get_call(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    let mut world = app.world();
    let call = find_call(&mut world, &caller, &id)?.call.clone();
    ok(StatusCode::OK, &call)
}

/// Ends a call early; releases what it reserved.
fn end_call(
    app: &App,
    caller: &Caller,
    id: &str,
    allowed: &[CallGatewayStatus],
    verb: &str,
) -> Result<(), ApiProblem> {
    let now = app.clock.now();
    let mut world = app.world();
    let record = find_call(&mut world, caller, id)?;
    if !allowed.contains(&record.call.status) {
        return Err(ApiProblem::conflict(
            "invalid_state",
            format!("a {} call cannot be {verb}", record.call.status),
        ));
    }
    record.call.status = CallGatewayStatus::Cancelled;
    record.call.call_status = Some(CallTelephonyStatus::Cancelled);
    record.call.end_at = Some(now);
    record.call.completed = Some(true);
    let used = record.call.started_at.map_or(0.0, |s| {
        (now - s).num_milliseconds().max(0) as f64 / 60_000.0
    });
    record.call.duration = Some(used);
    record.settled = true;
    let reserved = record.reserved;
    let account = &mut world.accounts[caller.account];
    account.reserved_minutes = (account.reserved_minutes - reserved).max(0.0);
    account.used_minutes += used;
    Ok(())
}

async fn stop_call(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    use CallGatewayStatus::*;
    end_call(
        &app,
        &caller,
        &id,
        &[Pending, Queued, InProgress],
        "stopped",
    )?;
    ok(
        StatusCode::OK,
        &StopCallResponse {
            ok: true,
            status: Some(Cancelled),
        },
    )
}

async fn cancel_call(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    use CallGatewayStatus::*;
    end_call(&app, &caller, &id, &[Pending, Queued], "cancelled")?;
    ok(StatusCode::OK, &CancelCallResponse { ok: true })
}

// ---- campaigns -----------------------------------------------------------

async fn list_campaigns(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let query = Query::parse(raw);
    let world = app.world();
    let campaigns = world.accounts[caller.account]
        .campaigns
        .iter()
        .map(|c| (c.seq, &c.campaign));
    let (data, next_cursor) = opaque_page(campaigns, &query)?;
    ok(StatusCode::OK, &CampaignList { data, next_cursor })
}

async fn get_campaign(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    let world = app.world();
    let campaign = world.accounts[caller.account]
        .campaigns
        .iter()
        .find(|c| c.campaign.id == id)
        .ok_or_else(|| ApiProblem::not_found("campaign"))?;
    ok(StatusCode::OK, &campaign.campaign)
}

fn move_campaign(
    app: &App,
    caller: &Caller,
    id: &str,
    from: &[CampaignStatus],
    to: CampaignStatus,
) -> Answer {
    let now = app.clock.now();
    let mut world = app.world();
    let record = world.accounts[caller.account]
        .campaigns
        .iter_mut()
        .find(|c| c.campaign.id == id)
        .ok_or_else(|| ApiProblem::not_found("campaign"))?;
    if !from.contains(&record.campaign.status) {
        return Err(ApiProblem::conflict(
            "invalid_state",
            format!("a {} campaign cannot become {to}", record.campaign.status),
        ));
    }
    record.campaign.status = to.clone();
    record.campaign.updated_at = Some(now);
    if to == CampaignStatus::Running && record.campaign.started_at.is_none() {
        record.campaign.started_at = Some(now);
    }
    world.tick(now);
    ok(StatusCode::OK, &CampaignActionResponse { ok: true })
}

async fn start_campaign(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    use CampaignStatus::*;
    move_campaign(&app, &caller, &id, &[Draft, Scheduled, Paused], Running)
}

async fn pause_campaign(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    move_campaign(
        &app,
        &caller,
        &id,
        &[CampaignStatus::Running],
        CampaignStatus::Paused,
    )
}

// ---- phone numbers and carriers ------------------------------------------

async fn list_numbers(
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

async fn create_number(
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

async fn get_number(
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

async fn delete_number(
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

async fn list_carriers(
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

async fn create_carrier(
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

async fn delete_carrier(
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

// ---- configuration and account --------------------------------------------

fn models() -> Vec<Model> {
    let model = |id: &str, name: &str, provider: &str, mode: ModelMode, temperature: bool| Model {
        id: id.into(),
        name: Some(name.into()),
        provider: Some(provider.into()),
        mode: Some(mode),
        supports_temperature: Some(temperature),
        description: None,
    };
    vec![
        model(
            "gpt-realtime-mini-2025-12-15",
            "GPT Realtime Mini",
            "openai",
            ModelMode::Realtime,
            true,
        ),
        model(
            "gpt-realtime-2025-08-28",
            "GPT Realtime",
            "openai",
            ModelMode::Realtime,
            true,
        ),
        model(
            "gpt-4.1-mini",
            "GPT-4.1 mini",
            "openai",
            ModelMode::Legacy,
            false,
        ),
    ]
}

fn builtin_voices() -> Vec<Voice> {
    let realtime = [
        "alloy", "echo", "shimmer", "ash", "ballad", "coral", "sage", "verse",
    ];
    let legacy = [
        ("rachel", "female"),
        ("domi", "female"),
        ("bella", "female"),
        ("antoni", "male"),
        ("josh", "male"),
        ("adam", "male"),
    ];
    let mut voices: Vec<Voice> = realtime
        .iter()
        .enumerate()
        .map(|(i, name)| Voice {
            id: (*name).into(),
            name: Some((*name).into()),
            provider: Some("openai".into()),
            mode: Some(VoiceMode::Realtime),
            gender: Some(if i % 2 == 0 { "female" } else { "male" }.into()),
            language: Some("en".into()),
            accent: Some("american".into()),
            description: None,
            preview_url: None,
        })
        .collect();
    voices.extend(legacy.iter().map(|(name, gender)| Voice {
        id: (*name).into(),
        name: Some((*name).into()),
        provider: Some("elevenlabs".into()),
        mode: Some(VoiceMode::Legacy),
        gender: Some((*gender).into()),
        language: Some("en".into()),
        accent: None,
        description: None,
        preview_url: None,
    }));
    voices
}

async fn list_models() -> Answer {
    ok(StatusCode::OK, &ModelList { data: models() })
}

async fn list_builtin_voices(RawQuery(raw): RawQuery) -> Answer {
    let query = Query::parse(raw);
    let mode = match query.get("mode") {
        None => None,
        Some(raw) => Some(
            raw.parse::<VoiceModeFilter>()
                .map_err(|_| ApiProblem::field("mode", "one of realtime, legacy"))?,
        ),
    };
    for name in ["provider", "gender", "language"] {
        if query.get(name) == Some("") {
            return Err(ApiProblem::field(name, "must not be empty"));
        }
    }
    let matches = |value: &Option<String>, filter: Option<&str>| {
        filter.is_none_or(|f| value.as_deref() == Some(f))
    };
    let data = builtin_voices()
        .into_iter()
        .filter(|v| {
            mode.as_ref().is_none_or(|m| {
                v.mode
                    .as_ref()
                    .is_some_and(|vm| vm.to_string() == m.to_string())
            })
        })
        .filter(|v| matches(&v.provider, query.get("provider")))
        .filter(|v| matches(&v.gender, query.get("gender")))
        .filter(|v| matches(&v.language, query.get("language")))
        .collect();
    ok(StatusCode::OK, &VoiceList { data })
}

async fn list_voices() -> Answer {
    let mut data: Vec<AccountVoice> = builtin_voices()
        .into_iter()
        .map(|v| AccountVoice {
            id: v.id,
            name: v.name,
            provider: v.provider,
            mode: v.mode,
            gender: v.gender,
            language: v.language,
            accent: v.accent,
            description: v.description,
            preview_url: v.preview_url,
            type_: Some(VoiceType::Builtin),
        })
        .collect();
    data.push(AccountVoice {
        id: "voice_custom_front_desk".into(),
        name: Some("Front desk".into()),
        provider: Some("elevenlabs".into()),
        mode: Some(VoiceMode::Legacy),
        gender: Some("female".into()),
        language: Some("en".into()),
        accent: None,
        description: Some("A cloned voice of the clinic's receptionist.".into()),
        preview_url: None,
        type_: Some(VoiceType::Cloned),
    });
    ok(StatusCode::OK, &AccountVoiceList { data })
}

async fn get_balance(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Answer {
    let world = app.world();
    let account = &world.accounts[caller.account];
    let bonus_used =
        (account.used_minutes - account.plan_minutes).clamp(0.0, account.bonus_minutes);
    ok(
        StatusCode::OK,
        &Balance {
            unit: Some("call_minutes".into()),
            remaining_minutes: account.remaining_minutes(),
            plan_minutes: Some(account.plan_minutes),
            total_minutes: Some(account.total_minutes()),
            used_minutes: Some(account.used_minutes),
            reserved_minutes: Some(account.reserved_minutes),
            welcome_bonus_used_minutes: Some(bonus_used),
            welcome_bonus_remaining_minutes: Some(account.bonus_minutes - bonus_used),
        },
    )
}

async fn create_subscription(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    RawBody(body): RawBody,
) -> Answer {
    let request: CreateWebhookSubscriptionRequest = parse(
        &body,
        &[Members::of::<CreateWebhookSubscriptionRequest>("")],
    )?;
    check_http_url("url", &request.url)?;
    let mut world = app.world();
    let account = &mut world.accounts[caller.account];
    let subscription = WebhookSubscription {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: Some(account.id.clone()),
        event: request.event.to_string(),
        url: request.url,
        filters: Some(request.filters),
        deleted_at: None,
        created_by_api_key_id: Some(caller.key_id.clone()),
        created_at: Some(app.clock.now()),
    };
    account.subscriptions.push(subscription.clone());
    ok(StatusCode::CREATED, &subscription)
}
