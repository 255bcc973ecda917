//! Every operation of openapi.yaml has a route in the sandbox: none of them
//! reaches the 404 or 405 fallback. A new operation in the spec fails here
//! until `topcalls-sandbox/src/api/` serves it and the gate table
//! (`api/gates.rs`) names its scope.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Api, concrete, manual};
use reqwest::Method;

/// The 404 of the fallback, not a route's own "… not found".
fn is_fallback_404(status: u16, body: &serde_json::Value) -> bool {
    status == 404
        && body["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("no route for"))
}

#[tokio::test]
async fn every_spec_operation_has_a_route() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = Some(sandbox.api_key());
    // The fallbacks, as this test tells them apart from a route's own answers.
    let nowhere = api
        .send(Method::GET, "/v1/no-such-area", key, None, &[])
        .await;
    assert!(
        is_fallback_404(nowhere.status, &nowhere.body),
        "{}",
        nowhere.body
    );
    let wrong_method = api.send(Method::PUT, "/v1/calls", key, None, &[]).await;
    assert_eq!(wrong_method.status, 405);
    let own_404 = api
        .send(Method::GET, "/v1/calls/unknown-id", key, None, &[])
        .await;
    assert_eq!(own_404.status, 404);
    assert!(!is_fallback_404(own_404.status, &own_404.body));

    let operations = api.spec.operations();
    assert_eq!(operations.len(), 21, "the spec's operations");
    for op in operations {
        let method = Method::from_bytes(op.method.as_bytes()).unwrap();
        let answer = api.send(method, &concrete(&op.path), key, None, &[]).await;
        assert!(
            answer.status != 405 && !is_fallback_404(answer.status, &answer.body),
            "{} {} ({}) has no route in the sandbox: add it to `router` in \
             topcalls-sandbox/src/api/mod.rs and its scope to topcalls-sandbox/src/api/gates.rs \
             (answered {}: {})",
            op.method,
            op.path,
            op.id,
            answer.status,
            answer.body
        );
    }
}
