//! `POST /ingest`: bulk ingestion as NDJSON, one `InvocationTreeInput` per line.
//!
//! The body is streamed, never held whole: lines are read as they arrive and written in
//! transactions of `--ingest-chunk-lines` lines. Unlike the `ingest` mutation, each line stands
//! alone: an invalid line is rejected and the others are written. The response streams one JSON
//! line per input line — `{"line":N,"inserted":…,"updated":…,"unchanged":…}` or
//! `{"line":N,"error":{"message":…,"extensions":{"code":…,"field":…}}}` — then a summary line
//! `{"summary":{"lines":…,"accepted":…,"rejected":…,"counts":{…}}}`. Results go out as soon as
//! their chunk is committed; a client that sends its whole body before reading loses nothing
//! (results wait in memory, about a hundred bytes per line).

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::input::InvocationTreeInput;
use super::plan::Unit;
use super::{IngestCounts, IngestError, IngestErrorCode, Ingestor};
use crate::error::error_response;

/// Media types accepted for the body.
const NDJSON_TYPES: [&str; 3] = ["application/x-ndjson", "application/ndjson", "application/jsonl"];

pub async fn handle(ingestor: Ingestor, headers: &HeaderMap, body: Body) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !NDJSON_TYPES.contains(&media.as_str()) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            format!("send NDJSON (Content-Type: application/x-ndjson), not {content_type:?}"),
            "application/json",
        );
    }
    let (sender, receiver) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let summary = run(&ingestor, body, &sender).await;
        let _ = sender.send(format!("{}\n", json!({ "summary": summary })));
    });
    let stream = UnboundedReceiverStream::new(receiver).map(Ok::<_, std::convert::Infallible>);
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(stream)).into_response()
}

#[derive(Default, serde::Serialize)]
struct Summary {
    lines: u64,
    accepted: u64,
    rejected: u64,
    counts: IngestCounts,
    /// Set when the request stopped early (the body broke off, or the database failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    aborted: Option<String>,
}

async fn run(ingestor: &Ingestor, body: Body, out: &mpsc::UnboundedSender<String>) -> Summary {
    let config = ingestor.config().clone();
    let mut lines = Lines::new(body.into_data_stream(), config.max_request_bytes);
    let mut summary = Summary::default();
    // Lines read since the last write, parsed or not, so results go out in line order.
    let mut chunk: Vec<(u64, Result<Unit, IngestError>)> = Vec::with_capacity(config.ingest_chunk_lines);
    loop {
        let line = match lines.next().await {
            None => break,
            Some(Err(err)) => {
                summary.aborted = Some(format!("reading the body failed after line {}: {err}", summary.lines));
                break;
            }
            Some(Ok(line)) => line,
        };
        summary.lines += 1;
        let parsed = match line {
            Line::Text(text) if text.trim().is_empty() => continue,
            Line::Text(text) => parse(&text).map(|tree| Unit::from_tree(tree, "line")),
            Line::TooLong => Err(IngestError::bad_input(
                "line",
                "",
                format!("longer than {} bytes (--max-request-bytes)", config.max_request_bytes),
            )),
            Line::NotUtf8 => Err(IngestError::bad_input("line", "", "is not UTF-8")),
        };
        chunk.push((summary.lines, parsed));
        if chunk.len() >= config.ingest_chunk_lines
            && let Err(err) = flush(ingestor, &mut chunk, &mut summary, out).await
        {
            summary.aborted = Some(err);
            return summary;
        }
    }
    if let Err(err) = flush(ingestor, &mut chunk, &mut summary, out).await {
        summary.aborted = Some(err);
    }
    summary
}

/// One line of the body.
enum Line {
    Text(String),
    /// Longer than the limit; its bytes were dropped as they arrived.
    TooLong,
    NotUtf8,
}

/// Splits a byte stream into lines of at most `max` bytes without holding more than one line.
struct Lines<S> {
    stream: S,
    buffer: BytesMut,
    max: usize,
    /// Inside a line that is already too long: drop bytes up to its end.
    skipping: bool,
    finished: bool,
}

