//! `/api/v1/openapi.json`: valid OpenAPI 3.1 by the reference validator, naming every
//! endpoint of the SPEC, every operation it names served by the server, and a bounded
//! schemathesis run against the real server that finds no 500s.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::PathBuf;
use std::process::Command;

use tidecast_tests::*;

/// The venv scripts/test.sh makes with the Python tools.
fn pytool(name: &str) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/pytools/bin")
        .join(name);
    assert!(
        bin.exists(),
        "{} is missing: scripts/test.sh installs tests/python/requirements.txt into target/pytools",
        bin.display()
    );
    bin
}

/// Endpoints the SPEC names (relative to /api/v1), each with its method.
const SPEC_ENDPOINTS: &[(&str, &str)] = &[
    ("post", "/login"),
    ("post", "/users"),
    ("get", "/users"),
    ("patch", "/users/{id}"),
    ("delete", "/users/{id}"),
    ("post", "/reseller-plans"),
    ("post", "/api-keys"),
    ("post", "/services"),
    ("get", "/services"),
    ("get", "/services/{id}"),
    ("patch", "/services/{id}"),
    ("delete", "/services/{id}"),
    ("post", "/services/{id}/suspend"),
    ("post", "/services/{id}/unsuspend"),
    ("post", "/services/{id}/rotate-credentials"),
    ("post", "/services/{id}/mounts"),
    ("post", "/services/{id}/djs"),
    ("post", "/services/{id}/media"),
    ("get", "/services/{id}/media"),
    ("post", "/services/{id}/playlists"),
    ("put", "/services/{id}/autodj"),
    ("post", "/services/{id}/autodj/start"),
    ("post", "/services/{id}/autodj/stop"),
    ("post", "/services/{id}/autodj/skip"),
    ("put", "/services/{id}/transcode"),
    ("put", "/services/{id}/dvr"),
    ("get", "/services/{id}/recordings"),
    ("post", "/services/{id}/recordings"),
    ("get", "/services/{id}/stats"),
    ("get", "/services/{id}/stats/history"),
    ("get", "/services/{id}/usage"),
    ("get", "/openapi.json"),
    ("get", "/public/{slug}/nowplaying"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_valid_complete_and_fuzzed_without_500s() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let owner = srv
        .create_user(&admin, "fuzzed", "customer", json!({}))
        .await;
    srv.create_service(&admin, owner, "Fuzz FM", "radio").await;
    srv.create_service(&admin, owner, "Fuzz TV", "video").await;

    // Public, JSON, OpenAPI 3.1, valid by the reference validator.
    let (status, spec) = srv.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK, "{spec}");
    assert_eq!(spec["openapi"], "3.1.0");
    let file = store.dir.path().join("openapi.json");
    std::fs::write(&file, spec.to_string()).unwrap();
    let out = Command::new(pytool("openapi-spec-validator"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Every endpoint of the SPEC is described, with its request body where it takes one.
    let paths = spec["paths"].as_object().unwrap();
    for (method, path) in SPEC_ENDPOINTS {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is not in the document"
        );
    }
    let create =
        &spec["paths"]["/services"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let name = create["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
    let schema = &spec["components"]["schemas"][name];
    assert!(
        schema["required"]
            .as_array()
            .unwrap()
            .contains(&json!("kind")),
        "{schema}"
    );

    // Every operation it describes is served (probed with ids that do not exist: the
    // answer may be 4xx, but never the router's "no such endpoint" or 405).
    let mut probed = 0;
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            if path == "/logout" {
                continue; // would end the token the probe uses
            }
            let concrete = path
                .replace("{id}", "999999")
                .replace("{rid}", "999999")
                .replace("{pid}", "999999")
                .replace("{mid}", "999999")
                .replace("{dj}", "999999")
                .replace("{mount}", "nosuch")
                .replace("{slug}", "nosuch")
                .replace("{name}", "summary");
            let body = matches!(method.as_str(), "post" | "put" | "patch").then(|| json!({}));
            let (status, answer) = srv
                .call(
                    &method.to_uppercase(),
                    &format!("/api/v1{concrete}"),
                    Some(&admin),
                    body,
                )
                .await;
            let routed = status != StatusCode::METHOD_NOT_ALLOWED
                && !answer["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("no API endpoint");
            assert!(
                routed,
                "{method} {path} is documented but not served: {status} {answer}"
            );
            assert!(status.as_u16() < 500, "{method} {path}: {status} {answer}");
            probed += 1;
        }
    }
    assert!(probed > 80, "{probed} operations");

    // schemathesis: every operation, examples + boundary values + random data, as an admin.
    let out = Command::new(pytool("schemathesis"))
        .args(["run", &srv.url("/api/v1/openapi.json")])
        .args(["-H", &format!("Authorization: Bearer {admin}")])
        .args([
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "10",
            "--seed",
            "7",
            "-w",
            "2",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        // Ending the fuzzer's own session, or swapping it for a customer's, would turn the
        // rest of the run into 401s.
        .args([
            "--exclude-path",
            "/logout",
            "--exclude-path",
            "/users/{id}/login-as",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    let logs = srv.logs();
    assert!(
        !logs.contains("request failed"),
        "internal errors in the server log:\n{logs}"
    );
}
