//! `/v1/calls`: list, create, get, stop, cancel.

use std::sync::Arc;

use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use chrono::SecondsFormat;
use topcalls_types::rules::{self, Violation};
use topcalls_types::{
    Call, CallGatewayStatus, CallList, CallOutcomeFilter, CallTelephonyStatus, CancelCallResponse,
    CreateCallRequest, CreateCallResponse, StopCallResponse,
};

use crate::api::body::{Answer, Id, Members, RawBody, check_http_url, ok, parse};
use crate::api::query::{Query, take_page};
use crate::app::{App, Caller};
use crate::problem::ApiProblem;
use crate::state;

pub(crate) async fn list_calls(
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
    let status = status.and_then(|s| s.to_string().parse::<CallTelephonyStatus>().ok());
    let (before, limit) = (query.time_cursor()?, query.limit()?);
    // The lock is held for the page's calls only (see `Account::calls_before`);
    // they are copied and encoded after it is released.
    let (data, next) = {
        let world = app.world();
        let calls = world.accounts[caller.account].calls_before(
            before,
            query.get("campaign_id"),
            status.as_ref(),
        );
        // A call's `created_at` is unique within its account and grows with
        // every call (see `Account::call_created_at`), so it orders the pages.
        take_page(
            calls.map(|c| (c.call.created_at, Arc::clone(&c.call))),
            limit,
        )
    };
    let data = data.iter().map(|call| Call::clone(call)).collect();
    let next_cursor = next.map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    ok(StatusCode::OK, &CallList { data, next_cursor })
}

pub(crate) async fn create_call(
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
            return Err(ApiProblem::rule(&Violation::NeitherTaskNorInstructions));
        }
    };
    let max_duration = request
        .max_duration
        .unwrap_or(rules::DEFAULT_MAX_DURATION_MINUTES);
    // Dialable: checked by `rules::create_call` above.
    let to = request.phone_number.to_string();
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
    record.edit().metadata = Some(request.request_data.clone());
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
    let queued = record.take_events(account.has_subscriptions());
    account.add_call(record);
    world.route_events(caller.account, queued, now);
    ok(StatusCode::CREATED, &response)
}

/// Minutes for people: at most two decimals (`2.5`, `10`, `498.38`).
fn minutes(value: f64) -> String {
    ((value * 100.0).round() / 100.0).to_string()
}

/// The position of the caller's call `id` in its account; 404 when there is none.
fn find_call(world: &state::World, caller: &Caller, id: &str) -> Result<usize, ApiProblem> {
    world.accounts[caller.account]
        .call_index(id)
        .ok_or_else(|| ApiProblem::not_found("call"))
}

pub(crate) async fn get_call(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    let call = {
        let world = app.world();
        let index = find_call(&world, &caller, &id)?;
        Arc::clone(&world.accounts[caller.account].calls[index].call)
    };
    ok(StatusCode::OK, &*call)
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
    let index = find_call(&world, caller, id)?;
    let account = &mut world.accounts[caller.account];
    let ended = account.update(index, |record| {
        if !allowed.contains(&record.call.status) {
            return Err(ApiProblem::conflict(
                "invalid_state",
                format!("a {} call cannot be {verb}", record.call.status),
            ));
        }
        let call = record.edit();
        call.status = CallGatewayStatus::Cancelled;
        call.call_status = Some(CallTelephonyStatus::Cancelled);
        call.end_at = Some(now);
        call.completed = Some(true);
        let used = call.started_at.map_or(0.0, |s| {
            (now - s).num_milliseconds().max(0) as f64 / 60_000.0
        });
        call.duration = Some(used);
        record.settled = true;
        Ok((record.reserved, used))
    });
    let (reserved, used) = ended.ok_or_else(|| ApiProblem::not_found("call"))??;
    // Its last event goes out on the next tick.
    account.wake(index, now);
    account.reserved_minutes = (account.reserved_minutes - reserved).max(0.0);
    account.used_minutes += used;
    Ok(())
}

pub(crate) async fn stop_call(
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

pub(crate) async fn cancel_call(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    use CallGatewayStatus::*;
    end_call(&app, &caller, &id, &[Pending, Queued], "cancelled")?;
    ok(StatusCode::OK, &CancelCallResponse { ok: true })
}
