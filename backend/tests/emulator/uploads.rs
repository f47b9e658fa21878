//! Where the azure-ai-ml SDK puts local files, driven over plain HTTP: the default datastore and
//! its key, `startPendingUpload`'s SAS, the blob operations with Azure Storage's error codes
//! (wrong key, expired SAS, `If-None-Match: *`, a wrong `Content-MD5`), code reuse by content
//! hash, and conda files refused by field. The SDK itself drives all of it in `examples/sdk`.

use crate::helpers::{assert_refused, deployment_body, deployment_path, start, Local, WORKSPACE};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A blob request as the storage client sends it; the status, the error code and the body.
async fn blob(
    local: &Local,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, Option<String>, String) {
    let mut request = local
        .http
        .request(method, url)
        .header("x-ms-version", "2025-01-05")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("blob request");
    let status = response.status();
    let code = response
        .headers()
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("body");
    (status, code, text)
}

/// A pending upload's blob URI and SAS URI, split into the URL of one blob in it.
async fn pending_upload(local: &Local) -> (String, String) {
    let reply = local
        .arm(
            Method::POST,
            &format!("{WORKSPACE}/codes/some-code/versions/1/startPendingUpload"),
            Some(json!({ "pendingUploadType": "TemporaryBlobReference" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reference = &reply.body["blobReferenceForConsumption"];
    assert_eq!(reference["credential"]["credentialType"], "SAS");
    let blob_uri = reference["blobUri"].as_str().expect("blobUri").to_owned();
    let sas_uri = reference["credential"]["sasUri"]
        .as_str()
        .expect("sasUri")
        .to_owned();
    assert!(sas_uri.starts_with(&format!("{blob_uri}?")), "{sas_uri}");
    (blob_uri, sas_uri)
}

fn blob_url(sas_uri: &str, blob: &str) -> String {
    let (container, query) = sas_uri.split_once('?').expect("a SAS URI");
    format!("{container}/{blob}?{query}")
}

fn md5(content: &[u8]) -> String {
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(content))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_datastore_points_at_the_workspace_and_refuses_a_wrong_key_with_403() {
    let local = start().await;
    let datastore = local
        .arm(
            Method::GET,
            &format!("{WORKSPACE}/datastores/workspaceblobstore"),
            None,
        )
        .await;
    assert_eq!(datastore.status, StatusCode::OK, "{}", datastore.body);
    let properties = &datastore.body["properties"];
    assert_eq!(properties["datastoreType"], "AzureBlob");
    let account = properties["accountName"].as_str().expect("accountName");
    let control = local.emulator.control_url.trim_start_matches("http://");
    assert_eq!(account, format!("{control}/greenlight"));
    let listed = local
        .arm(
            Method::GET,
            &format!("{WORKSPACE}/datastores?isDefault=true"),
            None,
        )
        .await;
    assert_eq!(listed.body["value"][0]["name"], "workspaceblobstore");
    let secrets = local
        .arm(
            Method::POST,
            &format!("{WORKSPACE}/datastores/workspaceblobstore/listSecrets"),
            Some(json!({ "expirableSecret": true })),
        )
        .await;
    assert_eq!(secrets.body["secretsType"], "AccountKey");
    let key = secrets.body["key"].as_str().expect("a key");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .map(|k| k.len()),
        Ok(64)
    );
    let missing = local
        .arm(Method::GET, &format!("{WORKSPACE}/datastores/other"), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // What the SDK builds from the account name: path-style on the control plane.
    let url = format!("http://{account}.blob.local/azureml-blobstore/LocalUpload/x/model.pkl");
    let forged = "SharedKey greenlight.blob.local:bm90IHRoZSBzaWduYXR1cmU=";
    let (status, code, text) = blob(
        &local,
        Method::PUT,
        &url,
        &[("authorization", forged), ("x-ms-blob-type", "BlockBlob")],
        b"model",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert_eq!(code.as_deref(), Some("AuthenticationFailed"));
    assert!(text.contains("<Code>AuthenticationFailed</Code>"), "{text}");
    assert!(
        !text.contains("bm90IHRoZSBzaWduYXR1cmU"),
        "no signature in the answer"
    );
    assert!(!text.contains(key), "no key in the answer");
    let (status, code, _) = blob(&local, Method::HEAD, &url, &[], b"").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code.as_deref(), Some("NoAuthenticationInformation"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_behave_as_azure_storage_under_a_pending_uploads_sas() {
    let local = start().await;
    let (blob_uri, sas_uri) = pending_upload(&local).await;
    let url = blob_url(&sas_uri, "onlinescoring/score.py");
    let block_blob = ("x-ms-blob-type", "BlockBlob");

    let (status, code, _) = blob(&local, Method::HEAD, &url, &[], b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code.as_deref(), Some("BlobNotFound"));

    let content = b"def init():\n    pass\n";
    let wrong_md5 = md5(b"something else");
    let (status, code, _) = blob(
        &local,
        Method::PUT,
        &url,
        &[block_blob, ("content-md5", &wrong_md5)],
        content,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code.as_deref(), Some("Md5Mismatch"));
    let right_md5 = md5(content);
    let (status, _, text) = blob(
        &local,
        Method::PUT,
        &url,
        &[
            block_blob,
            ("content-md5", &right_md5),
            ("x-ms-meta-name", "code"),
        ],
        content,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let (status, code, _) = blob(
        &local,
        Method::PUT,
        &url,
        &[block_blob, ("if-none-match", "*")],
        b"again",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code.as_deref(), Some("BlobAlreadyExists"));
    let (status, _, text) = blob(&local, Method::GET, &url, &[], b"").await;
    assert_eq!((status, text.as_bytes()), (StatusCode::OK, &content[..]));

    let metadata_url = format!("{url}&comp=metadata");
    let (status, _, _) = blob(
        &local,
        Method::PUT,
        &metadata_url,
        &[("x-ms-meta-upload_status", "completed")],
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let head = local.http.head(&url).send().await.expect("properties");
    assert_eq!(head.headers()["x-ms-meta-upload_status"], "completed");
    assert_eq!(head.headers()["content-md5"], right_md5.as_str());

    // Large files come as blocks, committed in the listed order.
    let big = blob_url(&sas_uri, "big.bin");
    let id = |n: &str| base64::engine::general_purpose::STANDARD.encode(n);
    for (n, part) in [("2", &b"world"[..]), ("1", &b"hello "[..])] {
        let (status, _, _) = blob(
            &local,
            Method::PUT,
            &format!("{big}&comp=block&blockid={}", urlencode(&id(n))),
            &[],
            part,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let list = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>{}</Latest><Latest>{}</Latest></BlockList>",
        id("1"),
        id("2")
    );
    let (status, _, _) = blob(
        &local,
        Method::PUT,
        &format!("{big}&comp=blocklist"),
        &[],
        list.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, _, text) = blob(&local, Method::GET, &big, &[], b"").await;
    assert_eq!(text, "hello world");
    let (status, code, _) = blob(
        &local,
        Method::PUT,
        &format!("{big}&comp=blocklist"),
        &[("if-none-match", "*")],
        list.as_bytes(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "no overwrite when asked not to"
    );
    assert_eq!(code.as_deref(), Some("BlobAlreadyExists"));

    // The SAS is for its own container only, and only until it expires.
    let (other_blob_uri, _) = pending_upload(&local).await;
    let (_, query) = sas_uri.split_once('?').expect("query");
    let (status, code, _) = blob(
        &local,
        Method::PUT,
        &format!("{other_blob_uri}/x.txt?{query}"),
        &[block_blob],
        b"x",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code.as_deref(), Some("AuthenticationFailed"));
    let container = blob_uri.rsplit('/').next().expect("container");
    let expired = local
        .emulator
        .workspace
        .blobs()
        .expired_sas_url(container)
        .expect("an expired SAS");
    let (status, code, text) = blob(
        &local,
        Method::PUT,
        &blob_url(&expired, "late.txt"),
        &[block_blob],
        b"late",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert_eq!(code.as_deref(), Some("AuthenticationFailed"));
    assert!(text.contains("time frame"), "{text}");
    let signature = expired.rsplit("sig=").next().expect("sig");
    assert!(!text.contains(signature), "no signature in the answer");

    // A code version pointing at the upload deploys; one pointing at nothing is refused.
    let code_id = format!("{WORKSPACE}/codes/uploaded/versions/1");
    let registered = local
        .arm(
            Method::PUT,
            &code_id,
            Some(json!({ "properties": { "codeUri": format!("{blob_uri}/nothing-here") } })),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    local.create_endpoint("uploads").await;
    let mut body = deployment_body("regression-v1", 1);
    body["properties"]["codeConfiguration"]["codeId"] = Value::from(code_id);
    let refused = local
        .arm(Method::PUT, &deployment_path("uploads", "blue"), Some(body))
        .await;
    assert_refused(&refused, "properties.codeConfiguration.codeId");
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_is_found_by_its_content_hash_under_any_name() {
    let local = start().await;
    let hashed = |hash: &str| {
        json!({ "properties": {
            "codeUri": "https://127.0.0.1:1/greenlight/c/code",
            "isAnonymous": true,
            "properties": { "hash_sha256": hash, "hash_version": 202208 },
        }})
    };
    let put = local
        .arm(
            Method::PUT,
            &format!("{WORKSPACE}/codes/first-upload/versions/1"),
            Some(hashed("abc123")),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let asked = |hash: &'static str| {
        let local = &local;
        async move {
            local
                .arm(
                    Method::GET,
                    &format!(
                        "{WORKSPACE}/codes/{}/versions?hash={hash}&hashVersion=202208",
                        uuid::Uuid::new_v4()
                    ),
                    None,
                )
                .await
        }
    };
    let found = asked("abc123").await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(
        found.body["value"][0]["id"],
        format!("{WORKSPACE}/codes/first-upload/versions/1")
    );
    let none = asked("def456").await;
    assert_eq!(none.body["value"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conda_files_are_checked_and_models_answer_with_flavors() {
    let local = start().await;
    let environment = |conda: &str| {
        json!({ "properties": {
            "condaFile": conda,
            "image": "mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:20210727.v1",
            "isAnonymous": true,
        }})
    };
    let path = format!("{WORKSPACE}/environments/CliV2AnonymousEnvironment/versions/abc");
    for bad in [
        "dependencies: [numpy",
        "dependencies:\n  - pip:\n    - --index-url=http://elsewhere/simple\n",
        "dependencies:\n  - pip:\n    - pkg @ file:///etc/passwd\n",
    ] {
        let refused = local.arm(Method::PUT, &path, Some(environment(bad))).await;
        assert_refused(&refused, "properties.condaFile");
    }
    let good = "name: model-env\ndependencies:\n  - python=3.11\n  - numpy\n  - scikit-learn\n";
    for _ in 0..2 {
        let stored = local.arm(Method::PUT, &path, Some(environment(good))).await;
        assert_eq!(stored.status, StatusCode::OK, "{}", stored.body);
        assert_eq!(stored.body["properties"]["condaFile"], good);
    }

    let model = local
        .arm(
            Method::PUT,
            &format!("{WORKSPACE}/models/0123abcd/versions/1"),
            Some(json!({ "properties": {
                "modelUri": "azureml://subscriptions/s/resourcegroups/g/workspaces/w/datastores/workspaceblobstore/paths/LocalUpload/h/model.pkl",
                "modelType": "custom_model",
                "isAnonymous": true,
            }})),
        )
        .await;
    assert_eq!(model.status, StatusCode::OK, "{}", model.body);
    assert_eq!(model.body["properties"]["flavors"], json!({}));
}
