//! The routes: every operation of openapi.yaml, one module per tag of the
//! spec (as the client has them), with bodies in the generated
//! `topcalls_types` types; the gates in front of them (`gates`), request
//! parsing (`body`, `query`) and the sandbox's own `/_sandbox` endpoints
//! (`admin`).
//!
//! A new operation: its route in [`router`], its scope in
//! [`gates::rules`], its handler in the module of its tag.

mod account;
mod admin;
pub(crate) mod body;
mod calls;
mod campaigns;
mod configuration;
pub(crate) mod gates;
mod phone_numbers;
mod query;
mod webhook_subscriptions;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::{delete, get, post};

use crate::app::App;
use crate::problem::ApiProblem;
use crate::server;

pub(crate) fn router(app: Arc<App>) -> axum::Router {
    let v1 = axum::Router::new()
        .route("/v1/calls", get(calls::list_calls).post(calls::create_call))
        .route("/v1/calls/{call_id}", get(calls::get_call))
        .route("/v1/calls/{call_id}/stop", post(calls::stop_call))
        .route("/v1/calls/{call_id}/cancel", post(calls::cancel_call))
        .route("/v1/campaigns", get(campaigns::list_campaigns))
        .route("/v1/campaigns/{campaign_id}", get(campaigns::get_campaign))
        .route(
            "/v1/campaigns/{campaign_id}/start",
            post(campaigns::start_campaign),
        )
        .route(
            "/v1/campaigns/{campaign_id}/pause",
            post(campaigns::pause_campaign),
        )
        .route(
            "/v1/phone-numbers/carriers",
            get(phone_numbers::list_carriers).post(phone_numbers::create_carrier),
        )
        .route(
            "/v1/phone-numbers/carriers/{carrier_id}",
            delete(phone_numbers::delete_carrier),
        )
        .route(
            "/v1/phone-numbers",
            get(phone_numbers::list_numbers).post(phone_numbers::create_number),
        )
        .route(
            "/v1/phone-numbers/{phone_number_id}",
            get(phone_numbers::get_number).delete(phone_numbers::delete_number),
        )
        .route("/v1/models", get(configuration::list_models))
        .route(
            "/v1/voices/builtin",
            get(configuration::list_builtin_voices),
        )
        .route("/v1/voices", get(configuration::list_voices))
        .route("/v1/balance", get(account::get_balance))
        .route(
            "/v1/webhooks",
            post(webhook_subscriptions::create_subscription),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(server::MAX_BODY))
        // The gates, innermost first (see `server`): they run bottom to top.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            gates::idempotency,
        ))
        .layer(axum::middleware::from_fn(gates::request_body))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            gates::faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            gates::authenticate,
        ));
    let admin = axum::Router::new()
        .route("/_sandbox/advance", post(admin::advance))
        .route("/_sandbox/settle", post(admin::settle))
        .method_not_allowed_fallback(method_not_allowed);
    axum::Router::new()
        .merge(v1)
        .merge(admin)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            server::buffer_body,
        ))
        .layer(axum::middleware::from_fn(crate::problem::request_id))
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
