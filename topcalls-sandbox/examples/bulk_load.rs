//! The sandbox at bulk scale, measured: lookups while a client pages through
//! a filtered list, cursor pages deep in the list, full pagination and
//! memory per call.
//!
//! ```text
//! cargo build --release --locked -p topcalls-sandbox
//! cargo run --release --locked -p topcalls-sandbox --example bulk_load -- \
//!     [--calls 100000] [--seconds 5] [--no-keys] target/release/topcalls-sandbox [OTHER-SANDBOX-BINARY…]
//! ```
//!
//! Each binary is started in turn as its own process (`--clock manual`, on a
//! free loopback port) and gets the same run:
//!
//! 1. `--calls` calls placed with `POST /v1/calls`, each with its own
//!    `Idempotency-Key` (8 at a time; one in ten to the busy test number),
//!    then the clock moved an hour so that they finish. Resident memory
//!    (`VmRSS` of the process) before, after placing them and once they
//!    finished, per call: a call and its stored idempotent answer
//!    (`--no-keys`: placed without keys, the call alone).
//! 2. `GET /v1/calls?limit=1&cursor=<the second-oldest call's created_at>`
//!    (the oldest call: the deepest page) after the first 10,000 calls and
//!    again after all of them.
//! 3. Every page of `GET /v1/calls?limit=200`, and of `?status=busy&limit=200`.
//! 4. `GET /v1/calls/{id}` (random ids) from 4 client tasks for `--seconds`,
//!    alone, then again while one more client pages through
//!    `GET /v1/calls?status=busy` (50 a page) over and over; twice in turn.
//!
//! It prints one table per binary, with the ratios within the run (under the
//! lister / alone, at 100k / at 10k). A benchmark, not a test: nothing is
//! asserted. Client and server share the machine's cores.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const KEY: &str = "tc_test_bulk_load_key_0001";
const LOOKUP_TASKS: usize = 4;
const SEED_TASKS: usize = 8;
/// Lookups alone then under the lister, this many times in turn.
const ROUNDS: usize = 2;

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    /// Place calls without an `Idempotency-Key` (to tell what the answers cost).
    no_keys: bool,
    calls: usize,
    seconds: u64,
    binaries: Vec<String>,
}

fn args() -> Result<Args, Error> {
    let mut args = Args {
        no_keys: false,
        calls: 100_000,
        seconds: 5,
        binaries: Vec::new(),
    };
    let mut raw = std::env::args().skip(1);
    while let Some(arg) = raw.next() {
        match arg.as_str() {
            "--calls" => args.calls = raw.next().ok_or("--calls N")?.parse()?,
            "--seconds" => args.seconds = raw.next().ok_or("--seconds S")?.parse()?,
            "--no-keys" => args.no_keys = true,
            _ => args.binaries.push(arg),
        }
    }
    if args.binaries.is_empty() {
        return Err(
            "name at least one sandbox binary, e.g. target/release/topcalls-sandbox".into(),
        );
    }
    if args.calls < 20_000 {
        return Err("--calls must be at least 20000 (the first measure is at 10000)".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = args()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "{} calls, {LOOKUP_TASKS} lookup tasks for {} s, {cores} cores shared by client and server",
        args.calls, args.seconds
    );
    for binary in &args.binaries {
        let (mut process, server) = Server::start(binary).await?;
        let result = run(Arc::new(server), &args).await;
        let _ = process.kill().await;
        print(binary, &result?);
    }
    Ok(())
}

/// A sandbox process, as its clients reach it.
struct Server {
    pid: u32,
    base: String,
    http: reqwest::Client,
}

impl Server {
    async fn start(binary: &str) -> Result<(Child, Self), Error> {
        let mut child = Command::new(binary)
            .args(["--port", "0", "--clock", "manual", "--queue-seconds", "3"])
            .args(["--balance-minutes", "1e12", "--api-key", KEY])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().ok_or("the sandbox exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut base = None;
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = line.strip_prefix("TOPCALLS_BASE_URL=") {
                base = Some(url.to_string());
                break;
            }
        }
        // Keep reading what it prints, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let server = Self {
            pid,
            base: base.ok_or("the sandbox printed no TOPCALLS_BASE_URL")?,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
        };
        Ok((child, server))
    }

    /// Resident memory of the server process, in bytes.
    fn rss(&self) -> Result<u64, Error> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .ok_or("no VmRSS")?;
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .ok_or("no VmRSS value")?
            .parse()?;
        Ok(kb * 1024)
    }

    async fn get(&self, path: &str) -> Result<Value, Error> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("GET {path}: {}", response.status()).into());
        }
        Ok(response.json().await?)
    }

    /// `GET path` for its status alone, reading the body through.
    async fn get_ok(&self, path: &str) -> Result<(), Error> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .send()
            .await?;
        let status = response.status();
        response.bytes().await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("GET {path}: {status}").into())
        }
    }

    async fn place(&self, row: usize, keyed: bool) -> Result<String, Error> {
        let to = if row.is_multiple_of(10) {
            "+15550000001".to_string()
        } else {
            format!("+1202555{:04}", row % 10_000)
        };
        let body = json!({
            "phone_number": to,
            "task": "Remind the patient of tomorrow's appointment at 10:00.",
            "voice": "alloy",
            "max_duration": 1,
        });
        let mut request = self
            .http
            .post(format!("{}/v1/calls", self.base))
            .bearer_auth(KEY)
            .json(&body);
        if keyed {
            request = request.header("idempotency-key", format!("bulk-load-{row:08}"));
        }
        let response = request.send().await?;
        if response.status() != reqwest::StatusCode::CREATED {
            return Err(format!("POST /v1/calls: {}", response.status()).into());
        }
        let answer: Value = response.json().await?;
        Ok(answer["call_id"].as_str().ok_or("no call_id")?.to_string())
    }

    /// Places calls `rows` (8 at a time), adding their ids to `ids`.
    async fn place_all(
        &self,
        rows: std::ops::Range<usize>,
        keyed: bool,
        ids: &mut Vec<String>,
    ) -> Result<(), Error> {
        let mut placed = futures::stream::iter(rows)
            .map(|row| self.place(row, keyed))
            .buffer_unordered(SEED_TASKS);
        while let Some(id) = placed.next().await {
            ids.push(id?);
        }
        Ok(())
    }

    async fn advance(&self, seconds: u64) -> Result<(), Error> {
        let response = self
            .http
            .post(format!("{}/_sandbox/advance", self.base))
            .bearer_auth(KEY)
            .json(&json!({ "seconds": seconds }))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("advance: {}", response.status()).into());
        }
        Ok(())
    }

    /// Time per page of `path`, over `rounds` sequential requests (the median).
    async fn page_time(&self, path: &str, rounds: usize) -> Result<Duration, Error> {
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let start = Instant::now();
            self.get_ok(path).await?;
            times.push(start.elapsed());
        }
        times.sort();
        Ok(times[times.len() / 2])
    }

    /// Every page of `query`, 200 a page: how long, and how many calls.
    async fn paginate(&self, query: &str) -> Result<(Duration, usize), Error> {
        let start = Instant::now();
        let mut cursor: Option<String> = None;
        let mut calls = 0;
        loop {
            let mut path = format!("/v1/calls?limit=200{query}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={}", encode(cursor)));
            }
            let page = self.page(&path).await?;
            calls += page.data.len();
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok((start.elapsed(), calls)),
            }
        }
    }
}

