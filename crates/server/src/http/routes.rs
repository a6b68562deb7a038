//! The route table's type. Every endpoint is written once, by its slice; the router and the
//! OpenAPI document are both built from it, so a route cannot exist without its documentation,
//! and whether a route needs a token is decided here and nowhere else.
//!
//! A route's documented request and response schemas come from its handler's own types
//! ([`Route::typed`]): the body extractor it takes (`Content<T>` documents `Request<T>`) and
//! the reply it returns (`Json<Reply<T>>` documents `Reply<T>`), so the two cannot drift. Only
//! a handler that answers with something other than a typed reply (the console websocket)
//! states its schemas by hand, through [`Route::raw`].

use std::future::Future;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Extension, Json};
use schemars::gen::SchemaGenerator;
use schemars::schema::Schema;
use schemars::JsonSchema;

use super::error::ApiResult;
use super::extract::{CcpContent, Content, OptionalContent};
use super::reply_cache::Rendered;
use crate::AppState;
use deskd_wire::envelope::{Reply, Request};

/// Produces the JSON schema of a reply.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;
/// Produces the JSON schema of a request body, if the route takes one.
pub type BodyFn = fn(&mut SchemaGenerator) -> Option<Schema>;

/// What the document says about a route besides its schemas.
pub struct Doc {
    pub path: &'static str,
    /// The documented method first (and GET where a decision adds it). Where the document's
    /// method is [inferred], the other of PUT and POST is added from `spec/endpoints.json`
    /// ([`Route::methods`], DECISIONS D2), not listed here.
    pub methods: &'static [Method],
    pub operation_id: &'static str,
    pub summary: &'static str,
    /// Section of the document, or `None` for a deskd extension (DECISIONS D10).
    pub section: Option<&'static str>,
    pub auth: bool,
}

/// One endpoint.
pub struct Route {
    pub doc: Doc,
    pub request: BodyFn,
    pub response: SchemaFn,
    /// The handler on the methods the router gives it.
    pub serve: Box<dyn Fn(MethodFilter) -> MethodRouter<AppState>>,
}

impl Route {
    /// A route documented by its handler's types (see [`Typed`]).
    pub fn typed<H, T, M>(doc: Doc, handler: H) -> Route
    where
        H: Handler<T, AppState> + Typed<M>,
        T: 'static,
    {
        Route {
            doc,
            request: <H as Typed<M>>::request,
            response: <H as Typed<M>>::response,
            serve: Box::new(move |f| on(f, handler.clone())),
        }
    }

    /// A route whose handler does not answer with a typed reply, with its schemas stated.
    pub fn raw<H, T>(doc: Doc, request: BodyFn, response: SchemaFn, handler: H) -> Route
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Route {
            doc,
            request,
            response,
            serve: Box::new(move |f| on(f, handler.clone())),
        }
    }

    /// The methods the route answers: its documented ones and, where the document marks the
    /// endpoint's method [inferred], the other of PUT and POST (DECISIONS D2).
    pub fn methods(&self) -> Vec<Method> {
        let mut methods = self.doc.methods.to_vec();
        if self.doc.section.is_some() && method_inferred(self.doc.path) {
            for other in [Method::PUT, Method::POST] {
                if methods.first().is_some_and(|m| *m != other) && !methods.contains(&other) {
                    methods.push(other);
                }
            }
        }
        methods
    }

    /// The axum filter of the route's methods.
    pub fn filter(&self) -> MethodFilter {
        self.methods()
            .iter()
            .map(filter)
            .reduce(|a, b| a.or(b))
            .unwrap_or(MethodFilter::GET)
    }
}

/// The document's endpoint index as extracted into `spec/endpoints.json`, embedded at build
/// time: which endpoints' method is [inferred] (`"confidence": "inferred"`).
const ENDPOINTS: &str = include_str!("../../../../spec/endpoints.json");

#[derive(serde::Deserialize)]
struct Endpoint {
    path: String,
    confidence: String,
}

/// The `/v1` paths whose method the document marks [inferred].
fn inferred_paths() -> &'static [String] {
    static PATHS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        serde_json::from_str::<Vec<Endpoint>>(ENDPOINTS)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.confidence == "inferred" && e.path.starts_with("/v1/"))
            .map(|e| e.path)
            .collect()
    });
    &PATHS
}

