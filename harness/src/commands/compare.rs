//! `gnfc compare RUN --a COMBO --b COMBO`.

use std::process::ExitCode;

use gnfc_reports::{compare_pair, PairSide, RunData};

use super::Context;
use crate::cli::{CompareArgs, DiffFormat};
use crate::ui::spinner;

pub async fn compare(ctx: &Context, args: CompareArgs) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let run = db.run(&args.run).await?;
    let bar = spinner(ctx.quiet, format!("loading run '{}'", run.name), None);
    let data = RunData::load(&db, run).await?;
    bar.finish_and_clear();
    let combo = |name: &str| {
        data.combo_named(name).ok_or_else(|| {
            anyhow::anyhow!(
                "run '{}' has no combo '{name}'; its combos are: {}",
                data.run.name,
                data.combos.join(", ")
            )
        })
    };
    let (a, b) = (combo(&args.a)?, combo(&args.b)?);
    let pair = compare_pair(
        PairSide {
            data: &data,
            combo: a,
        },
        PairSide {
            data: &data,
            combo: b,
        },
    );
    match args.format {
        DiffFormat::Md => println!("{}", gnfc_reports::compare_markdown(&data.run.name, &pair)),
        DiffFormat::Json => {
            let groups = pair.groups();
            let json =
                serde_json::json!({ "run": data.run.name, "comparison": pair, "groups": groups });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
