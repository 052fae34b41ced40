//! axum 0.8 (feature `axum`): [`WechatpayNotification`] is an extractor, [`Rejection`], [`Ack`]
//! and [`Failure`] are responses.

use ::axum::body::Body;
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::{Ack, Failure, NotificationReceiver, Rejection, WechatpayNotification};

/// Reads the body (at most the receiver's limit), then [`NotificationReceiver::receive`].
impl<S> FromRequest<S> for WechatpayNotification
where
    NotificationReceiver: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        let receiver = NotificationReceiver::from_ref(state);
        let limit = receiver.max_body_size();
        let (parts, body) = request.into_parts();
        if super::receiver::declared_length(parts.headers.get(http::header::CONTENT_LENGTH))
            .is_some_and(|length| length > limit)
        {
            return Err(Rejection::TooLarge { limit }.logged());
        }
        let body = match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(Rejection::TooLarge { limit }.logged());
            }
            Err(e) => return Err(Rejection::Unreadable(e.to_string()).logged()),
        };
        receiver.receive(&parts.headers, &body)
    }
}

fn into_axum(response: http::Response<Vec<u8>>) -> Response {
    response.map(Body::from)
}

/// The answer of [`Rejection::to_response`].
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        into_axum(self.to_response())
    }
}

/// 204, empty body.
impl IntoResponse for Ack {
    fn into_response(self) -> Response {
        into_axum(self.to_response())
    }
}

/// The failure answer, `{"code":"FAIL","message":...}`.
impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        into_axum(self.to_response())
    }
}
