//! `/v1/campaigns`: list, get, start, pause.

use std::sync::Arc;

use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use topcalls_types::{CampaignActionResponse, CampaignList, CampaignStatus};

use crate::api::body::{Answer, Id, ok};
use crate::api::query::{Query, opaque_page};
use crate::app::{App, Caller};
use crate::problem::ApiProblem;

pub(crate) async fn list_campaigns(
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

pub(crate) async fn get_campaign(
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

pub(crate) async fn start_campaign(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Answer {
    use CampaignStatus::*;
    move_campaign(&app, &caller, &id, &[Draft, Scheduled, Paused], Running)
}

pub(crate) async fn pause_campaign(
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