/// Whether the document marks the method of the endpoint at `path` [inferred].
pub fn method_inferred(path: &str) -> bool {
    inferred_paths().iter().any(|p| p == path)
}

/// The schema of `T`, for [`Route::raw`].
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// A handler argument, and the request body it documents: only the `content` extractors
/// document one.
pub trait Part {
    fn body(_: &mut SchemaGenerator) -> Option<Schema> {
        None
    }
}

impl<T: JsonSchema> Part for Content<T> {
    fn body(g: &mut SchemaGenerator) -> Option<Schema> {
        Some(g.subschema_for::<Request<T>>())
    }
}

impl<T: JsonSchema> Part for OptionalContent<T> {
    fn body(g: &mut SchemaGenerator) -> Option<Schema> {
        Some(g.subschema_for::<Request<T>>())
    }
}

impl<T: JsonSchema> Part for CcpContent<T> {
    fn body(g: &mut SchemaGenerator) -> Option<Schema> {
        Some(g.subschema_for::<Request<T>>())
    }
}

impl<T> Part for State<T> {}
impl<T> Part for Path<T> {}
impl<T> Part for Extension<T> {}
impl Part for HeaderMap {}
impl Part for super::throttle::ClientAddr {}
/// A raw body (the OS-file upload) is not JSON: nothing to document.
impl Part for Body {}
impl<T, E> Part for Result<Query<T>, E> {}

/// A handler's successful answer, and the reply schema it documents.
pub trait Answer {
    fn schema(g: &mut SchemaGenerator) -> Schema;
}

impl<T: JsonSchema> Answer for Json<Reply<T>> {
    fn schema(g: &mut SchemaGenerator) -> Schema {
        g.subschema_for::<Reply<T>>()
    }
}

impl<T: JsonSchema> Answer for Rendered<T> {
    fn schema(g: &mut SchemaGenerator) -> Schema {
        g.subschema_for::<T>()
    }
}

/// A handler `async fn(parts…) -> ApiResult<answer>`, and the schemas its types document.
/// `M` only tells the implementations for each number of arguments apart.
pub trait Typed<M> {
    fn request(g: &mut SchemaGenerator) -> Option<Schema>;
    fn response(g: &mut SchemaGenerator) -> Schema;
}

macro_rules! typed {
    ($($part:ident),+) => {
        impl<F, Fut, A, $($part,)+> Typed<(A, $($part,)+)> for F
        where
            F: Fn($($part),+) -> Fut,
            Fut: Future<Output = ApiResult<A>>,
            A: Answer,
            $($part: Part,)+
        {
            fn request(g: &mut SchemaGenerator) -> Option<Schema> {
                let mut body = None;
                $(body = <$part as Part>::body(g).or(body);)+
                body
            }

            fn response(g: &mut SchemaGenerator) -> Schema {
                A::schema(g)
            }
        }
    };
}

typed!(P1);
typed!(P1, P2);
typed!(P1, P2, P3);
typed!(P1, P2, P3, P4);

/// The path axum routes a documented path on: a segment with a parameter and a `:verb` suffix
/// becomes one parameter, and the router sends each verb to its own route.
pub fn mount_path(path: &str) -> String {
    match path.find("}:") {
        Some(end) => {
            let start = path[..end].rfind('{').unwrap_or(end);
            format!("{}{{target}}", &path[..start])
        }
        None => path.to_string(),
    }
}

/// The `:verb` of a documented path, if it has one.
pub fn verb(path: &str) -> Option<&str> {
    path.find("}:").map(|end| &path[end + 2..])
}

/// The axum filter of one method.
pub fn filter(m: &Method) -> MethodFilter {
    match *m {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        Method::PATCH => MethodFilter::PATCH,
        _ => MethodFilter::GET,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_index_parses() {
        assert!(method_inferred("/v1/desk:pagequery"));
        assert!(!method_inferred("/v1/desk_strategy:pagequery"));
        assert!(inferred_paths().len() >= 15, "{:?}", inferred_paths());
    }
}