/// A page of calls as the load reads it: how many, and the next cursor
/// (the calls are skipped over, not decoded, to spare the shared cores).
#[derive(serde::Deserialize)]
struct Page {
    data: Vec<serde::de::IgnoredAny>,
    next_cursor: Option<String>,
}

impl Server {
    async fn page(&self, path: &str) -> Result<Page, Error> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("GET {path}: {}", response.status()).into());
        }
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }
}

fn encode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

/// Latencies of one lookup phase.
struct Lookups {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

/// `GET /v1/calls/{id}` from [`LOOKUP_TASKS`] tasks for `seconds`, with one
/// more task paging through `?status=busy` meanwhile when `lister`.
async fn lookups(
    server: &Arc<Server>,
    ids: &Arc<Vec<String>>,
    seconds: u64,
    lister: bool,
) -> Result<(Lookups, u64), Error> {
    let stop = Arc::new(AtomicBool::new(false));
    let pages = Arc::new(AtomicU64::new(0));
    let listing = lister.then(|| {
        let (server, stop, pages) = (server.clone(), stop.clone(), pages.clone());
        tokio::spawn(async move {
            let mut cursor: Option<String> = None;
            while !stop.load(Ordering::Relaxed) {
                let mut path = "/v1/calls?status=busy".to_string();
                if let Some(cursor) = &cursor {
                    path.push_str(&format!("&cursor={}", encode(cursor)));
                }
                let page = server.page(&path).await?;
                pages.fetch_add(1, Ordering::Relaxed);
                cursor = page.next_cursor;
            }
            Ok::<(), Error>(())
        })
    });
    let started = Instant::now();
    let tasks: Vec<_> = (0..LOOKUP_TASKS)
        .map(|task| {
            let (server, ids) = (server.clone(), ids.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ task as u64;
                let deadline = Instant::now() + Duration::from_secs(seconds);
                while Instant::now() < deadline {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let id = &ids[(x % ids.len() as u64) as usize];
                    let start = Instant::now();
                    server.get_ok(&format!("/v1/calls/{id}")).await?;
                    times.push(start.elapsed());
                }
                Ok::<_, Error>(times)
            })
        })
        .collect();
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await??);
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    if let Some(listing) = listing {
        listing.await??;
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    Ok((
        Lookups {
            p50: at(0.50),
            p99: at(0.99),
            per_second: times.len() as f64 / elapsed.as_secs_f64(),
        },
        pages.load(Ordering::Relaxed),
    ))
}

