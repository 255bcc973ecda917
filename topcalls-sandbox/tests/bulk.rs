//! The sandbox at bulk scale: paging through thousands of calls (with and
//! without filters, while calls are placed and finish between pages) and
//! the idempotency window, kept by sandbox time whether or not another
//! POST arrives.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Api, call_body};
use serde_json::Value;
use topcalls_sandbox::{ClockMode, Sandbox};

const SEEDED: usize = 1_000;

async fn bulk() -> Sandbox {
    Sandbox::builder()
        .clock(ClockMode::Manual)
        .balance_minutes(1e6)
        .seed_calls(SEEDED)
        .start()
        .await
        .unwrap()
}

fn urlencode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

/// Every call `query` lists, page by page with `limit` calls a page. With
/// `insert`, two calls are placed after each page (one busy) and the clock
/// moves until they are final, so the lists and their indexes change
/// between pages.
async fn walk(api: &Api, sandbox: &Sandbox, query: &str, limit: usize, insert: bool) -> Vec<Value> {
    let key = sandbox.api_key();
    let mut calls = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/calls?limit={limit}{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", urlencode(cursor)));
        }
        let page = api.get(&path, key).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() <= limit, "{path}");
        calls.extend(data.iter().cloned());
        if insert {
            for to in ["+15550000001", "+15551234567"] {
                let placed = api.post("/v1/calls", key, Some(call_body(to))).await;
                assert_eq!(placed.status, 201);
            }
            sandbox.advance(Duration::from_secs(120));
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(data.len(), limit, "only a full page has a next one");
                cursor = Some(next.to_string());
            }
            None => break,
        }
    }
    calls
}

fn ids(calls: &[Value]) -> Vec<&str> {
    calls.iter().map(|c| c["id"].as_str().unwrap()).collect()
}

/// What a filter keeps, decided from the calls themselves.
fn kept(call: &Value, status: Option<&str>, campaign: Option<&str>) -> bool {
    status.is_none_or(|s| call["call_status"] == s)
        && campaign.is_none_or(|c| call["campaign_id"] == c)
}

#[tokio::test]
async fn paging_through_thousands_of_calls_lists_each_once_in_order_while_calls_come_and_finish() {
    let sandbox = bulk().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    // Campaign calls too: start the two campaigns with leads and let them finish.
    let campaigns = api.get("/v1/campaigns", key).await.body;
    let mut with_leads = Vec::new();
    for campaign in campaigns["data"].as_array().unwrap() {
        if campaign["status"] == "completed" {
            continue;
        }
        let id = campaign["id"].as_str().unwrap().to_string();
        let started = api
            .post(&format!("/v1/campaigns/{id}/start"), key, None)
            .await;
        assert_eq!(started.status, 200, "{}", started.body);
        with_leads.push(id);
    }
    sandbox.advance(Duration::from_secs(3600));
    let campaign = with_leads[0].as_str();

    let filters = [
        (None, None),
        (Some("busy"), None),
        (Some("no-answer"), None),
        (Some("completed"), None),
        (None, Some(campaign)),
        (Some("completed"), Some(campaign)),
        (Some("busy"), Some(campaign)),
    ];
    for (status, campaign) in filters {
        let mut query = String::new();
        if let Some(status) = status {
            query.push_str(&format!("&status={status}"));
        }
        if let Some(campaign) = campaign {
            query.push_str(&format!("&campaign_id={campaign}"));
        }
        // What the list holds now, from one unfiltered walk of full pages.
        let all = walk(&api, &sandbox, "", 200, false).await;
        let expected: Vec<&str> = ids(&all)
            .into_iter()
            .zip(&all)
            .filter(|(_, call)| kept(call, status, campaign))
            .map(|(id, _)| id)
            .collect();
        // Small pages, so that even a campaign's calls take several.
        let limit = if campaign.is_some() { 2 } else { 37 };
        let listed = walk(&api, &sandbox, &query, limit, true).await;
        assert_eq!(
            ids(&listed),
            expected,
            "{query}: every call the filter keeps, once, newest first, none placed after the walk began"
        );
        let unique: HashSet<&str> = ids(&listed).into_iter().collect();
        assert_eq!(unique.len(), listed.len(), "{query}");
        let times: Vec<&str> = listed
            .iter()
            .map(|c| c["created_at"].as_str().unwrap())
            .collect();
        let times: Vec<chrono::DateTime<chrono::Utc>> =
            times.iter().map(|t| t.parse().unwrap()).collect();
        assert!(
            times.windows(2).all(|w| w[0] > w[1]),
            "{query}: newest first"
        );
        match (status, campaign) {
            (None, None) => assert!(listed.len() >= SEEDED + 10, "{}", listed.len()),
            // One seeded call in ten is busy, one in ten unanswered.
            (Some("busy" | "no-answer"), None) => {
                assert!(listed.len() >= SEEDED / 10, "{query}: {}", listed.len())
            }
            (Some("busy"), Some(_)) => assert!(listed.is_empty(), "{query}"),
            (_, Some(_)) => assert!(listed.len() >= 4, "{query}: {}", listed.len()),
            _ => assert!(listed.len() > SEEDED / 2, "{query}: {}", listed.len()),
        }
    }
}

