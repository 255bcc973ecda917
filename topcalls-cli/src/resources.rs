//! Campaigns, phone numbers, carriers, models, voices and the balance: one
//! SDK call each, printed.

use futures::StreamExt as _;
use serde::Serialize;
use topcalls_api::types::VoiceModeFilter;
use topcalls_api::{List, Listing, NewCarrier, NewPhoneNumber};

use crate::Context;
use crate::cli::{Campaigns, Carriers, Mode, Numbers, PageArgs, VoicesArgs};
use crate::exit::Failure;
use crate::output::{
    CAMPAIGN_COLUMNS, CARRIER_COLUMNS, Columns, Format, MODEL_COLUMNS, NUMBER_COLUMNS, Output,
    VOICE_COLUMNS, csv_writer, finish_csv, print_json_line, to_json, write_csv_header,
    write_csv_row,
};

/// A paginated list: one page (from `--cursor`), or with `--all` every item
/// as it arrives (JSON Lines, CSV rows; a table once all are in).
pub(crate) async fn paged<L>(
    out: &Output,
    mut list: List<'_, L>,
    page: PageArgs,
    columns: Columns,
) -> Result<(), Failure>
where
    L: Listing,
    L::Page: Serialize + Send,
    <L::Page as topcalls_api::Page>::Item: Serialize + Send,
{
    if let Some(limit) = page.limit {
        list = list.limit(limit);
    }
    if !page.all {
        if let Some(cursor) = page.cursor {
            list = list.cursor(cursor);
        }
        let page = list.page().await?;
        return out.list(&page, columns);
    }
    let mut items = list.stream();
    match out.format {
        Format::Json => {
            while let Some(item) = items.next().await {
                print_json_line(&to_json(&item?)?)?;
            }
            Ok(())
        }
        Format::Csv => {
            let mut writer = csv_writer();
            write_csv_header(&mut writer, columns)?;
            while let Some(item) = items.next().await {
                write_csv_row(&mut writer, &to_json(&item?)?, columns)?;
            }
            finish_csv(writer)
        }
        Format::Human => {
            let mut all = Vec::new();
            while let Some(item) = items.next().await {
                all.push(to_json(&item?)?);
            }
            out.rows(&all, columns)
        }
    }
}

pub(crate) async fn campaigns(cx: &Context, command: Campaigns) -> Result<(), Failure> {
    let campaigns = cx.client.campaigns();
    match command {
        Campaigns::List { page } => paged(&cx.out, campaigns.list(), page, CAMPAIGN_COLUMNS).await,
        Campaigns::Get { campaign_id } => cx.out.object(&campaigns.get(&campaign_id).await?),
        Campaigns::Start { campaign_id } => {
            let answer = campaigns.start(&campaign_id).await?;
            cx.out
                .done(&answer, &format!("started campaign {campaign_id}"))
        }
        Campaigns::Pause { campaign_id } => {
            let answer = campaigns.pause(&campaign_id).await?;
            cx.out
                .done(&answer, &format!("paused campaign {campaign_id}"))
        }
    }
}

pub(crate) async fn numbers(cx: &Context, command: Numbers) -> Result<(), Failure> {
    let numbers = cx.client.phone_numbers();
    match command {
        Numbers::List { page } => paged(&cx.out, numbers.list(), page, NUMBER_COLUMNS).await,
        Numbers::Get { phone_number_id } => cx.out.object(&numbers.get(&phone_number_id).await?),
        Numbers::Add {
            number,
            carrier_sid,
            label,
        } => {
            let mut new = NewPhoneNumber::new(number);
            if let Some(sid) = carrier_sid {
                new = new.voip_carrier_sid(sid);
            }
            if let Some(label) = label {
                new = new.label(label);
            }
            cx.out.object(&numbers.create(new).await?)
        }
        Numbers::Delete { phone_number_id } => {
            numbers.delete(&phone_number_id).await?;
            cx.out.done(
                &serde_json::json!({"deleted": phone_number_id}),
                &format!("deleted phone number {phone_number_id}"),
            )
        }
    }
}

pub(crate) async fn carriers(cx: &Context, command: Carriers) -> Result<(), Failure> {
    let carriers = cx.client.phone_numbers().carriers();
    match command {
        Carriers::List => cx.out.list(&carriers.list().await?, CARRIER_COLUMNS),
        Carriers::Add {
            name,
            gateway,
            port,
            inbound,
            outbound,
        } => {
            let mut new = NewCarrier::new(name, gateway)
                .inbound(inbound)
                .outbound(outbound);
            if let Some(port) = port {
                new = new.port(port);
            }
            cx.out.object(&carriers.create(new).await?)
        }
        Carriers::Delete { carrier_id } => {
            carriers.delete(&carrier_id).await?;
            cx.out.done(
                &serde_json::json!({"deleted": carrier_id}),
                &format!("deleted carrier {carrier_id}"),
            )
        }
    }
}

pub(crate) async fn models(cx: &Context) -> Result<(), Failure> {
    cx.out.list(&cx.client.models().await?, MODEL_COLUMNS)
}

pub(crate) async fn voices(cx: &Context, args: VoicesArgs) -> Result<(), Failure> {
    if !args.builtin {
        return cx.out.list(&cx.client.voices().await?, VOICE_COLUMNS);
    }
    let mut request = cx.client.builtin_voices();
    if let Some(mode) = args.mode {
        request = request.mode(match mode {
            Mode::Realtime => VoiceModeFilter::Realtime,
            Mode::Legacy => VoiceModeFilter::Legacy,
        });
    }
    if let Some(provider) = args.provider {
        request = request.provider(provider);
    }
    if let Some(gender) = args.gender {
        request = request.gender(gender);
    }
    if let Some(language) = args.language {
        request = request.language(language);
    }
    cx.out.list(&request.await?, VOICE_COLUMNS)
}

pub(crate) async fn balance(cx: &Context) -> Result<(), Failure> {
    cx.out.object(&cx.client.balance().await?)
}