struct Figures {
    keyed: bool,
    rss_placed: f64,
    rss_per_call: f64,
    seed_per_second: f64,
    deep_page_10k: Duration,
    deep_page_all: Duration,
    paginate_all: (Duration, usize),
    paginate_busy: (Duration, usize),
    /// Lookups alone, under the lister, and the lister's pages per second; per round.
    rounds: Vec<(Lookups, Lookups, f64)>,
    seconds: u64,
    calls: usize,
}

async fn run(server: Arc<Server>, args: &Args) -> Result<Figures, Error> {
    // The two oldest calls first, one after the other, so their order is known.
    let keyed = !args.no_keys;
    let mut ids = vec![server.place(0, keyed).await?, server.place(1, keyed).await?];
    let second_oldest = server.get(&format!("/v1/calls/{}", ids[1])).await?;
    let cursor = encode(
        second_oldest["created_at"]
            .as_str()
            .ok_or("no created_at")?,
    );
    let deep = format!("/v1/calls?limit=1&cursor={cursor}");

    let rss_before = server.rss()?;
    let seeding = Instant::now();
    server.place_all(2..10_000, keyed, &mut ids).await?;
    server.advance(3600).await?;
    let deep_page_10k = server.page_time(&deep, 200).await?;
    server
        .place_all(10_000..args.calls, keyed, &mut ids)
        .await?;
    let seed_per_second = (args.calls - 10_000) as f64 / seeding.elapsed().as_secs_f64();
    let per_call = |rss: u64| rss.saturating_sub(rss_before) as f64 / args.calls as f64;
    // 90% of the calls are still queued here.
    let rss_placed = per_call(server.rss()?);
    server.advance(3600).await?;
    let rss_per_call = per_call(server.rss()?);
    let deep_page_all = server.page_time(&deep, 200).await?;
    let paginate_all = server.paginate("").await?;
    let paginate_busy = server.paginate("&status=busy").await?;

    let ids = Arc::new(ids);
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let (alone, _) = lookups(&server, &ids, args.seconds, false).await?;
        let (listed, pages) = lookups(&server, &ids, args.seconds, true).await?;
        rounds.push((alone, listed, pages as f64 / args.seconds as f64));
    }
    Ok(Figures {
        keyed,
        rss_placed,
        rss_per_call,
        seed_per_second,
        deep_page_10k,
        deep_page_all,
        paginate_all,
        paginate_busy,
        rounds,
        seconds: args.seconds,
        calls: args.calls,
    })
}

fn print(binary: &str, f: &Figures) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("\n## {binary}\n");
    println!("| measure | value | ratio |");
    println!("| --- | ---: | ---: |");
    for (round, (alone, listed, pages)) in f.rounds.iter().enumerate() {
        let round = round + 1;
        println!(
            "| {round}. GET /v1/calls/{{id}} alone ({LOOKUP_TASKS} tasks, {} s): p50 / p99 | {:.0} / {:.0} µs | |",
            f.seconds,
            us(alone.p50),
            us(alone.p99)
        );
        println!(
            "| {round}. … while one client pages `?status=busy` ({pages:.0} pages/s): p50 / p99 | {:.0} / {:.0} µs | **p99 {:.2}× alone** |",
            us(listed.p50),
            us(listed.p99),
            us(listed.p99) / us(alone.p99)
        );
        println!(
            "| {round}. GET /v1/calls/{{id}} req/s alone / under the lister | {:.0} / {:.0} | {:.2}× |",
            alone.per_second,
            listed.per_second,
            listed.per_second / alone.per_second
        );
    }
    println!(
        "| `?limit=1&cursor=<oldest>` at 10k / at {}k calls (median of 200) | {:.0} / {:.0} µs | {:.2}× |",
        f.calls / 1000,
        us(f.deep_page_10k),
        us(f.deep_page_all),
        us(f.deep_page_all) / us(f.deep_page_10k)
    );
    println!(
        "| every page of `?limit=200` ({} calls) | {:.0} ms | {:.0} calls/s |",
        f.paginate_all.1,
        ms(f.paginate_all.0),
        f.paginate_all.1 as f64 / f.paginate_all.0.as_secs_f64()
    );
    println!(
        "| every page of `?status=busy&limit=200` ({} calls) | {:.0} ms | {:.0} calls/s |",
        f.paginate_busy.1,
        ms(f.paginate_busy.0),
        f.paginate_busy.1 as f64 / f.paginate_busy.0.as_secs_f64()
    );
    let what = if f.keyed {
        "call + idempotent answer"
    } else {
        "call, placed without a key"
    };
    println!(
        "| resident memory per call (VmRSS delta / calls, {what}): placed / finished | {:.0} / {:.0} B | |",
        f.rss_placed, f.rss_per_call
    );
    println!(
        "| POST /v1/calls while seeding (8 at a time) | {:.0} calls/s | |",
        f.seed_per_second
    );
}
