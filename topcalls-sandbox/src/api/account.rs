//! The account: `/v1/balance`.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use topcalls_types::Balance;

use crate::api::body::{Answer, ok};
use crate::app::{App, Caller};

pub(crate) async fn get_balance(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
) -> Answer {
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
