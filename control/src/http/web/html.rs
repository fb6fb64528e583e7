//! The HTML shell every page shares: escaping, the JSON config a page's script reads, and
//! the security headers (a strict Content-Security-Policy: scripts only from our own
//! assets, so text a user typed can never run as script).

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::headers::{NO_CACHE, set_fixed};

/// Text for HTML element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// JSON safe inside `<script type="application/json">`: `<` is escaped so no value can
/// close the element.
pub fn json_for_script<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c")
}

/// Who may frame the page.
#[derive(Debug, Clone, Copy)]
pub enum Framing {
    /// The UI: nobody (clickjacking).
    Deny,
    /// Players: any site (that is what an embed is for).
    Anyone,
}

pub struct Page<'a> {
    pub title: &'a str,
    pub body_class: &'a str,
    pub styles: &'a [&'a str],
    pub script: &'a str,
    pub config: String,
    /// Markup inside `<body>` before the script runs (and for browsers without it).
    pub body: String,
    pub framing: Framing,
}

impl Page<'_> {
    pub fn render(self) -> Response {
        let styles: String = self
            .styles
            .iter()
            .map(|s| format!(r#"<link rel="stylesheet" href="{}">"#, super::asset_url(s)))
            .collect();
        let html = format!(
            r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
{styles}
<script type="application/json" id="tc-config">{config}</script>
<script type="module" src="{script}"></script>
</head>
<body class="{class}">
{body}
</body>
</html>
"#,
            title = escape(self.title),
            config = self.config,
            script = super::asset_url(self.script),
            class = self.body_class,
            body = self.body,
        );
        let ancestors = match self.framing {
            Framing::Deny => "'none'",
            Framing::Anyone => "*",
        };
        // Media come from the Icecast port and, behind a CDN, other hosts: any http(s).
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; \
             media-src 'self' blob: http: https:; connect-src 'self' http: https:; worker-src 'self' blob:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-src 'self'; frame-ancestors {ancestors}"
        );
        let mut resp = Html(html).into_response();
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        let referrer = (header::REFERRER_POLICY, "strict-origin-when-cross-origin");
        set_fixed(
            h,
            &[
                NO_CACHE,
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                referrer,
            ],
        );
        if let Framing::Deny = self.framing {
            set_fixed(h, &[(header::X_FRAME_OPTIONS, "DENY")]);
        }
        resp
    }
}
