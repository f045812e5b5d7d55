//! The web console's page and files at `/console`: types, caching, revalidation, only
//! embedded files, behind the keys. The page itself, in a browser, is tested by
//! `console/tests/` (`make console-test`).

use crate::common::{spawn_app, spawn_app_with};
use read_api::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_files_are_served_with_their_types_and_caching() {
    let database = test_support::migrated_database("read_api_console").await;
    let app = spawn_app(&database).await;

    let mut etags = Vec::new();
    for path in ["/console", "/console/"] {
        let answer = app.get(path).await;
        assert_eq!(answer.status(), 200, "{path}");
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("content-type").as_deref(),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        assert!(
            header("content-security-policy").is_some_and(|csp| csp.contains("default-src 'self'"))
        );
        etags.push(header("etag").expect("an ETag"));
        let page = answer.text().await.expect("page");
        assert!(page.contains("<title>"), "{path} is the page");
    }
    assert_eq!(etags[0], etags[1]);

    // Revalidation: the current ETag gets 304 with no body, another one the page.
    let revalidated = app
        .http
        .get(format!("{}/console/", app.address))
        .header("if-none-match", &etags[0])
        .send()
        .await
        .expect("answer");
    assert_eq!(revalidated.status(), 304);
    assert_eq!(
        revalidated.headers()["etag"].to_str().ok(),
        Some(etags[0].as_str())
    );
    assert!(revalidated.bytes().await.expect("body").is_empty());
    let stale = app
        .http
        .get(format!("{}/console/", app.address))
        .header("if-none-match", "\"an-old-build\"")
        .send()
        .await
        .expect("answer");
    assert_eq!(stale.status(), 200);

    // The page's script and style: content-hashed, cached for a year.
    let page = app.get("/console/").await.text().await.expect("page");
    for (extension, content_type) in [
        ("js", "text/javascript; charset=utf-8"),
        ("css", "text/css; charset=utf-8"),
    ] {
        let path = page
            .split('"')
            .find(|part| {
                part.starts_with("/console/assets/") && part.ends_with(&format!(".{extension}"))
            })
            .unwrap_or_else(|| panic!("the page names its .{extension}"));
        let answer = app.get(path).await;
        assert_eq!(answer.status(), 200, "{path}");
        assert_eq!(answer.headers()["content-type"], content_type);
        assert_eq!(
            answer.headers()["cache-control"],
            "max-age=31536000, immutable"
        );
    }
    // Only embedded files: nothing else on the disk, whatever the path says.
    for missing in [
        "/console/assets/missing.js",
        "/console/..%2F..%2FCargo.toml",
        "/console/assets/..%2F..%2F..%2Fread-api%2FCargo.toml",
    ] {
        assert_eq!(app.get(missing).await.status(), 404, "{missing}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_guard_the_console_with_a_basic_challenge() {
    let database = test_support::migrated_database("read_api_console").await;
    let mut config = Config::local_defaults();
    config.api_keys = "console-key".to_owned();
    let app = spawn_app_with(&database, config).await;

    for path in [
        "/console",
        "/console/",
        "/console/favicon.svg",
        "/v1/newest",
    ] {
        let answer = app.get(path).await;
        assert_eq!(answer.status(), 401, "{path}");
        let challenge = answer.headers()["www-authenticate"]
            .to_str()
            .unwrap_or_default();
        assert!(challenge.starts_with("Basic realm="), "{path}: {challenge}");

        let basic = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode("anyone:console-key")
        };
        let answer = app
            .http
            .get(format!("{}{path}", app.address))
            .header("authorization", format!("Basic {basic}"))
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 200, "{path} with the key");
    }
}
