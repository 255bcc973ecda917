//! The webhook delivery loop: due deliveries go out signed, each receiver's
//! in order, and each attempt's outcome is recorded with its retry; and
//! what waits for it (`settle`, `wait_for`). What is delivered to whom is
//! decided in `state::events`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as Span, Utc};
use topcalls_api::webhooks::sign_headers;

use crate::app::{App, lock};
use crate::state::events::DeliveryInfo;

/// Waits after a failed attempt (1 min, 5 min, 15 min, 1 h), counted from the
/// sandbox time at which that attempt was sent, then the delivery is failed.
const RETRY_SCHEDULE: [i64; 4] = [60, 5 * 60, 15 * 60, 60 * 60];
/// Waits until no delivery is due at the current sandbox time or in flight:
/// every attempt due so far has been made and its outcome recorded.
pub(crate) async fn settle(app: &App) {
    let mut recorded = app.deliveries.recorded.subscribe();
    loop {
        // Mark the current count seen before looking, so that an attempt
        // recorded after the look still wakes us.
        recorded.borrow_and_update();
        let unsettled = {
            let world = app.world();
            let now = app.clock.now();
            world.deliveries.iter().any(|d| d.unsettled(now))
        };
        if !unsettled {
            return;
        }
        app.deliveries.wake();
        if recorded.changed().await.is_err() {
            return;
        }
    }
}

/// Waits until `done` holds for the deliveries, looking again after each
/// recorded attempt; returns the deliveries it held for.
pub(crate) async fn wait_for(
    app: &App,
    done: impl Fn(&[DeliveryInfo]) -> bool,
) -> Vec<DeliveryInfo> {
    let mut recorded = app.deliveries.recorded.subscribe();
    loop {
        recorded.borrow_and_update();
        let deliveries: Vec<DeliveryInfo> = app
            .world()
            .deliveries
            .iter()
            .map(DeliveryInfo::from)
            .collect();
        if done(&deliveries) || recorded.changed().await.is_err() {
            return deliveries;
        }
    }
}

/// Sends due deliveries until `stop`, and records each attempt.
///
/// Each receiver gets its deliveries in order, one at a time; receivers are
/// served side by side, so a slow or dead one holds up no other. Each
/// delivery is signed with its account's secret. An attempt without an
/// answer within `timeout` (real time) counts as failed.
pub(crate) async fn deliver(
    app: Arc<App>,
    timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // Only ever the URL given: no redirects followed, no proxy in between.
    let http = match reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
    {
        Ok(http) => http,
        Err(_) => return,
    };
    // An automatic clock makes deliveries due without telling anyone: look
    // every 20 ms. A manual clock, and `settle`, wake the loop at once.
    let mut every = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = app.deliveries.wake.notified() => {}
            _ = stop.changed() => return,
        }
        let now = app.clock.now();
        let mut due: BTreeMap<String, Vec<Due>> = BTreeMap::new();
        {
            let mut world = app.world();
            let busy: HashSet<String> = world
                .deliveries
                .iter()
                .filter(|d| d.in_flight)
                .map(|d| d.url.clone())
                .collect();
            for (index, d) in world.deliveries.iter_mut().enumerate() {
                if !d.delivered
                    && !d.failed
                    && !d.in_flight
                    && d.next_at <= now
                    && !busy.contains(&d.url)
                {
                    d.in_flight = true;
                    due.entry(d.url.clone()).or_default().push(Due {
                        index,
                        account: d.account,
                        id: d.id.clone(),
                        body: d.body.clone(),
                    });
                }
            }
        }
        for (url, batch) in due {
            tokio::spawn(send_in_order(app.clone(), http.clone(), url, batch));
        }
    }
}

/// A delivery due for an attempt.
struct Due {
    /// Its index in `World::deliveries`.
    index: usize,
    account: usize,
    id: String,
    body: Vec<u8>,
}

/// One attempt for each of `batch` (deliveries to `url`), in order.
async fn send_in_order(app: Arc<App>, http: reqwest::Client, url: String, batch: Vec<Due>) {
    for Due {
        index,
        account,
        id,
        body,
    } in batch
    {
        // The retry schedule counts from when the attempt was sent, whatever the
        // clock does while its answer is on the way.
        let sent_at = app.clock.now();
        // Wall-clock time, not sandbox time: receivers check it against their own
        // clock (5 minutes' tolerance), and the sandbox clock runs ahead of it.
        let timestamp = Utc::now().timestamp();
        // Every account has a secret; were one missing, the attempt fails
        // (and is recorded) rather than going out unsigned.
        let status = match app.webhook_secrets.get(account) {
            Some(secret) => http
                .post(&url)
                .headers(sign_headers(secret, &id, timestamp, &body))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .ok()
                .map(|r| r.status().as_u16()),
            None => None,
        };
        if let Some(delivery) = lock(&app.world).deliveries.get_mut(index) {
            delivery.in_flight = false;
            delivery.attempts.push(status);
            if status.is_some_and(|s| (200..300).contains(&s)) {
                delivery.delivered = true;
            } else if let Some(wait) = RETRY_SCHEDULE.get(delivery.attempts.len() - 1) {
                delivery.next_at = sent_at + Span::seconds(*wait);
            } else {
                delivery.failed = true;
            }
        }
        // After the world's lock is released: whoever wakes sees the outcome.
        app.deliveries.recorded.send_modify(|count| *count += 1);
    }
}
