//! `bookinfo-load`: a small crowd for a BookInfo deployment.
//!
//! ```text
//! bookinfo-load                                   # http://localhost:9080, 4 users, until Ctrl-C
//! bookinfo-load http://localhost:9080 --rate 20 --duration 5m
//! bookinfo-load --requests 1000 --concurrency 16 --json
//! bookinfo-load --mix signed-in=1 --users jason   # what istio.io routes to reviews v2
//! ```
//!
//! On a terminal a progress line (requests, rate, errors, p50/p99) is redrawn on stderr; at the
//! end, or on Ctrl-C, a summary is printed: counts by status, by route and by the reviews
//! version each page showed, and latency percentiles. Exit status: 0 when every request got an
//! answer below 500, 1 otherwise, 2 for bad arguments.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use bookinfo_load::{Mix, Plan};
use clap::Parser;
use tokio::sync::watch;

/// Drive a BookInfo deployment: anonymous and signed-in page views and the JSON API routes.
#[derive(Debug, Parser)]
#[command(name = "bookinfo-load", version)]
struct Args {
    /// productpage's address.
    #[arg(default_value = "http://localhost:9080", value_parser = parse_target)]
    target: String,
    /// Virtual users, each with one request in flight at a time (default 4; 64 with --rate).
    #[arg(short, long, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    concurrency: Option<u16>,
    /// Requests per second across all users (default: as fast as the users go).
    #[arg(short, long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// Stop after this long: a number with ms, s, m or h (e.g. 30s, 5m).
    #[arg(short, long, value_parser = parse_span_of_time)]
    duration: Option<Duration>,
    /// Stop after this many requests.
    #[arg(short = 'n', long, value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,
    /// Relative weights of anonymous page views, signed-in page views and API calls.
    #[arg(long, default_value = "anonymous=5,signed-in=3,api=2")]
    mix: Mix,
    /// Users to sign in as, comma-separated, one per virtual user in turn (istio.io's routing
    /// tasks send jason to reviews v2).
    #[arg(long, value_delimiter = ',', default_value = "jason,kylie,amir", value_parser = parse_user)]
    users: Vec<String>,
    /// Give up on a request after this long (it counts as an error).
    #[arg(long, default_value = "10s", value_parser = parse_span_of_time)]
    timeout: Duration,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn parse_target(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text)
        .map_err(|e| format!("{text:?} is not a URL ({e}); e.g. http://localhost:9080"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{text:?} is not an http:// or https:// address"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 100_000.0 => Ok(r),
        _ => Err(format!(
            "{text:?} is not a rate: give requests per second, above 0 and at most 100000"
        )),
    }
}

fn parse_user(text: &str) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(format!(
            "{text:?} is not a user name (1 to 64 printable characters)"
        ));
    }
    Ok(name.to_owned())
}

/// `500ms`, `90s`, `15m`, `2h` (a bare number is seconds).
fn parse_span_of_time(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 30s, 5m or 1h"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use ms, s, m or h"
            ));
        }
    };
    if d.is_zero() {
        return Err("must be more than zero".to_owned());
    }
    Ok(d)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let concurrency = args
        .concurrency
        .unwrap_or(if args.rate.is_some() { 64 } else { 4 });
    let plan = Plan {
        target: args.target,
        mix: args.mix,
        users: args.users,
        concurrency: usize::from(concurrency),
        rate: args.rate,
        requests: args.requests,
        duration: args.duration,
        timeout: args.timeout,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let running = match bookinfo_load::start(plan, stop_rx) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bookinfo-load: {e}");
            return ExitCode::from(2);
        }
    };
    let terminal = std::io::stderr().is_terminal();
    let live = running.live.clone();
    let progress = tokio::spawn(async move {
        if !terminal {
            return;
        }
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", live.progress());
            let _ = err.flush();
        }
    });
    tokio::spawn(async move {
        stop_signal().await;
        let _ = stop_tx.send(true);
    });
    let summary = running.finish().await;
    progress.abort();
    if terminal {
        eprint!("\r\x1b[2K");
    }
    if args.json {
        match serde_json::to_string_pretty(&summary) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("bookinfo-load: {e}"),
        }
    } else {
        print!("{summary}");
    }
    if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Ctrl-C, or SIGTERM (a container being stopped).
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        assert_eq!(parse_span_of_time("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_span_of_time("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_span_of_time("0s").is_err());
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("nan").is_err());
        assert_eq!(parse_rate("2.5"), Ok(2.5));
        assert_eq!(
            parse_target("http://localhost:9080/").as_deref(),
            Ok("http://localhost:9080")
        );
        assert!(parse_target("localhost:9080").is_err());
        let a = Args::try_parse_from(["bookinfo-load", "--users", "jason, kylie"]).unwrap();
        assert_eq!(a.users, ["jason", "kylie"]);
        assert_eq!(a.target, "http://localhost:9080");
    }
}
