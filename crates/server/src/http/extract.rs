//! Reading `{"content":{…}}` bodies (section a.3). Every decoding failure becomes 22000400 with
//! the JSON path of the offending value and what it had to be.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use deskd_domain::error::Error;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A required `content` object decoded into `T`.
pub struct Content<T>(pub T);

/// An optional `content`: an empty body, `{}` or `{"content":null}` give `T::default()`.
pub struct OptionalContent<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Content<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read(req, state).await?;
        match parse::<T>(&bytes)? {
            Some(v) => Ok(Content(v)),
            None => Err(Error::invalid(
                "content",
                "is required: the body must be {\"content\":{…}}",
            )
            .into()),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalContent<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read(req, state).await?;
        Ok(OptionalContent(parse::<T>(&bytes)?.unwrap_or_default()))
    }
}

/// An optional `content` for the `/v1/rccp` endpoints: bad input is 12000200 there (a.5).
pub struct CcpContent<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for CcpContent<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match OptionalContent::<T>::from_request(req, state).await {
            Ok(OptionalContent(v)) => Ok(CcpContent(v)),
            Err(ApiError::Domain(e)) => Err(e.for_ccp().into()),
            Err(e) => Err(e),
        }
    }
}

/// The trimmed id of an extension request, or an error naming `content.id`.
pub fn id_of<T: From<String>>(id: Option<&str>) -> Result<T, Error> {
    match id.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => Ok(T::from(id.to_string())),
        None => Err(Error::invalid("content.id", "is required")),
    }
}

async fn read<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge
        } else {
            Error::invalid("body", format!("cannot be read: {}", e.body_text())).into()
        }
    })
}

/// Decodes the body; `None` when there is no body or no `content`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, Error> {
    deskd_wire::envelope::decode(bytes).map_err(|e| Error::invalid(e.field, e.rule))
}
