//! The API key never shows up in `Debug` or `Display` of the client, its
//! builder or any error.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use httpmock::prelude::*;
use serde_json::json;
use topcalls_api::{Client, RequestOptions, RetryPolicy};

const KEY: &str = "tc_live_Sup3rSecretKeyValue";

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(KEY), "{what} leaks the API key: {text}");
    assert!(
        !text.contains("Sup3rSecret"),
        "{what} leaks part of the API key: {text}"
    );
}

#[tokio::test]
async fn the_key_never_appears_in_debug_or_display() {
    let builder = Client::builder().api_key(KEY);
    assert_hidden("ClientBuilder", &format!("{builder:?}"));
    let client = builder.base_url("http://127.0.0.1:9").build().unwrap();
    assert_hidden("Client", &format!("{client:?}"));
    assert_hidden("Client.raw()", &format!("{:?}", client.raw()));

    // API error (401 with a problem body that echoes nothing secret).
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(401)
                .header("content-type", "application/problem+json")
                .json_body(json!({"type": "https://api.topcalls.ai/errors/unauthorized", "title": "Unauthorized", "status": 401}));
        })
        .await;
    let api_client = Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let error = api_client.balance().await.unwrap_err();
    assert!(error.is_unauthorized());
    assert_hidden("API error", &format!("{error:?} {error}"));

    // Transport error: nothing listens on port 9.
    let offline = Client::builder()
        .api_key(KEY)
        .base_url("http://127.0.0.1:9")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let error = offline.balance().await.unwrap_err();
    assert!(
        matches!(error, topcalls_api::Error::Transport(_)),
        "{error:?}"
    );
    assert_hidden("transport error", &format!("{error:?} {error}"));

    // Deadline error.
    let error = offline
        .calls()
        .create(topcalls_api::NewCall::to("+15551234567").task("Say hello and hang up."))
        .options(RequestOptions::new().deadline(Duration::from_nanos(1)))
        .await
        .unwrap_err();
    assert_hidden("deadline error", &format!("{error:?} {error}"));

    // Configuration errors.
    let error = Client::builder()
        .api_key(KEY)
        .base_url("http://example.com")
        .build()
        .unwrap_err();
    assert_hidden("config error", &format!("{error:?} {error}"));
    let error = Client::builder()
        .api_key(format!("{KEY}\n"))
        .build()
        .unwrap_err();
    assert_hidden("config error", &format!("{error:?} {error}"));
}