#[tokio::test]
async fn a_cursor_into_seeded_calls_resumes_where_the_last_page_stopped() {
    let sandbox = bulk().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let all = walk(&api, &sandbox, "", 200, false).await;
    assert_eq!(all.len(), SEEDED);
    // The second-oldest call's `created_at` as the cursor: the oldest call alone.
    let cursor = all[SEEDED - 2]["created_at"].as_str().unwrap();
    let page = api
        .get(
            &format!("/v1/calls?limit=1&cursor={}", urlencode(cursor)),
            key,
        )
        .await
        .body;
    assert_eq!(page["data"][0]["id"], all[SEEDED - 1]["id"]);
    assert_eq!(page["next_cursor"], Value::Null);
    // Seeded calls are finished, in the documented mix.
    let busy = all.iter().filter(|c| c["call_status"] == "busy").count();
    assert_eq!(busy, SEEDED / 10);
    assert!(all.iter().all(|c| c["completed"] == true));
}

fn keyed(key: &str) -> [(&'static str, &str); 1] {
    ["idempotency-key"].map(|name| (name, key))
}

async fn post_keyed(api: &Api, sandbox: &Sandbox, key: &str, to: &str) -> (u16, Value, bool) {
    let answer = api
        .send(
            reqwest::Method::POST,
            "/v1/calls",
            Some(sandbox.api_key()),
            Some(call_body(to)),
            &keyed(key),
        )
        .await;
    let replayed = answer
        .headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    (answer.status, answer.body, replayed)
}

#[tokio::test]
async fn an_idempotent_answer_is_kept_for_24_hours_of_sandbox_time_then_forgotten_without_another_post()
 {
    let sandbox = bulk().await;
    let api = Api::new(&sandbox);
    let (status, first, _) = post_keyed(&api, &sandbox, "order-0001", "+15551234567").await;
    assert_eq!(status, 201);
    assert_eq!(sandbox.idempotent_answers(), 1);

    sandbox.advance(Duration::from_secs(24 * 3600 - 1));
    let (status, again, replayed) = post_keyed(&api, &sandbox, "order-0001", "+15551234567").await;
    assert_eq!((status, replayed), (201, true), "kept just before 24 hours");
    assert_eq!(again["call_id"], first["call_id"]);
    assert_eq!(sandbox.idempotent_answers(), 1);

    // The window passes: the clock's move alone forgets the answer.
    sandbox.advance(Duration::from_secs(1));
    assert_eq!(sandbox.idempotent_answers(), 0);
    // The key is free again: another body is a new call, not a 409.
    let (status, other, replayed) = post_keyed(&api, &sandbox, "order-0001", "+15557654321").await;
    assert_eq!((status, replayed), (201, false));
    assert_ne!(other["call_id"], first["call_id"]);
}

#[tokio::test]
async fn past_the_capacity_the_oldest_idempotent_answer_goes_first() {
    let sandbox = Sandbox::builder()
        .clock(ClockMode::Manual)
        .balance_minutes(1e6)
        .idempotency_capacity(3)
        .start()
        .await
        .unwrap();
    let api = Api::new(&sandbox);
    let mut calls = Vec::new();
    for n in 0..5 {
        let (status, answer, _) =
            post_keyed(&api, &sandbox, &format!("row-{n:04}"), "+15551234567").await;
        assert_eq!(status, 201);
        calls.push(answer["call_id"].clone());
        assert_eq!(sandbox.idempotent_answers(), (n + 1).min(3));
    }
    // The three newest replay, with no new call.
    for (n, call) in calls.iter().enumerate().skip(2) {
        let (status, answer, replayed) =
            post_keyed(&api, &sandbox, &format!("row-{n:04}"), "+15551234567").await;
        assert_eq!((status, replayed), (201, true), "row {n}");
        assert_eq!(&answer["call_id"], call);
    }
    assert_eq!(sandbox.calls_count(), 5);
    // The oldest was forgotten early, as if its window had passed: it runs again.
    let (status, answer, replayed) = post_keyed(&api, &sandbox, "row-0000", "+15551234567").await;
    assert_eq!((status, replayed), (201, false));
    assert_ne!(answer["call_id"], calls[0]);
    assert_eq!(sandbox.calls_count(), 6);
    // The store stays at its capacity.
    assert_eq!(sandbox.idempotent_answers(), 3);
}
