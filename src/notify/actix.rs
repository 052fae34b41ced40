//! actix-web 4 (feature `actix-web`): [`WechatpayNotification`] is an extractor whose error,
//! [`Rejection`], is a `ResponseError`; [`Ack`] is a `Responder`, [`Failure`] a
//! `ResponseError`.
//!
//! actix-web 4 is built on `http` 0.2: the headers are copied into the `http` 1 types of
//! [`NotificationParser`](super::NotificationParser), the answers back.

use std::future::Future;
use std::pin::Pin;

use ::actix_web::body::BoxBody;
use ::actix_web::dev::Payload;
use ::actix_web::http::StatusCode as ActixStatus;
use ::actix_web::http::header::{self as actix_header, HeaderValue as ActixHeaderValue};
use ::actix_web::{FromRequest, HttpRequest, HttpResponse, Responder, ResponseError, web};

use super::{Ack, Failure, NotificationReceiver, Rejection, WechatpayNotification};

/// Finds the [`NotificationReceiver`] in `web::Data<NotificationReceiver>` (or a bare
/// `NotificationReceiver` app data), reads the body (at most the receiver's limit), then
/// [`NotificationReceiver::receive`]. Without a receiver: [`Rejection::NotConfigured`].
impl FromRequest for WechatpayNotification {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Rejection>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let receiver = request
            .app_data::<web::Data<NotificationReceiver>>()
            .map(|data| NotificationReceiver::clone(data))
            .or_else(|| request.app_data::<NotificationReceiver>().cloned());
        let headers = to_http_headers(request.headers());
        let body = web::Payload::from_request(request, payload);
        Box::pin(async move {
            let Some(receiver) = receiver else {
                return Err(Rejection::NotConfigured.logged());
            };
            let limit = receiver.max_body_size();
            if super::receiver::declared_length(headers.get(http::header::CONTENT_LENGTH))
                .is_some_and(|length| length > limit)
            {
                return Err(Rejection::TooLarge { limit }.logged());
            }
            let body = match body.await {
                Ok(body) => body.to_bytes_limited(limit).await,
                Err(e) => Ok(Err(e)),
            };
            let body = match body {
                Ok(Ok(body)) => body,
                Ok(Err(e)) => return Err(Rejection::Unreadable(e.to_string()).logged()),
                Err(_) => return Err(Rejection::TooLarge { limit }.logged()),
            };
            receiver.receive(&headers, &body)
        })
    }
}

/// actix-web's headers (`http` 0.2) as an [`http::HeaderMap`].
fn to_http_headers(headers: &actix_header::HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers.iter() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(name, value);
        }
    }
    out
}

fn actix_status(status: http::StatusCode) -> ActixStatus {
    ActixStatus::from_u16(status.as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR)
}

fn into_actix(response: http::Response<Vec<u8>>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let mut answer = HttpResponse::build(actix_status(parts.status));
    for (name, value) in &parts.headers {
        if let Ok(value) = ActixHeaderValue::from_bytes(value.as_bytes()) {
            answer.insert_header((name.as_str(), value));
        }
    }
    answer.body(body)
}

/// The answer of [`Rejection::to_response`].
impl ResponseError for Rejection {
    fn status_code(&self) -> ActixStatus {
        actix_status(self.status())
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        into_actix(self.to_response())
    }
}

/// The failure answer, `{"code":"FAIL","message":...}`.
impl ResponseError for Failure {
    fn status_code(&self) -> ActixStatus {
        actix_status(self.status())
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        into_actix(self.to_response())
    }
}

/// 204, empty body.
impl Responder for Ack {
    type Body = BoxBody;

    fn respond_to(self, _request: &HttpRequest) -> HttpResponse<BoxBody> {
        into_actix(self.to_response())
    }
}
