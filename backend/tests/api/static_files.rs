//! The console's files: each is sent as the brotli or gzip sibling the build writes, whichever
//! the request accepts (brotli first), else as is, and the bodies decode to the same bytes.

use crate::helpers::spawn_app_tuned;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, VARY};
use reqwest::StatusCode;
use std::path::Path;
use std::process::{Command, Stdio};

const ASSET: &str = "assets/greenlight-0123456789abcdef.js";

/// A console folder with one asset and its `.br` and `.gz` siblings, compressed by the same
/// commands as scripts/build-ui.sh.
fn ui_dir_with_compressed_asset() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("ui dir");
    std::fs::create_dir(dir.path().join("assets")).expect("assets dir");
    let raw: Vec<u8> = (0..2000)
        .flat_map(|i| format!("export const line{i} = {};\n", i * 7).into_bytes())
        .collect();
    let asset = dir.path().join(ASSET);
    std::fs::write(&asset, &raw).expect("write asset");
    std::fs::write(dir.path().join("index.html"), "<!doctype html>").expect("write index");
    run(Command::new("gzip").args(["-9", "-k", "-n"]).arg(&asset));
    run(Command::new("brotli")
        .args(["-q", "11", "-w", "24", "-k"])
        .arg(&asset));
    (dir, raw)
}

fn run(command: &mut Command) {
    let status = command.status().expect("run the compressor");
    assert!(status.success(), "{command:?} failed");
}

/// `body` decoded by `program -d -c` (gzip and brotli take the same flags).
fn decode(program: &str, body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(["-d", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the decoder");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("feed the decoder");
    let output = child.wait_with_output().expect("decode");
    assert!(output.status.success(), "{program} -d failed");
    output.stdout
}

/// Status, `Content-Encoding` and body of the asset asked for with `accept_encoding`.
async fn fetch(url: &str, accept_encoding: &str) -> (Option<String>, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(format!("{url}/{ASSET}"))
        .header(ACCEPT_ENCODING, accept_encoding)
        .send()
        .await
        .expect("request the asset");
    assert_eq!(response.status(), StatusCode::OK);
    let vary = response.headers().get(VARY).and_then(|v| v.to_str().ok());
    assert_eq!(
        vary,
        Some("accept-encoding"),
        "caches must key on the encoding"
    );
    let encoding = response
        .headers()
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().expect("ascii").to_owned());
    (encoding, response.bytes().await.expect("body").to_vec())
}

fn sibling(dir: &Path, extension: &str) -> Vec<u8> {
    std::fs::read(dir.join(format!("{ASSET}.{extension}"))).expect("read the sibling")
}

#[tokio::test]
async fn assets_are_sent_brotli_then_gzip_then_as_they_are_by_accept_encoding() {
    let (dir, raw) = ui_dir_with_compressed_asset();
    let ui_dir = dir.path().to_path_buf();
    let app = spawn_app_tuned(|settings| settings.ui.dir = ui_dir).await;

    // What Chromium sends: brotli wins over gzip.
    let (encoding, body) = fetch(&app.url, "gzip, deflate, br, zstd").await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert_eq!(body, sibling(dir.path(), "br"));
    assert_eq!(decode("brotli", &body), raw);

    let (encoding, body) = fetch(&app.url, "gzip").await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(body, sibling(dir.path(), "gz"));
    assert_eq!(decode("gzip", &body), raw);

    // Brotli refused outright: gzip, not brotli.
    let (encoding, _) = fetch(&app.url, "br;q=0, gzip").await;
    assert_eq!(encoding.as_deref(), Some("gzip"));

    for accept in ["identity", ""] {
        let (encoding, body) = fetch(&app.url, accept).await;
        assert_eq!(encoding, None, "Accept-Encoding: {accept:?}");
        assert_eq!(body, raw);
    }
}

/// A client-side route gets `index.html`; a file missing under `assets/` (a chunk of a build the
/// server no longer has) gets a 404 that no cache keeps, never the page in its place.
#[tokio::test]
async fn a_missing_asset_is_a_404_and_a_client_route_gets_the_page() {
    let (dir, _) = ui_dir_with_compressed_asset();
    let ui_dir = dir.path().to_path_buf();
    let app = spawn_app_tuned(|settings| settings.ui.dir = ui_dir).await;
    let client = reqwest::Client::new();

    let page = client
        .get(format!("{}/endpoints/blue-green", app.url))
        .send()
        .await
        .expect("request a client route");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.text().await.expect("body"), "<!doctype html>");

    let gone = client
        .get(format!("{}/assets/0123456789abcdef/chunk_7.wasm", app.url))
        .send()
        .await
        .expect("request a missing asset");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let cache = gone.headers().get(reqwest::header::CACHE_CONTROL);
    assert_eq!(cache.and_then(|v| v.to_str().ok()), Some("no-cache"));
}
