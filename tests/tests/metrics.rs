//! `/metrics` for the control plane itself: HTTP requests by route template, method and
//! status with latency histograms, and the database pool; parsed by Prometheus' own
//! Python client.

#![allow(clippy::unwrap_used)]

use tidecast_tests::*;

both_backends! {
    async fn http_requests_and_the_database_pool_are_measured(b: Backend) {
        let (_store, srv, admin) = started(b).await;
        let cust = srv.create_user(&admin, "measured", "customer", json!({})).await;
        let svc = srv.create_service(&admin, cust, "Measured FM", "radio").await;
        let id = svc["id"].as_i64().unwrap();
        for _ in 0..3 {
            assert_eq!(srv.get(&format!("/api/v1/services/{id}"), &admin).await.0, StatusCode::OK);
        }
        assert_eq!(srv.get("/api/v1/services/999999", &admin).await.0, StatusCode::NOT_FOUND);
        let (status, _, body) = srv
            .fetch("/metrics", &[("authorization", &format!("Bearer {admin}"))])
            .await;
        assert_eq!(status, StatusCode::OK);
        let text = String::from_utf8(body).unwrap();
        let samples = parse_metrics(&text);
        let value = |name: &str, want: &[(&str, &str)]| -> Option<f64> {
            samples
                .iter()
                .find(|(n, labels, _)| n == name && want.iter().all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v)))
                .map(|(_, _, v)| *v)
        };
        // One series per route template, not per id.
        let route = [("route", "/api/v1/services/{id}"), ("method", "GET")];
        let ok = [route[0], route[1], ("status", "200")];
        let missing = [route[0], route[1], ("status", "404")];
        assert_eq!(value("tidecast_http_requests_total", &ok), Some(3.0), "{text}");
        assert_eq!(value("tidecast_http_requests_total", &missing), Some(1.0), "{text}");
        assert!(!text.contains("/api/v1/services/999999"), "raw paths must not become labels");
        assert_eq!(value("tidecast_http_request_duration_seconds_count", &ok), Some(3.0));
        let inf = [ok[0], ok[1], ok[2], ("le", "+Inf")];
        assert_eq!(value("tidecast_http_request_duration_seconds_bucket", &inf), Some(3.0));
        assert!(value("tidecast_http_request_duration_seconds_sum", &ok).unwrap() > 0.0);
        let logins = [("route", "/api/v1/login"), ("method", "POST"), ("status", "200")];
        assert!(value("tidecast_http_requests_total", &logins).unwrap() >= 1.0);
        // The pool: connections in use and idle, and its ceiling.
        let max = value("tidecast_db_pool_max_connections", &[]).unwrap();
        let open = value("tidecast_db_pool_connections", &[("state", "in_use")]).unwrap()
            + value("tidecast_db_pool_connections", &[("state", "idle")]).unwrap();
        assert!(max >= 1.0 && open >= 1.0 && open <= max, "{text}");
    }
}
