//! Command-line front ends of the library: `crawlium crawl`, a crawl job run from a terminal
//! with a live progress bar (done/total, rate, memory) and a summary table at the end; and
//! `crawlium embed`, the embedding backlog worked off with a progress bar.
//!
//! A face like `mcp`: it imports `app`, `config` and the domain it drives (`crawl`, `jobs`,
//! `store`).

use std::{process::ExitCode, sync::Arc, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    app::App,
    config::CrawlCommand,
    crawl::crawler::{CrawlMode, CrawlSpec},
    jobs::JobSummary,
    store::JobState,
};

/// The principal of command-line jobs.
const OWNER: &str = "local";
/// The CLI waits for its job to end (a year stands for "no limit").
const UNTIL_DONE: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Runs `crawlium crawl`: starts the job, shows its progress, prints the outcome. Ctrl-C
/// cancels the job (the pages stored so far are kept).
pub async fn crawl(app: &Arc<App>, args: CrawlCommand) -> anyhow::Result<ExitCode> {
    let mut spec = CrawlSpec {
        mode: if args.sitemap {
            CrawlMode::Sitemap
        } else {
            CrawlMode::Site
        },
        url: args.url,
        max_depth: if args.sitemap { 0 } else { args.max_depth },
        max_pages: args.max_pages,
        include_paths: args.include_paths,
        exclude_paths: args.exclude_paths,
        allow_subdomains: false,
        allow_external: false,
        respect_robots: !args.ignore_robots,
        max_concurrent: args.max_concurrent as usize,
        memory_threshold_mb: Some(app.config.crawl_memory_threshold_mb),
        lastmod_since: None,
        render: args.render,
    };
    if args.render
        && let Some(why) = app.crawler.render_unavailable()
    {
        anyhow::bail!("{why}");
    }
    spec.validate()
        .map_err(|e| anyhow::anyhow!(e.for_command_line()))?;
    let job = app.jobs.start_crawl(spec, OWNER).await?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let wait = app.jobs.wait(&job.job_id, OWNER, UNTIL_DONE, |summary| {
        bar.set_message(progress_line(&summary));
        async {}
    });
    let summary = tokio::select! {
        summary = wait => summary?,
        _ = tokio::signal::ctrl_c() => {
            bar.println("interrupted: cancelling the job");
            app.jobs.cancel(&job.job_id, OWNER).await?
        }
    };
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary_table(&summary));
    }
    Ok(if summary.status == JobState::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs `crawlium embed`: starts the embedder and waits until every stored chunk, code block
/// and symbol has a vector, showing how many are done. Ctrl-C stops it (the vectors stored so far are kept).
pub async fn embed(app: &Arc<App>) -> anyhow::Result<ExitCode> {
    let search = &app.search;
    if !search.configured() {
        anyhow::bail!(
            "nothing to embed with: set EMBEDDING_MODEL_DIR (tools/fetch-model.sh fetches the \
             local model) or EMBEDDINGS_URL and EMBEDDINGS_MODEL"
        );
    }
    let stop = tokio_util::sync::CancellationToken::new();
    search.start(stop.clone());
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} texts · {per_sec} · {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let interrupted = loop {
        let status = search.status();
        if !status.ok {
            bar.finish_and_clear();
            anyhow::bail!("{}", status.detail);
        }
        bar.set_length(status.embedded + status.backlog.max(0) as u64);
        bar.set_position(status.embedded);
        bar.set_message(if status.semantic {
            "embedding"
        } else {
            "loading the model"
        });
        if status.caught_up {
            break false;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = tokio::signal::ctrl_c() => break true,
        }
    };
    stop.cancel();
    bar.finish_and_clear();
    let status = search.status();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} {} texts in {seconds:.1} s ({:.1} texts/s); {} vectors indexed, {} texts waiting",
        if interrupted {
            "interrupted after"
        } else {
            "embedded"
        },
        status.embedded,
        status.embedded as f64 / seconds.max(1e-9),
        status.indexed,
        status.backlog
    );
    Ok(if interrupted {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `1234/5000 pages · 812.3 pages/s · 87 MB · 8 in flight`
fn progress_line(summary: &JobSummary) -> String {
    let p = &summary.progress;
    let settled = p.done + p.failed + p.skipped;
    let total = p
        .total
        .unwrap_or(settled + p.queued + p.in_flight)
        .max(settled);
    format!(
        "{settled}/{total} URLs ({} failed, {} skipped) · {:.1} pages/s · {:.0} MB · {} in flight",
        p.failed, p.skipped, summary.stats.pages_per_sec, summary.stats.memory.peak_mb, p.in_flight
    )
}

/// The table printed when a job ends.
pub fn summary_table(summary: &JobSummary) -> String {
    let (p, s) = (&summary.progress, &summary.stats);
    let mut rows = vec![
        ("job", summary.job_id.clone()),
        ("status", summary.status.as_str().to_string()),
        ("url", summary.url.clone()),
        ("pages done", p.done.to_string()),
        ("failed", p.failed.to_string()),
        ("skipped", p.skipped.to_string()),
        ("pages/s", format!("{:.1}", s.pages_per_sec)),
        ("time", format!("{:.1} s", s.elapsed_ms as f64 / 1000.0)),
        (
            "downloaded",
            format!("{:.1} MB", s.bytes as f64 / 1_048_576.0),
        ),
        (
            "memory",
            format!(
                "peak {:.0} MB, avg {:.0} MB",
                s.memory.peak_mb, s.memory.avg_mb
            ),
        ),
        ("retries", s.retries.to_string()),
        (
            "throttled",
            format!("{:.1} s", s.throttled_ms as f64 / 1000.0),
        ),
    ];
    for warning in &s.warnings {
        rows.push(("warning", warning.clone()));
    }
    for error in &summary.errors {
        rows.push(("error", format!("{}: {}", error.url, error.error)));
    }
    rows.push(("", summary.message.clone()));
    rows.iter()
        .map(|(key, value)| format!("{key:<12} {value}\n"))
        .collect()
}
