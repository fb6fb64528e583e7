//! Every malformed request gets its documented 4xx JSON error and leaves the database
//! exactly as it was.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use tidecast_tests::*;

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    /// Which token to send: "admin", "customer", "none", or a literal header value.
    auth: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: impl Into<String>,
    auth: &'static str,
    body: &str,
    status: u16,
) -> Case {
    Case {
        what,
        method,
        path: path.into(),
        auth,
        content_type: Some("application/json"),
        body: body.as_bytes().to_vec(),
        status,
    }
}

both_backends! {
    async fn malformed_requests_change_nothing(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let admin = srv.admin_token().await;
        let cust = srv.create_user(&admin, "cust", "customer", json!({})).await;
        let other = srv.create_user(&admin, "other", "customer", json!({})).await;
        let customer = srv.login("cust", "cust-password").await;
        let radio = srv.create_service(&admin, cust, "Jazz", "radio").await;
        let sid = radio["id"].as_i64().unwrap();
        let (_, plan) = srv.post("/api/v1/reseller-plans", &admin, json!({"name": "basic", "max_customers": 1})).await;
        let plan_id = plan["id"].as_i64().unwrap();
        let res = srv.create_user(&admin, "res", "reseller", json!({"plan": plan_id})).await;
        let reseller = srv.login("res", "res-password").await;
        srv.create_user(&reseller, "rescust", "customer", json!({})).await;

        let long = "x".repeat(300);
        let huge = format!("{{\"name\":\"{}\"}}", "y".repeat(300 * 1024));
        let svc = format!("/api/v1/services/{sid}");
        let cases = vec![
            case("not JSON", "POST", "/api/v1/users", "admin", "{not json", 400),
            case("truncated JSON", "POST", "/api/v1/services", "admin", r#"{"owner":2,"name":"x""#, 400),
            case("empty body", "POST", "/api/v1/users", "admin", "", 400),
            case("JSON array instead of object", "POST", "/api/v1/users", "admin", "[1,2,3]", 422),
            case("missing password", "POST", "/api/v1/users", "admin", r#"{"username":"newbie"}"#, 422),
            case("username wrong type", "POST", "/api/v1/users", "admin", r#"{"username":42,"password":"password1"}"#, 422),
            case("unknown field", "POST", "/api/v1/users", "admin", r#"{"username":"newbie","password":"password1","is_admin":true}"#, 422),
            case("unknown role", "POST", "/api/v1/users", "admin", r#"{"username":"newbie","password":"password1","role":"root"}"#, 422),
            case("short password", "POST", "/api/v1/users", "admin", r#"{"username":"newbie","password":"short"}"#, 422),
            case("over-long username", "POST", "/api/v1/users", "admin", &format!(r#"{{"username":"{long}","password":"password1"}}"#), 422),
            case("username with spaces", "POST", "/api/v1/users", "admin", r#"{"username":"new bie","password":"password1"}"#, 422),
            case("bad email", "POST", "/api/v1/users", "admin", r#"{"username":"newbie","password":"password1","email":"nope"}"#, 422),
            case("duplicate username", "POST", "/api/v1/users", "admin", r#"{"username":"CUST","password":"password1"}"#, 409),
            case("plan on a customer", "POST", "/api/v1/users", "admin", &format!(r#"{{"username":"newbie","password":"password1","plan":{plan_id}}}"#), 422),
            case("plan that does not exist", "POST", "/api/v1/users", "admin", r#"{"username":"newbie","password":"password1","role":"reseller","plan":999}"#, 422),
            case("reseller over max_customers", "POST", "/api/v1/users", "reseller", r#"{"username":"newbie","password":"password1"}"#, 422),
            case("customer creating a user", "POST", "/api/v1/users", "customer", r#"{"username":"newbie","password":"password1"}"#, 403),
            case("service with unknown kind", "POST", "/api/v1/services", "admin", &format!(r#"{{"owner":{cust},"name":"TV","kind":"tv"}}"#), 422),
            case("service without owner", "POST", "/api/v1/services", "admin", r#"{"name":"TV","kind":"video"}"#, 422),
            case("service owner of wrong type", "POST", "/api/v1/services", "admin", r#"{"owner":"cust","name":"TV","kind":"video"}"#, 422),
            case("service owner missing", "POST", "/api/v1/services", "admin", r#"{"owner":9999,"name":"TV","kind":"video"}"#, 404),
            case("service owner is a reseller", "POST", "/api/v1/services", "admin", &format!(r#"{{"owner":{res},"name":"TV","kind":"video"}}"#), 422),
            case("over-long service name", "POST", "/api/v1/services", "admin", &format!(r#"{{"owner":{cust},"name":"{long}","kind":"video"}}"#), 422),
            case("blank service name", "POST", "/api/v1/services", "admin", &format!(r#"{{"owner":{cust},"name":"   ","kind":"video"}}"#), 422),
            case("invalid slug", "POST", "/api/v1/services", "admin", &format!(r#"{{"owner":{cust},"name":"TV","kind":"video","slug":"Bad Slug!"}}"#), 422),
            case("reserved slug", "POST", "/api/v1/services", "admin", &format!(r#"{{"owner":{cust},"name":"TV","kind":"video","slug":"hls"}}"#), 422),
            case("duplicate slug", "POST", "/api/v1/services", "admin", &format!(r#"{{"owner":{cust},"name":"TV","kind":"video","slug":"jazz"}}"#), 409),
            case("negative limit", "POST", "/api/v1/services", "admin", &format!(r#"{{"owner":{cust},"name":"TV","kind":"video","limits":{{"max_listeners":-1}}}}"#), 422),
            case("unknown limit", "POST", "/api/v1/services", "admin", &format!(r#"{{"owner":{cust},"name":"TV","kind":"video","limits":{{"max_viewers":5}}}}"#), 422),
            case("limit of the wrong type", "POST", "/api/v1/services", "admin", &format!(r#"{{"owner":{cust},"name":"TV","kind":"video","limits":{{"transcode":"yes"}}}}"#), 422),
            case("changing the kind", "PATCH", svc.clone(), "admin", r#"{"kind":"video"}"#, 422),
            case("customer changing limits", "PATCH", svc.clone(), "customer", r#"{"limits":{"max_listeners":100000}}"#, 403),
            case("customer suspending", "POST", format!("{svc}/suspend"), "customer", "", 403),
            case("customer deleting", "DELETE", svc.clone(), "customer", "", 403),
            case("non-numeric id", "GET", "/api/v1/services/abc", "admin", "", 400),
            case("zero id", "DELETE", "/api/v1/users/0", "admin", "", 400),
            case("someone else's user", "PATCH", format!("/api/v1/users/{other}"), "customer", r#"{"email":"x@y.zz"}"#, 404),
            case("missing token", "POST", "/api/v1/users", "none", r#"{"username":"newbie","password":"password1"}"#, 401),
            case("garbage token", "POST", "/api/v1/users", "Bearer tcs_garbage", r#"{"username":"newbie","password":"password1"}"#, 401),
            case("basic auth instead of bearer", "GET", "/api/v1/users", "Basic YWRtaW46eA==", "", 401),
            case("bad limit parameter", "GET", "/api/v1/services?limit=-5", "admin", "", 400),
            case("limit too large", "GET", "/api/v1/users?limit=100000", "admin", "", 400),
            case("unknown endpoint", "GET", "/api/v1/nothing-here", "admin", "", 404),
            case("wrong method", "PUT", "/api/v1/users", "admin", "{}", 405),
            case("admin deleting itself", "DELETE", "/api/v1/users/1", "admin", "", 409),
            case("deleting a user who owns services", "DELETE", format!("/api/v1/users/{cust}"), "admin", "", 409),
            case("deleting a plan in use", "DELETE", format!("/api/v1/reseller-plans/{plan_id}"), "admin", "", 409),
            case("plan with negative limit", "POST", "/api/v1/reseller-plans", "admin", r#"{"name":"neg","max_services":-3}"#, 422),
            case("huge body", "POST", "/api/v1/services", "admin", &huge, 413),
            case("wrong login password", "POST", "/api/v1/login", "none", r#"{"username":"admin","password":"wrong-password"}"#, 401),
            case("login without password", "POST", "/api/v1/login", "none", r#"{"username":"admin"}"#, 422),
            Case { content_type: Some("text/xml"), ..case("XML body", "POST", "/api/v1/users", "admin", "<user/>", 400) },
        ];
        assert!(cases.len() >= 30);

        let before = store.snapshot().await;
        for c in &cases {
            let token_header;
            let mut headers: Vec<(&str, &str)> = Vec::new();
            if let Some(ct) = c.content_type {
                headers.push(("content-type", ct));
            }
            let token = match c.auth {
                "admin" => Some(admin.as_str()),
                "customer" => Some(customer.as_str()),
                "reseller" => Some(reseller.as_str()),
                "none" => None,
                literal => {
                    token_header = literal.to_owned();
                    headers.push(("authorization", token_header.as_str()));
                    None
                }
            };
            let (status, body) = srv.raw(c.method, &c.path, token, &headers, c.body.clone()).await;
            assert_eq!(status.as_u16(), c.status, "{}: {} {} answered {status} {body}", c.what, c.method, c.path);
            let code = body["error"]["code"].as_str();
            let message = body["error"]["message"].as_str();
            assert!(code.is_some_and(|c| !c.is_empty()) && message.is_some_and(|m| !m.is_empty()),
                "{}: error body is not {{\"error\":{{\"code\",\"message\"}}}}: {body}", c.what);
        }
        let after = store.snapshot().await;
        assert_eq!(before, after, "a malformed request changed the database");
        assert!(!srv.logs().contains("\"level\":\"ERROR\""), "a bad request logged an internal error:\n{}", srv.logs());
    }
}
