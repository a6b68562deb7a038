//! The create, edit and delete extensions (DECISIONS D10) of the inventory resources — desk
//! strategies, networks, clusters, hosts and storage pools — as one flow over [`Managed`].
//! Create takes every required field; edit takes the `id` and the fields to change.
//! Everything is checked before anything is written, the store re-checks references in the
//! write's transaction, and every refusal names its reason.

use std::marker::PhantomData;

use async_trait::async_trait;
use axum::extract::{FromRequest, Request, State};
use axum::Json;
use deskd_domain::error::{Error, Missing, Result};
use deskd_wire::envelope::{self, Reply};
use deskd_wire::inventory::{IdData, IdRequest};
use schemars::gen::SchemaGenerator;
use schemars::schema::Schema;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{id_of, CcpContent, Content};
use crate::http::routes::Part;
use crate::AppState;

pub type Created = ApiResult<Json<Reply<IdData>>>;
pub type Done = ApiResult<Json<Reply<()>>>;

/// A resource created, edited and deleted through the extensions.
#[async_trait]
pub trait Managed: Sized + Send + Sync + 'static {
    /// The body of create and edit.
    type Request: DeserializeOwned + Default + JsonSchema + Send + Sync;
    /// Its typed id.
    type Id: From<String> + Into<String> + std::ops::Deref<Target = str> + Send + Sync;
    const WHAT: Missing;
    /// What the log calls it.
    const NOUN: &'static str;
    /// `/v1/rccp` resources take an optional `content` and answer bad input with 12000200 (a.5).
    const CCP: bool;

    fn id(&self) -> &str;
    fn name(&self) -> &str;
    /// The `id` an edit names.
    fn request_id(r: &Self::Request) -> Option<&str>;
    /// A new record with the fields create requires.
    fn blank(r: &Self::Request) -> Result<Self>;
    /// Applies a request's fields to a record (a blank one on create) and checks the result.
    fn apply(r: &Self::Request, current: Self) -> Result<Self>;
    /// Refuses a new record the server cannot serve.
    fn admit(_app: &AppState, record: Self) -> Result<Self> {
        Ok(record)
    }
    /// Refuses an edit of a field fixed when the record was created.
    fn fixed(_r: &Self::Request, _current: &Self) -> Result<()> {
        Ok(())
    }

    async fn get(app: &AppState, id: &Self::Id) -> Result<Option<Self>>;
    async fn insert(app: &AppState, record: &Self) -> Result<()>;
    /// False when the record is gone.
    async fn update(app: &AppState, record: &Self) -> Result<bool>;
    /// False when the record is gone; refused while something uses it.
    async fn delete(app: &AppState, id: &Self::Id) -> Result<bool>;
    /// What follows a successful write.
    async fn written(_app: &AppState, _record: &Self) -> Result<()> {
        Ok(())
    }
}

/// A request body as `M`'s endpoints read it: required `content`, or for the `/v1/rccp`
/// resources optional `content` with bad input as 12000200.
pub struct Body<M, T>(pub T, PhantomData<M>);

impl<S: Send + Sync, M: Managed, T: DeserializeOwned + Default> FromRequest<S> for Body<M, T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let body = match M::CCP {
            true => CcpContent::<T>::from_request(req, state).await?.0,
            false => Content::<T>::from_request(req, state).await?.0,
        };
        Ok(Body(body, PhantomData))
    }
}

impl<M, T: JsonSchema> Part for Body<M, T> {
    fn body(g: &mut SchemaGenerator) -> Option<Schema> {
        Some(g.subschema_for::<envelope::Request<T>>())
    }
}

/// `M`'s refusals of bad input, with the code its endpoints use.
fn checked<M: Managed, T>(r: Result<T>) -> Result<T> {
    match M::CCP {
        true => r.map_err(Error::for_ccp),
        false => r,
    }
}

fn done<M: Managed>(found: bool, id: &str) -> Done {
    match found {
        true => Ok(Json(Reply::empty())),
        false => Err(Error::not_found(M::WHAT, id).into()),
    }
}

/// `POST …/create`: the new record's id.
pub async fn create<M: Managed>(
    State(app): State<AppState>,
    Body(r, _): Body<M, M::Request>,
) -> Created {
    let record = checked::<M, _>(
        M::blank(&r)
            .and_then(|b| M::apply(&r, b))
            .and_then(|m| M::admit(&app, m)),
    )?;
    M::insert(&app, &record).await?;
    M::written(&app, &record).await?;
    tracing::info!(name = %record.name(), "created {}", M::NOUN);
    Ok(Json(Reply::data(IdData {
        id: record.id().to_string(),
    })))
}

/// `PUT …/edit`: absent fields keep their value.
pub async fn edit<M: Managed>(
    State(app): State<AppState>,
    Body(r, _): Body<M, M::Request>,
) -> Done {
    let id = checked::<M, _>(id_of::<M::Id>(M::request_id(&r)))?;
    let Some(current) = M::get(&app, &id).await? else {
        return Err(Error::not_found(M::WHAT, id).into());
    };
    M::fixed(&r, &current)?;
    let record = checked::<M, _>(M::apply(&r, current))?;
    let found = M::update(&app, &record).await?;
    if found {
        M::written(&app, &record).await?;
    }
    done::<M>(found, &id)
}

/// `POST …/delete`.
pub async fn delete<M: Managed>(
    State(app): State<AppState>,
    Body(r, _): Body<M, IdRequest>,
) -> Done {
    let id = checked::<M, _>(id_of::<M::Id>(Some(&r.id)))?;
    let found = M::delete(&app, &id).await?;
    done::<M>(found, &id)
}

/// `Some(v)` parsed with `parse`, or `current`.
pub fn or<T>(given: Option<&str>, current: T, parse: impl Fn(&str) -> Result<T>) -> Result<T> {
    given.map(parse).unwrap_or(Ok(current))
}
