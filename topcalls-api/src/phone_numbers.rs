//! `client.phone_numbers()`: caller ids and bring-your-own SIP carriers.

use std::num::NonZeroU64;

use crate::client::Client;
use crate::error::Error;
use crate::generated::builder;
use crate::pagination::{List, Listing, Sealed};
use crate::request::Request;
use crate::types::{CreateCarrierRequest, CreatePhoneNumberRequest, PhoneNumberList};
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
    pub fn create<R>(&self, request: R) -> Request<'a, builder::CreatePhoneNumber<'a>>
    where
        R: TryInto<CreatePhoneNumberRequest>,
        R::Error: Into<Error>,
    {
        let operation = validate::convert(request)
            .map(|body: CreatePhoneNumberRequest| self.client.raw.create_phone_number().body(body));
        Request::new(self.client, operation)
    }

    /// One number.
    pub fn get(&self, phone_number_id: &str) -> Request<'a, builder::GetPhoneNumber<'a>> {
        let operation = validate::id("phone_number_id", phone_number_id)
            .map(|id| self.client.raw.get_phone_number().phone_number_id(id));
        Request::new(self.client, operation)
    }

    /// Removes a number (soft delete: it stops appearing in reads and lists).
    pub fn delete(&self, phone_number_id: &str) -> Request<'a, builder::DeletePhoneNumber<'a>> {
        let operation = validate::id("phone_number_id", phone_number_id)
            .map(|id| self.client.raw.delete_phone_number().phone_number_id(id));
        Request::new(self.client, operation)
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
#[allow(
    unreachable_pub,
    reason = "named by `ListPhoneNumbers`, never by users"
)]
pub struct PhoneNumberFilters {}

impl Sealed for PhoneNumberFilters {}

impl Listing for PhoneNumberFilters {
    type Page = PhoneNumberList;

    fn operation<'a>(
        &self,
        client: &'a Client,
        limit: Option<NonZeroU64>,
        cursor: Option<String>,
    ) -> impl crate::Operation<Output = PhoneNumberList> + Send + use<'a> {
        let mut request = client.raw.list_phone_numbers();
        if let Some(limit) = limit {
            request = request.limit(limit);
        }
        if let Some(cursor) = cursor {
            request = request.cursor(cursor);
        }
        request
    }
}

/// SIP carriers. From [`PhoneNumbers::carriers`].
#[derive(Debug, Clone, Copy)]
pub struct Carriers<'a> {
    client: &'a Client,
}

impl<'a> Carriers<'a> {
    /// Adds a carrier ([`crate::NewCarrier`], or the generated request type).
    /// Pass its `voip_carrier_sid` when adding numbers.
    pub fn create<R>(&self, request: R) -> Request<'a, builder::CreateCarrier<'a>>
    where
        R: TryInto<CreateCarrierRequest>,
        R::Error: Into<Error>,
    {
        let operation = validate::convert(request).and_then(|body: CreateCarrierRequest| {
            validate::create_carrier(&body)?;
            Ok(self.client.raw.create_carrier().body(body))
        });
        Request::new(self.client, operation)
    }

    /// Every carrier of the account (not paginated).
    pub fn list(&self) -> Request<'a, builder::ListCarriers<'a>> {
        Request::new(self.client, Ok(self.client.raw.list_carriers()))
    }

    /// Removes a carrier by its record `id` (not its `voip_carrier_sid`).
    pub fn delete(&self, carrier_id: &str) -> Request<'a, builder::DeleteCarrier<'a>> {
        let operation = validate::id("carrier_id", carrier_id)
            .map(|id| self.client.raw.delete_carrier().carrier_id(id));
        Request::new(self.client, operation)
    }
}
