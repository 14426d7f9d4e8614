//! The OTLP/gRPC receiver: `TraceService/Export` over HTTP/2 without TLS, as the OpenTelemetry
//! SDKs speak it to `http://` endpoints.
//!
//! A unary gRPC call is small enough to serve by hand: the request body is one length-prefixed
//! message (a compressed flag byte, a 4-byte big-endian length, the protobuf), and the answer is
//! an empty `ExportTraceServiceResponse` framed the same way, followed by `grpc-status` in the
//! trailers.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::net::TcpListener;

use super::{Store, decode_otlp, keep, reject_only};

const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

// gRPC status codes used here.
const OK: u32 = 0;
const INVALID_ARGUMENT: u32 = 3;
const UNIMPLEMENTED: u32 = 12;

type Answer = http_body_util::combinators::WithTrailers<
    Full<Bytes>,
    std::future::Ready<Option<Result<HeaderMap, Infallible>>>,
>;

/// Accept HTTP/2 connections until the task is aborted.
pub(super) async fn serve(listener: TcpListener, store: Arc<Store>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let store = store.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| call(store.clone(), req));
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

async fn call(store: Arc<Store>, req: Request<Incoming>) -> Result<Response<Answer>, Infallible> {
    if req.uri().path() != EXPORT {
        return Ok(answer(UNIMPLEMENTED, "only TraceService/Export is served"));
    }
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return Ok(answer(INVALID_ARGUMENT, &format!("reading the body: {e}"))),
    };
    let outcome = unframe(&body)
        .and_then(|message| {
            ExportTraceServiceRequest::decode(message).map_err(|e| format!("otlp-grpc: {e}"))
        })
        .and_then(|request| decode_otlp(request, "otlp-grpc"));
    Ok(match outcome {
        Ok(spans) => {
            keep(&store, spans);
            answer(OK, "")
        }
        Err(why) => {
            reject_only(&store, why.clone());
            answer(INVALID_ARGUMENT, &why)
        }
    })
}

/// The one message of a unary request body.
fn unframe(body: &[u8]) -> Result<&[u8], String> {
    let [compressed, a, b, c, d, message @ ..] = body else {
        return Err("otlp-grpc: body shorter than a message frame".to_owned());
    };
    if *compressed != 0 {
        return Err("otlp-grpc: compressed messages are not accepted".to_owned());
    }
    let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
    if message.len() != len {
        return Err(format!(
            "otlp-grpc: frame says {len} bytes, body has {}",
            message.len()
        ));
    }
    Ok(message)
}

/// A gRPC answer: on success an empty response message, in every case `grpc-status`.
fn answer(status: u32, message: &str) -> Response<Answer> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(status));
    if !message.is_empty()
        && let Ok(text) = HeaderValue::from_str(&message.replace(['\r', '\n'], " "))
    {
        trailers.insert("grpc-message", text);
    }
    // An empty ExportTraceServiceResponse: uncompressed, zero length.
    let frame = if status == OK {
        Bytes::from_static(&[0, 0, 0, 0, 0])
    } else {
        Bytes::new()
    };
    let body = Full::new(frame).with_trailers(std::future::ready(Some(Ok(trailers))));
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}

#[cfg(test)]
mod tests {
    use super::unframe;

    #[test]
    fn frames_are_checked() {
        assert_eq!(unframe(&[0, 0, 0, 0, 2, 8, 1]), Ok(&[8u8, 1][..]));
        assert!(unframe(&[0, 0, 0]).is_err());
        assert!(unframe(&[1, 0, 0, 0, 0]).is_err());
        assert!(unframe(&[0, 0, 0, 0, 3, 8]).is_err());
    }
}
