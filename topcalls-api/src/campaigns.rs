//! `client.campaigns()`: monitor and control campaigns made in the dashboard.

use std::num::NonZeroU64;

use crate::client::Client;
use crate::generated::builder;
use crate::pagination::{List, Listing, Sealed};
use crate::request::Request;
use crate::types::{Campaign, CampaignList, CampaignStatus};
use crate::validate;
use crate::wait::Wait;

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
    pub fn get(&self, campaign_id: &str) -> Request<'a, builder::GetCampaign<'a>> {
        let operation = validate::id("campaign_id", campaign_id)
            .map(|id| self.client.raw.get_campaign().campaign_id(id));
        Request::new(self.client, operation)
    }

    /// Lists campaigns: one page or a stream of every campaign.
    pub fn list(&self) -> ListCampaigns<'a> {
        List::new(self.client, CampaignFilters::default())
    }

    /// Starts (or resumes) a draft, scheduled or paused campaign (`409` otherwise).
    pub fn start(&self, campaign_id: &str) -> Request<'a, builder::StartCampaign<'a>> {
        let operation = validate::id("campaign_id", campaign_id)
            .map(|id| self.client.raw.start_campaign().campaign_id(id));
        Request::new(self.client, operation)
    }

    /// Pauses a running campaign: no new calls are queued, calls in flight finish.
    pub fn pause(&self, campaign_id: &str) -> Request<'a, builder::PauseCampaign<'a>> {
        let operation = validate::id("campaign_id", campaign_id)
            .map(|id| self.client.raw.pause_campaign().campaign_id(id));
        Request::new(self.client, operation)
    }

    /// Polls the campaign until its run ends (`completed`, `cancelled` or
    /// `paused`), then returns it. Polling and the deadline are set on the
    /// [`Wait`].
    pub fn wait_until_finished(&self, campaign_id: &str) -> Wait<'a, builder::GetCampaign<'a>> {
        let operation = validate::id("campaign_id", campaign_id)
            .map(|id| self.client.raw.get_campaign().campaign_id(id));
        Wait::new(
            self.client,
            operation,
            "campaign",
            campaign_id,
            |c: &Campaign| {
                matches!(
                    c.status,
                    CampaignStatus::Completed | CampaignStatus::Cancelled | CampaignStatus::Paused
                )
            },
            |c| c.status.to_string(),
        )
    }
}

/// A campaign listing (no filters): [`List::page`] or [`List::stream`].
pub type ListCampaigns<'a> = List<'a, CampaignFilters>;

/// Filters of a campaign listing (none yet).
#[derive(Debug, Clone, Default)]
#[allow(unreachable_pub, reason = "named by `ListCampaigns`, never by users")]
pub struct CampaignFilters {}

impl Sealed for CampaignFilters {}

impl Listing for CampaignFilters {
    type Page = CampaignList;

    fn operation<'a>(
        &self,
        client: &'a Client,
        limit: Option<NonZeroU64>,
        cursor: Option<String>,
    ) -> impl crate::Operation<Output = CampaignList> + Send + use<'a> {
        let mut request = client.raw.list_campaigns();
        if let Some(limit) = limit {
            request = request.limit(limit);
        }
        if let Some(cursor) = cursor {
            request = request.cursor(cursor);
        }
        request
    }
}