impl<S, E> Lines<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    fn new(stream: S, max: usize) -> Self {
        Self { stream, buffer: BytesMut::new(), max, skipping: false, finished: false }
    }

    async fn next(&mut self) -> Option<Result<Line, String>> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let mut line = self.buffer.split_to(end + 1);
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                if std::mem::take(&mut self.skipping) || line.len() > self.max {
                    return Some(Ok(Line::TooLong));
                }
                return Some(Ok(match String::from_utf8(line.to_vec()) {
                    Ok(text) => Line::Text(text),
                    Err(_) => Line::NotUtf8,
                }));
            }
            if self.buffer.len() > self.max {
                self.buffer.clear();
                self.skipping = true;
            }
            if self.finished {
                // The last line may lack its newline.
                if self.buffer.is_empty() && !self.skipping {
                    return None;
                }
                self.buffer.extend_from_slice(b"\n");
                continue;
            }
            match self.stream.next().await {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(err)) => return Some(Err(err.to_string())),
                None => self.finished = true,
            }
        }
    }
}

fn parse(line: &str) -> Result<InvocationTreeInput, IngestError> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let tree = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { "line".to_owned() } else { format!("line.{path}") };
        let inner = err.into_inner();
        // serde_json ends its messages with "at line 1 column N"; in NDJSON only the column helps.
        let text = inner.to_string();
        let message = match text.rsplit_once(" at line ") {
            Some((message, _)) => format!("{message} (column {})", inner.column()),
            None => text,
        };
        IngestError::bad_input(&path, "", message)
    })?;
    // One JSON value per line: anything after it is an error, not something to drop.
    deserializer.end().map_err(|err| {
        IngestError::bad_input(
            "line",
            "",
            format!("unexpected characters after the JSON object (column {})", err.column()),
        )
    })?;
    Ok(tree)
}

/// Writes the lines gathered so far, reporting each.
async fn flush(
    ingestor: &Ingestor,
    chunk: &mut Vec<(u64, Result<Unit, IngestError>)>,
    summary: &mut Summary,
    out: &mpsc::UnboundedSender<String>,
) -> Result<(), String> {
    if chunk.is_empty() {
        return Ok(());
    }
    let lines = std::mem::take(chunk);
    let (first, last) = (lines[0].0, lines[lines.len() - 1].0);
    let mut results: Vec<(u64, Option<Result<IngestCounts, IngestError>>)> = Vec::with_capacity(lines.len());
    let mut units = Vec::with_capacity(lines.len());
    for (line, parsed) in lines {
        match parsed {
            Ok(unit) => {
                units.push(unit);
                results.push((line, None));
            }
            Err(err) => results.push((line, Some(Err(err)))),
        }
    }
    let mut applied = match ingestor.apply_each(units).await {
        Ok(applied) => applied.results.into_iter(),
        Err(err) => {
            // The database failed: none of these lines was written.
            err.log();
            return Err(format!("writing lines {first}–{last} failed: {}", err.client_message()));
        }
    };
    for (line, result) in results {
        let result = match result {
            Some(parse_error) => parse_error,
            None => applied.next().unwrap_or_else(|| Ok(IngestCounts::default())),
        };
        match result {
            Ok(counts) => {
                summary.accepted += 1;
                summary.counts.merge(counts);
                let total = |f: fn(&super::RowCounts) -> u64| {
                    [counts.invocations, counts.event_executions, counts.job_executions, counts.job_logs]
                        .iter()
                        .map(f)
                        .sum::<u64>()
                };
                let _ = out.send(format!(
                    "{}\n",
                    json!({ "line": line, "inserted": total(|c| c.inserted), "updated": total(|c| c.updated),
                            "unchanged": total(|c| c.unchanged) })
                ));
            }
            Err(err) => reject(summary, out, line, &err),
        }
    }
    Ok(())
}

fn reject(summary: &mut Summary, out: &mpsc::UnboundedSender<String>, line: u64, err: &IngestError) {
    summary.rejected += 1;
    let code = match err.code {
        IngestErrorCode::BadUserInput => "BAD_USER_INPUT",
        IngestErrorCode::NotFound => "NOT_FOUND",
    };
    let _ = out.send(format!(
        "{}\n",
        json!({ "line": line, "error": { "message": err.message, "extensions": { "code": code, "field": err.path } } })
    ));
}
