//! The `account` tag: the balance of call minutes.

use crate::client::Client;
use crate::generated::builder;
use crate::request::Request;

impl Client {
    /// Remaining call minutes and how they break down.
    pub fn balance(&self) -> Request<'_, builder::GetBalance<'_>> {
        Request::new(self, Ok(self.raw.get_balance()))
    }
}
