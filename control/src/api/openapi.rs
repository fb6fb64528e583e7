//! The API's routes, declared once: each is added to the axum router and described in the
//! OpenAPI 3.1 document served at `/api/v1/openapi.json`, so the two cannot drift.
//!
//! Request bodies are described from the handlers' own input types (`schemars` derives
//! them from the same serde attributes that parse the JSON: required fields, enums,
//! `deny_unknown_fields`). Responses are JSON objects, with the API's one error shape for
//! 4xx/5xx.

use std::collections::BTreeMap;

use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use crate::app::AppState;

type BodyFn = fn(&mut SchemaGenerator) -> Schema;

/// What the document says of one operation.
#[derive(Debug, Clone)]
pub struct Doc {
    summary: &'static str,
    tag: &'static str,
    public: bool,
    body: Option<(&'static str, BodyFn)>,
    status: u16,
    query: &'static [(&'static str, &'static str, &'static str)],
    response: &'static str,
}

/// An operation: `summary` in the document, grouped under `tag`.
pub fn doc(summary: &'static str, tag: &'static str) -> Doc {
    Doc {
        summary,
        tag,
        public: false,
        body: None,
        status: 200,
        query: &[],
        response: "application/json",
    }
}

impl Doc {
    /// Takes a JSON body of type `T`.
    pub fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(("application/json", |g| g.subschema_for::<T>()));
        self
    }

    /// Takes a multipart form (uploads).
    pub fn multipart(mut self) -> Self {
        self.body = Some(("multipart/form-data", |_| {
            Schema::from(
                json!({"type": "object", "properties": {"file": {"type": "string", "contentEncoding": "binary"}, "folder": {"type": "string"}}}).as_object().cloned().unwrap_or_default(),
            )
        }));
        self
    }

    /// Needs no credentials.
    pub fn public(mut self) -> Self {
        self.public = true;
        self
    }

    pub fn created(mut self) -> Self {
        self.status = 201;
        self
    }

    pub fn no_content(mut self) -> Self {
        self.status = 204;
        self
    }

    /// Query parameters: (name, JSON type, description).
    pub fn query(mut self, q: &'static [(&'static str, &'static str, &'static str)]) -> Self {
        self.query = q;
        self
    }

    /// Answers with another media type (CSV files, pictures, text).
    pub fn responds(mut self, media_type: &'static str) -> Self {
        self.response = media_type;
        self
    }
}

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    doc: Doc,
}

/// Routes being declared: axum method routers by path, and their documentation.
#[derive(Debug, Default)]
pub struct Routes {
    by_path: BTreeMap<&'static str, MethodRouter<AppState>>,
    ops: Vec<Op>,
}

macro_rules! verb {
    ($name:ident, $filter:ident, $method:literal) => {
        pub fn $name<H, T>(self, path: &'static str, handler: H, doc: Doc) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.add(MethodFilter::$filter, $method, path, handler, doc)
        }
    };
}

impl Routes {
    verb!(get, GET, "get");
    verb!(post, POST, "post");
    verb!(put, PUT, "put");
    verb!(patch, PATCH, "patch");
    verb!(delete, DELETE, "delete");

    fn add<H, T>(
        mut self,
        filter: MethodFilter,
        method: &'static str,
        path: &'static str,
        handler: H,
        doc: Doc,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let mr = self.by_path.remove(path).unwrap_or_default();
        self.by_path.insert(path, mr.on(filter, handler));
        self.ops.push(Op { method, path, doc });
        self
    }

    /// Documents a route that is mounted elsewhere (outside the API's layers).
    pub fn documented(mut self, method: &'static str, path: &'static str, doc: Doc) -> Self {
        self.ops.push(Op { method, path, doc });
        self
    }

    /// The router of every declared route, and the operations.
    pub fn finish(self) -> (axum::Router<AppState>, Vec<Op>) {
        let mut router = axum::Router::new();
        for (path, mr) in self.by_path {
            router = router.route(path, mr);
        }
        (router, self.ops)
    }
}

/// The OpenAPI 3.1 document of `ops` (paths relative to `/api/v1`).
pub fn document(ops: &[Op]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for op in ops {
        let d = &op.doc;
        let mut params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let schema =
                    if matches!(name, "id" | "rid" | "pid" | "mid" | "dj" | "tid" | "mount") {
                        json!({"type": "integer", "minimum": 1, "examples": [1]})
                    } else {
                        json!({"type": "string", "minLength": 1})
                    };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        for (name, ty, description) in d.query {
            params.push(json!({"name": name, "in": "query", "required": false,
                "description": description, "schema": {"type": ty}}));
        }
        let mut operation = json!({
            "operationId": operation_id(op),
            "summary": d.summary,
            "tags": [d.tag],
            "responses": responses(d),
        });
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        if d.public {
            operation["security"] = json!([]);
        }
        if let Some((media_type, schema)) = d.body {
            let schema = schema(&mut generator);
            operation["requestBody"] = json!({
                "required": true,
                "content": { media_type: { "schema": schema } },
            });
        }
        paths
            .entry(op.path.to_owned())
            .or_default()
            .insert(op.method.to_owned(), operation);
    }
    let mut schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tidecast API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Accounts, services, media, AutoDJ, DVR, statistics and billing of a Tidecast server. \
                Authenticate with `Authorization: Bearer <token>` (from POST /login) or an API key; \
                the web UI's cookie session also works, with an X-CSRF-Token header on changes.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "security": [{"bearer": []}],
        "paths": paths,
    })
}

fn operation_id(op: &Op) -> String {
    let mut id = op.method.to_owned();
    for seg in op.path.split('/').filter(|s| !s.is_empty()) {
        let seg = seg.trim_start_matches('{').trim_end_matches('}');
        id.push('_');
        id.extend(
            seg.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

fn responses(d: &Doc) -> Value {
    let error = json!({"description": "The request was refused; the message says why",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let ok = if d.status == 204 {
        json!({"description": "Done"})
    } else if d.response == "application/json" {
        json!({"description": "OK", "content": {"application/json": {"schema": {}}}})
    } else {
        json!({"description": "OK", "content": {d.response: {"schema": {"type": "string"}}}})
    };
    let mut r = Map::new();
    r.insert(d.status.to_string(), ok);
    r.insert("4XX".into(), error);
    Value::Object(r)
}
