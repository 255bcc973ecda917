//! Account webhook subscriptions: `/v1/webhooks`.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use topcalls_types::{CreateWebhookSubscriptionRequest, WebhookSubscription};

use crate::api::body::{Answer, Members, RawBody, check_http_url, ok, parse};
use crate::app::{App, Caller};

pub(crate) async fn create_subscription(
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
