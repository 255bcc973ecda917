//! `client.phone_numbers()`: caller ids and bring-your-own SIP carriers.

use std::fmt;

use std::num::NonZeroU64;

use crate::client::{Client, RequestOptions};
use crate::error::Result;
use crate::pagination::{List, Listing};
use crate::types::{
    Carrier, CarrierList, CreateCarrierRequest, CreatePhoneNumberRequest, PhoneNumber,
    PhoneNumberList,
};
use crate::validate;

/// Phone numbers and carriers. From [`Client::phone_numbers`].
#[derive(Debug, Clone, Copy)]
pub struct PhoneNumbers<'a> {
    client: &'a Client,
}

impl Client {
    /// Phone numbers and carriers.
    pub fn phone_numbers(&self) -> PhoneNumbers<'_> {
        PhoneNumbers { client: self }
    }
}

impl<'a> PhoneNumbers<'a> {
    /// Adds a number (E.164, checked before sending).
    pub async fn create<R>(&self, request: R) -> Result<PhoneNumber>
    where
        R: TryInto<CreatePhoneNumberRequest>,
        R::Error: fmt::Display,
    {
        self.create_with(request, RequestOptions::default()).await
    }

    /// [`PhoneNumbers::create`] with per-request options.
    pub async fn create_with<R>(&self, request: R, options: RequestOptions) -> Result<PhoneNumber>
    where
        R: TryInto<CreatePhoneNumberRequest>,
        R::Error: fmt::Display,
    {
        let body: CreatePhoneNumberRequest = validate::convert(request)?;
        self.client
            .run_post(options, |raw, key| {
                raw.create_phone_number().idempotency_key(key).body(body)
            })
            .await
    }

    /// One number.
    pub async fn get(&self, phone_number_id: &str) -> Result<PhoneNumber> {
        let id = validate::id("phone_number_id", phone_number_id)?;
        self.client
            .run(RequestOptions::default(), |raw| {
                raw.get_phone_number().phone_number_id(id)
            })
            .await
    }

    /// Removes a number (soft delete: it stops appearing in reads and lists).
    pub async fn delete(&self, phone_number_id: &str) -> Result<()> {
        let id = validate::id("phone_number_id", phone_number_id)?;
        self.client
            .run(RequestOptions::default(), |raw| {
                raw.delete_phone_number().phone_number_id(id)
            })
            .await
    }

    /// Lists numbers: one page or a stream of every number.
    pub fn list(&self) -> ListPhoneNumbers<'a> {
        List::new(self.client, PhoneNumberFilters::default())
    }

    /// SIP carriers (bring your own carrier).
    pub fn carriers(&self) -> Carriers<'a> {
        Carriers {
            client: self.client,
        }
    }
}

/// A phone number listing (no filters): [`List::page`] or [`List::stream`].
pub type ListPhoneNumbers<'a> = List<'a, PhoneNumberFilters>;

/// Filters of a phone number listing (none yet).
#[derive(Debug, Clone, Default)]
pub struct PhoneNumberFilters {}

impl Listing for PhoneNumberFilters {
    type Page = PhoneNumberList;

    async fn fetch(
        &self,
        client: &Client,
        limit: Option<NonZeroU64>,
        cursor: Option<String>,
    ) -> Result<PhoneNumberList> {
        client
            .run(RequestOptions::default(), |raw| {
                let mut request = raw.list_phone_numbers();
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

/// SIP carriers. From [`PhoneNumbers::carriers`].
#[derive(Debug, Clone, Copy)]
pub struct Carriers<'a> {
    client: &'a Client,
}

impl Carriers<'_> {
    /// Adds a carrier. Pass its `voip_carrier_sid` when adding numbers.
    pub async fn create<R>(&self, request: R) -> Result<Carrier>
    where
        R: TryInto<CreateCarrierRequest>,
        R::Error: fmt::Display,
    {
        self.create_with(request, RequestOptions::default()).await
    }

    /// [`Carriers::create`] with per-request options.
    pub async fn create_with<R>(&self, request: R, options: RequestOptions) -> Result<Carrier>
    where
        R: TryInto<CreateCarrierRequest>,
        R::Error: fmt::Display,
    {
        let body: CreateCarrierRequest = validate::convert(request)?;
        validate::create_carrier(&body)?;
        self.client
            .run_post(options, |raw, key| {
                raw.create_carrier().idempotency_key(key).body(body)
            })
            .await
    }

    /// Every carrier of the account.
    pub async fn list(&self) -> Result<CarrierList> {
        self.client
            .run(RequestOptions::default(), |raw| raw.list_carriers())
            .await
    }

    /// Removes a carrier by its record `id` (not its `voip_carrier_sid`).
    pub async fn delete(&self, carrier_id: &str) -> Result<()> {
        let id = validate::id("carrier_id", carrier_id)?;
        self.client
            .run(RequestOptions::default(), |raw| {
                raw.delete_carrier().carrier_id(id)
            })
            .await
    }
}
