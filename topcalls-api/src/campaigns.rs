//! `client.campaigns()`: monitor and control campaigns made in the dashboard.

use std::num::NonZeroU64;

use crate::client::{Client, RequestOptions};
use crate::error::Result;
use crate::pagination::{List, Listing};
use crate::types::{Campaign, CampaignActionResponse, CampaignList, CampaignStatus};
use crate::validate;
use crate::wait::{self, WaitOptions};

/// Campaigns: list, read, start, pause, wait. From [`Client::campaigns`].
#[derive(Debug, Clone, Copy)]
pub struct Campaigns<'a> {
    client: &'a Client,
}

impl Client {
    /// Campaigns: list, read, start, pause, wait.
    pub fn campaigns(&self) -> Campaigns<'_> {
        Campaigns { client: self }
    }
}

impl<'a> Campaigns<'a> {
    /// One campaign with its stats.
    pub async fn get(&self, campaign_id: &str) -> Result<Campaign> {
        let campaign_id = validate::id("campaign_id", campaign_id)?;
        self.client
            .run(RequestOptions::default(), |raw| {
                raw.get_campaign().campaign_id(campaign_id)
            })
            .await
    }

    /// Lists campaigns: one page or a stream of every campaign.
    pub fn list(&self) -> ListCampaigns<'a> {
        List::new(self.client, CampaignFilters::default())
    }

    /// Starts (or resumes) a draft, scheduled or paused campaign (`409` otherwise).
    pub async fn start(&self, campaign_id: &str) -> Result<CampaignActionResponse> {
        let campaign_id = validate::id("campaign_id", campaign_id)?;
        self.client
            .run_post(RequestOptions::default(), |raw, key| {
                raw.start_campaign()
                    .campaign_id(campaign_id)
                    .idempotency_key(key)
            })
            .await
    }

    /// Pauses a running campaign: no new calls are queued, calls in flight finish.
    pub async fn pause(&self, campaign_id: &str) -> Result<CampaignActionResponse> {
        let campaign_id = validate::id("campaign_id", campaign_id)?;
        self.client
            .run_post(RequestOptions::default(), |raw, key| {
                raw.pause_campaign()
                    .campaign_id(campaign_id)
                    .idempotency_key(key)
            })
            .await
    }

    /// Polls the campaign until its run ends (`completed`, `cancelled` or
    /// `paused`), then returns it.
    pub async fn wait_until_finished(&self, campaign_id: &str) -> Result<Campaign> {
        self.wait_until_finished_with(campaign_id, &WaitOptions::default())
            .await
    }

    /// [`Campaigns::wait_until_finished`] with your own polling and timeout.
    pub async fn wait_until_finished_with(
        &self,
        campaign_id: &str,
        options: &WaitOptions,
    ) -> Result<Campaign> {
        wait::until(
            options,
            || self.get(campaign_id),
            |c: &Campaign| {
                matches!(
                    c.status,
                    CampaignStatus::Completed | CampaignStatus::Cancelled | CampaignStatus::Paused
                )
            },
        )
        .await
    }
}

/// A campaign listing (no filters): [`List::page`] or [`List::stream`].
pub type ListCampaigns<'a> = List<'a, CampaignFilters>;

/// Filters of a campaign listing (none yet).
#[derive(Debug, Clone, Default)]
pub struct CampaignFilters {}

impl Listing for CampaignFilters {
    type Page = CampaignList;

    async fn fetch(
        &self,
        client: &Client,
        limit: Option<NonZeroU64>,
        cursor: Option<String>,
    ) -> Result<CampaignList> {
        client
            .run(RequestOptions::default(), |raw| {
                let mut request = raw.list_campaigns();
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(cursor) = cursor {
                    request = request.cursor(cursor);
                }
                request
            })
            .await
    }
}
