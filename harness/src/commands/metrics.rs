//! `gnfc metrics`: a run's metrics on stdout or in a node-exporter textfile (the families
//! are in `crate::metrics`).

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use super::{pick_run, Context};
use crate::metrics::render;

/// `gnfc metrics [--textfile PATH]`.
pub async fn metrics(
    ctx: &Context,
    run: Option<&str>,
    textfile: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let db = ctx.db().await?;
    let run = pick_run(&db, run).await?;
    let text = render(&db, run.id, &[]).await?;
    match textfile {
        Some(path) => write_textfile(path, &text)?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` for node-exporter's textfile collector: to a temporary file in the same
/// directory, synced, then renamed over `path`, so the collector never reads half a file.
fn write_textfile(path: &Path, text: &str) -> anyhow::Result<()> {
    if path.extension().and_then(|e| e.to_str()) != Some("prom") {
        anyhow::bail!(
            "{}: node-exporter's textfile collector reads only *.prom files; name the file \
             e.g. gnfc.prom",
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".gnfc-metrics-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    // The collector runs as another user: the file must be readable like any textfile.
    let mut perms = tmp.as_file().metadata()?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    tmp.as_file().set_permissions(perms)?;
    tmp.persist(path)
        .with_context(|| format!("cannot move the metrics into {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn textfile_must_be_prom() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_textfile(&dir.path().join("gnfc.txt"), "x 1\n").unwrap_err();
        assert!(e.to_string().contains("only *.prom files"), "{e}");
        let path = dir.path().join("gnfc.prom");
        write_textfile(&path, "a 1\n").unwrap();
        write_textfile(&path, "b 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b 2\n");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }
}
