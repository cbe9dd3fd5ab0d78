//! The browser tools beyond navigate/click/type, through MCP with real headless Chromium:
//! selects, whole forms, keys, hover, waiting, scripts, history, dialogs, the console and
//! network logs, tabs, searching the snapshot, page content, element screenshots, resizing,
//! PDFs and artifacts as resources, and file uploads inside the allowed directories only.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::support::{
    browser_site::BrowserSite,
    client::{Client, call, connect, error_text, ok, open_at},
    fixture_server::{FixtureServer, closed_address},
    image_size::png_size,
    remote_chromium::RemoteChromium,
    rpc::{call_as, request_as},
    serial,
    server::{HttpServer, TOKEN},
    snapshot::{ref_of, text_of},
    wait::eventually,
};

const PRIVATE: (&str, &str) = ("CRAWLIUM_ALLOW_PRIVATE_NETWORKS", "true");

/// Runs `function` in the page and parses its JSON result.
async fn eval(client: &Client, id: &str, function: &str) -> Value {
    let out = ok(
        client,
        "browser_evaluate",
        json!({"browserId": id, "function": function}),
    )
    .await;
    serde_json::from_str(out["result"].as_str().unwrap()).unwrap_or(Value::Null)
}

#[tokio::test]
async fn selects_forms_keys_hover_waits_scripts_and_history() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let (id, page) = open_at(&client, &site.url("/widgets")).await;
    let snapshot = text_of(&page).to_string();

    // Selects: by visible label with a ref, several by value with a selector.
    let colour = ref_of(&snapshot, "combobox \"Colour\"");
    let selected = ok(
        &client,
        "browser_select_option",
        json!({"browserId": id, "ref": colour, "values": ["Blue"], "snapshot": false}),
    )
    .await;
    assert_eq!(
        selected["result"],
        "Selected b in [ref=".to_string() + &colour + "]"
    );
    ok(
        &client,
        "browser_select_option",
        json!({"browserId": id, "selector": "#toppings", "values": ["Cheese", "Olives"]}),
    )
    .await;
    let wrong = error_text(
        &client,
        "browser_select_option",
        json!({"browserId": id, "selector": "#colour", "values": ["Purple"]}),
    )
    .await;
    assert!(wrong.contains("Red, Green, Blue"), "{wrong}");
    let several = error_text(
        &client,
        "browser_select_option",
        json!({"browserId": id, "selector": "#colour", "values": ["Red", "Blue"]}),
    )
    .await;
    assert!(several.contains("takes one option"), "{several}");

    // A whole form in one call, each field the way a user sets it.
    let filled = ok(
        &client,
        "browser_fill_form",
        json!({"browserId": id, "fields": [
            {"ref": ref_of(&snapshot, "textbox \"City\""), "name": "City", "type": "textbox", "value": "Paris"},
            {"selector": "#agree", "value": "true"},
            {"selector": "#large", "value": "true"},
            {"selector": "#when", "value": "2026-11-28"},
            {"selector": "#colour", "value": "Green"},
        ]}),
    )
    .await;
    assert!(
        filled["result"]
            .as_str()
            .unwrap()
            .starts_with("Filled 5 fields"),
        "{filled}"
    );
    let values = eval(
        &client,
        &id,
        "() => [document.querySelector('#colour').value,
                [...document.querySelector('#toppings').selectedOptions].map(o => o.value),
                document.querySelector('#agree').checked, document.querySelector('#large').checked,
                document.querySelector('#when').value, document.querySelector('#city').value]",
    )
    .await;
    assert_eq!(
        values,
        json!(["g", ["Cheese", "Olives"], true, true, "2026-11-28", "Paris"])
    );
    let radio = error_text(
        &client,
        "browser_fill_form",
        json!({"browserId": id, "fields": [
            {"selector": "#agree", "value": "false"},
            {"selector": "#large", "value": "false"}]}),
    )
    .await;
    assert!(radio.contains("checking another one"), "{radio}");
    assert!(radio.contains("fields before it were filled"), "{radio}");
    let button = error_text(
        &client,
        "browser_fill_form",
        json!({"browserId": id, "fields": [{"selector": "#alert", "value": "x"}]}),
    )
    .await;
    assert!(button.contains("cannot fill"), "{button}");

    // Typing slowly presses a key per character; a plain type inserts at once.
    ok(
        &client,
        "browser_type",
        json!({"browserId": id, "selector": "#keys", "text": "abc", "slowly": true, "snapshot": false}),
    )
    .await;
    assert_eq!(
        eval(&client, &id, "() => [document.querySelector('#keys').value, document.querySelector('#keycount').textContent]").await,
        json!(["abc", "3 keys"])
    );
    ok(
        &client,
        "browser_type",
        json!({"browserId": id, "selector": "#keys", "text": "xyz", "snapshot": false}),
    )
    .await;
    assert_eq!(
        eval(
            &client,
            &id,
            "() => document.querySelector('#keycount').textContent"
        )
        .await,
        json!("3 keys")
    );
    // Keys go to the focused field: select all, then delete.
    for key in ["Control+a", "Backspace"] {
        ok(
            &client,
            "browser_press_key",
            json!({"browserId": id, "key": key, "snapshot": false}),
        )
        .await;
    }
    assert_eq!(
        eval(&client, &id, "() => document.querySelector('#keys').value").await,
        json!("")
    );
    let bad_key = error_text(
        &client,
        "browser_press_key",
        json!({"browserId": id, "key": "Hyper+x"}),
    )
    .await;
    assert!(bad_key.contains("not a modifier"), "{bad_key}");

    let hovered = ok(
        &client,
        "browser_hover",
        json!({"browserId": id, "selector": "#hover-target"}),
    )
    .await;
    assert!(text_of(&hovered).contains("Hovered!"), "{hovered}");

    let waited = ok(
        &client,
        "browser_wait_for",
        json!({"browserId": id, "text": "Loaded later"}),
    )
    .await;
    assert!(text_of(&waited).contains("Loaded later"));
    let in_vain = error_text(
        &client,
        "browser_wait_for",
        json!({"browserId": id, "text": "Never shown", "timeoutMs": 300}),
    )
    .await;
    assert!(in_vain.contains("in vain"), "{in_vain}");
    let gone = ok(
        &client,
        "browser_wait_for",
        json!({"browserId": id, "textGone": "Never shown", "time": 0.1, "snapshot": false}),
    )
    .await;
    assert!(gone["result"].as_str().unwrap().starts_with("Waited"));

    // Scripts: with an element, cut at maxChars, stopped when they never end.
    let city = ok(
        &client,
        "browser_evaluate",
        json!({"browserId": id, "selector": "#city", "function": "(el) => el.value"}),
    )
    .await;
    assert_eq!(city["result"], "\"Paris\"");
    let big = ok(
        &client,
        "browser_evaluate",
        json!({"browserId": id, "function": "() => 'x'.repeat(5000)", "maxChars": 100}),
    )
    .await;
    assert_eq!(big["truncated"], true);
    assert_eq!(big["totalChars"], 5002);
    assert_eq!(big["result"].as_str().unwrap().len(), 100);
    let started = std::time::Instant::now();
    let endless = error_text(
        &client,
        "browser_evaluate",
        json!({"browserId": id, "function": "() => { while (true) {} }", "timeoutMs": 500}),
    )
    .await;
    assert!(endless.contains("it was stopped"), "{endless}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(eval(&client, &id, "async () => 1 + 1").await, json!(2));
    let broken = error_text(
        &client,
        "browser_evaluate",
        json!({"browserId": id, "function": "() => {"}),
    )
    .await;
    assert!(broken.contains("the script failed"), "{broken}");
    let nothing = ok(
        &client,
        "browser_evaluate",
        json!({"browserId": id, "function": "() => {}"}),
    )
    .await;
    assert_eq!(nothing["result"], "undefined");

    // History.
    ok(
        &client,
        "browser_navigate",
        json!({"browserId": id, "url": site.url("/next"), "snapshot": false}),
    )
    .await;
    let back = ok(&client, "browser_navigate_back", json!({"browserId": id})).await;
    assert_eq!(back["url"], site.url("/widgets"), "{back}");
    assert!(text_of(&back).contains("Widgets"));
}

#[tokio::test]
async fn dialogs_are_reported_answered_and_dismissed_when_nobody_answers() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE, ("BROWSER_DIALOG_TIMEOUT_SECS", "2")]).await;
    let client = connect(&server).await;
    let (id, _) = open_at(&client, &site.url("/widgets")).await;
    let click = |selector: &'static str| {
        let client = &client;
        let id = id.clone();
        async move {
            ok(
                client,
                "browser_click",
                json!({"browserId": id, "selector": selector}),
            )
            .await
        }
    };

    // The click returns at once with the dialog, not after it.
    let started = std::time::Instant::now();
    let alert = click("#alert").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(alert["dialog"]["kind"], "alert", "{alert}");
    assert_eq!(alert["dialog"]["message"], "Hello there");
    assert!(alert["snapshot"].is_null());
    let blocked = error_text(&client, "browser_snapshot", json!({"browserId": id})).await;
    assert!(
        blocked.contains("an open alert dialog blocks the page")
            && blocked.contains("browser_handle_dialog")
            && !blocked.contains("Hello there"),
        "{blocked}"
    );
    let answered = ok(
        &client,
        "browser_handle_dialog",
        json!({"browserId": id, "accept": true}),
    )
    .await;
    assert!(text_of(&answered).contains("alert closed"), "{answered}");

    let prompt = click("#prompt").await;
    assert_eq!(prompt["dialog"]["defaultPrompt"], "nobody");
    let answered = ok(
        &client,
        "browser_handle_dialog",
        json!({"browserId": id, "accept": true, "promptText": "Ada"}),
    )
    .await;
    assert!(text_of(&answered).contains("prompt: Ada"), "{answered}");

    click("#confirm").await;
    let answered = ok(
        &client,
        "browser_handle_dialog",
        json!({"browserId": id, "accept": false}),
    )
    .await;
    assert!(text_of(&answered).contains("confirm: false"), "{answered}");

    // Nobody answers: dismissed after the timeout, and the next answer says so.
    let confirm = click("#confirm").await;
    assert_eq!(confirm["dialog"]["dismissedAfterSeconds"], 2);
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let late = error_text(
        &client,
        "browser_handle_dialog",
        json!({"browserId": id, "accept": true}),
    )
    .await;
    assert!(
        late.contains("no dialog is open") && late.contains("dismissed automatically after 2 s"),
        "{late}"
    );
    let page = ok(&client, "browser_snapshot", json!({"browserId": id})).await;
    assert!(text_of(&page).contains("confirm: false"));

    // A script's dialog is reported the same way.
    let scripted = ok(
        &client,
        "browser_evaluate",
        json!({"browserId": id, "function": "() => alert('from a script')"}),
    )
    .await;
    assert_eq!(scripted["dialog"]["message"], "from a script", "{scripted}");
    ok(
        &client,
        "browser_handle_dialog",
        json!({"browserId": id, "accept": true, "snapshot": false}),
    )
    .await;
    assert_eq!(
        eval(&client, &id, "() => 'free again'").await,
        json!("free again")
    );
}

#[tokio::test]
async fn console_network_and_tabs_are_tracked() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let (id, page) = open_at(&client, &site.url("/widgets")).await;

    // Console messages and the uncaught error, by level.
    let mut console = Value::Null;
    for _ in 0..50 {
        console = ok(
            &client,
            "browser_console_messages",
            json!({"browserId": id}),
        )
        .await;
        if console["messages"].as_array().unwrap().len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let texts: Vec<&str> = console["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts[..3],
        ["widgets ready 42", "careful now", "something broke"],
        "{console:#}"
    );
    // An uncaught error comes with its stack.
    assert!(
        texts.len() == 4 && texts[3].starts_with("Uncaught Error: late failure\n    at "),
        "{console:#}"
    );
    assert_eq!(console["messages"][1]["level"], "warning");
    let errors = ok(
        &client,
        "browser_console_messages",
        json!({"browserId": id, "level": "error", "limit": 1}),
    )
    .await;
    assert_eq!(errors["messages"].as_array().unwrap().len(), 1);
    assert_eq!(errors["omitted"], 1);
    assert!(
        errors["messages"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Uncaught Error: late failure")
    );

    // Network requests: the document and the failing fetch.
    let mut missing = Value::Null;
    for _ in 0..50 {
        missing = ok(
            &client,
            "browser_network_requests",
            json!({"browserId": id, "filter": "missing-resource"}),
        )
        .await;
        if missing["requests"][0]["status"].is_number() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(missing["requests"][0]["status"], 404, "{missing:#}");
    assert_eq!(missing["requests"][0]["resourceType"], "Fetch");
    let all = ok(
        &client,
        "browser_network_requests",
        json!({"browserId": id}),
    )
    .await;
    let document = all["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["url"] == site.url("/widgets"))
        .unwrap_or_else(|| panic!("{all:#}"));
    assert_eq!(
        (
            &document["status"],
            &document["resourceType"],
            &document["method"]
        ),
        (&json!(200), &json!("Document"), &json!("GET"))
    );
    let failed = ok(
        &client,
        "browser_network_requests",
        json!({"browserId": id, "onlyFailed": true}),
    )
    .await;
    assert!(
        failed["requests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"].as_i64().unwrap_or(0) >= 400 || r["failure"].is_string()),
        "{failed:#}"
    );

    // Tabs: a target=_blank link opens one, which is adopted, selected and closed.
    let tabs = ok(&client, "browser_tabs", json!({"browserId": id})).await;
    assert_eq!(tabs["tabs"].as_array().unwrap().len(), 1, "{tabs}");
    let link = ref_of(text_of(&page), "link \"Next in a new tab\"");
    ok(
        &client,
        "browser_click",
        json!({"browserId": id, "ref": link, "snapshot": false}),
    )
    .await;
    let mut tabs = Value::Null;
    for _ in 0..50 {
        tabs = ok(&client, "browser_tabs", json!({"browserId": id})).await;
        if tabs["tabs"].as_array().unwrap().len() == 2 && tabs["tabs"][1]["title"] == "Next" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(tabs["tabs"][1]["url"], site.url("/next"), "{tabs}");
    assert_eq!(tabs["tabs"][0]["current"], true);
    let selected = ok(
        &client,
        "browser_tabs",
        json!({"browserId": id, "action": "select", "index": 1}),
    )
    .await;
    assert_eq!(selected["tabs"][1]["current"], true);
    let there = ok(&client, "browser_snapshot", json!({"browserId": id})).await;
    assert!(text_of(&there).contains("Second page"), "{there}");
    let closed = ok(
        &client,
        "browser_tabs",
        json!({"browserId": id, "action": "close"}),
    )
    .await;
    assert_eq!(closed["tabs"].as_array().unwrap().len(), 1);
    assert_eq!(closed["tabs"][0]["current"], true);
    let back = ok(&client, "browser_snapshot", json!({"browserId": id})).await;
    assert_eq!(back["url"], site.url("/widgets"));

    let new = ok(
        &client,
        "browser_tabs",
        json!({"browserId": id, "action": "new", "url": site.url("/form")}),
    )
    .await;
    assert_eq!(new["tabs"].as_array().unwrap().len(), 2, "{new}");
    assert_eq!(new["tabs"][1]["title"], "Sign up");
    assert_eq!(new["tabs"][1]["current"], true);
    let missing = error_text(
        &client,
        "browser_tabs",
        json!({"browserId": id, "action": "select", "index": 5}),
    )
    .await;
    assert!(missing.contains("no tab 5"), "{missing}");
    ok(
        &client,
        "browser_tabs",
        json!({"browserId": id, "action": "close", "index": 0}),
    )
    .await;
    let page = ok(&client, "browser_snapshot", json!({"browserId": id})).await;
    assert_eq!(page["title"], "Sign up", "the form tab stays current");
    let last = error_text(
        &client,
        "browser_tabs",
        json!({"browserId": id, "action": "close"}),
    )
    .await;
    assert!(last.contains("only tab"), "{last}");
}

#[tokio::test]
async fn the_tab_under_a_new_window_comes_back_to_the_front() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let (id, _) = open_at(&client, &site.url("/widgets")).await;
    // Pages open windows in front of the tab (Chromium 156 leaves the tab covered after the
    // second); a covered tab draws a frame only every 500 ms and input to it waits for
    // frames (a click took 1 to 5 s), so the tools bring their tab back to the front.
    for (opener, url, radio) in [
        ("first", "/next", "#small"),
        ("second", "http://127.0.0.1:9/", "#large"),
    ] {
        eval(
            &client,
            &id,
            &format!(
                "() => {{ const b = document.createElement('button'); b.id = '{opener}'; \
                 b.textContent = '{opener}'; b.onclick = () => window.open('{url}'); \
                 document.body.prepend(b); return 1 }}"
            ),
        )
        .await;
        ok(
            &client,
            "browser_click",
            json!({"browserId": id, "selector": format!("#{opener}"), "snapshot": false}),
        )
        .await;
        // Time for the window to open and load.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let frame_after = eval(
            &client,
            &id,
            "() => new Promise(done => { const asked = performance.now(); \
             requestAnimationFrame(() => done(performance.now() - asked)) })",
        )
        .await;
        let ms = frame_after.as_f64().unwrap();
        assert!(
            ms < 250.0,
            "after the {opener} window, the tab drew its next frame after {ms} ms"
        );
        ok(
            &client,
            "browser_click",
            json!({"browserId": id, "selector": radio, "snapshot": false}),
        )
        .await;
    }
    let listed = ok(&client, "browser_tabs", json!({"browserId": id})).await;
    assert_eq!(listed["tabs"].as_array().unwrap().len(), 3, "{listed}");
    assert_eq!(
        eval(
            &client,
            &id,
            "() => document.getElementById('large').checked"
        )
        .await,
        true
    );
}

#[tokio::test]
async fn find_content_screenshots_pdfs_artifacts_and_uploads() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let uploads = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(uploads.path().join("cv.txt"), "hello").unwrap();
    std::fs::write(outside.path().join("secret.txt"), "no").unwrap();
    let other = "other-token-0123456789abcdef";
    let server = HttpServer::start(
        &[],
        &[
            PRIVATE,
            ("CRAWLIUM_AUTH_TOKENS", &format!("{TOKEN},{other}")),
            ("UPLOAD_ALLOWED_DIRS", uploads.path().to_str().unwrap()),
        ],
    )
    .await;
    let call =
        |token: &'static str, tool: &'static str, args: Value| call_as(&server, token, tool, args);
    let done = |answer: Value| {
        assert_ne!(answer["isError"], true, "{answer:#}");
        answer["structuredContent"].clone()
    };
    let opened = done(call(TOKEN, "browser_open", json!({})).await);
    let id = opened["browserId"].as_str().unwrap().to_string();
    done(
        call(
            TOKEN,
            "browser_navigate",
            json!({"browserId": id, "url": site.url("/widgets"), "snapshot": false}),
        )
        .await,
    );

    // Find: matching lines with refs that work.
    let found = done(
        call(
            TOKEN,
            "browser_find",
            json!({"browserId": id, "text": "COLOUR"}),
        )
        .await,
    );
    // The label and the combobox it names.
    assert_eq!(found["total"], 2, "{found:#}");
    let line = found["matches"][1]["text"].as_str().unwrap();
    assert!(line.contains("combobox \"Colour\""), "{line}");
    done(
        call(
            TOKEN,
            "browser_select_option",
            json!({"browserId": id, "ref": ref_of(line, "Colour"), "values": ["Red"], "snapshot": false}),
        )
        .await,
    );
    let buttons = done(
        call(
            TOKEN,
            "browser_find",
            json!({"browserId": id, "regex": "button \"(Alert|Confirm)\""}),
        )
        .await,
    );
    assert_eq!(buttons["total"], 2, "{buttons:#}");
    let bad = call(
        TOKEN,
        "browser_find",
        json!({"browserId": id, "regex": "("}),
    )
    .await;
    assert!(
        bad["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("invalid regex"),
        "{bad}"
    );

    // Content through the crawler's extractor.
    let markdown = done(call(TOKEN, "browser_get_content", json!({"browserId": id})).await);
    assert!(
        markdown["content"].as_str().unwrap().contains("# Widgets"),
        "{markdown:#}"
    );
    let html = done(
        call(
            TOKEN,
            "browser_get_content",
            json!({"browserId": id, "format": "html", "maxChars": 50000}),
        )
        .await,
    );
    assert!(
        html["content"]
            .as_str()
            .unwrap()
            .contains("<select id=\"colour\">")
    );
    let cut = done(
        call(
            TOKEN,
            "browser_get_content",
            json!({"browserId": id, "format": "text", "maxChars": 10}),
        )
        .await,
    );
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["content"].as_str().unwrap().chars().count(), 10);

    // An element screenshot has the element's size; resize changes the viewport.
    let shot = call(
        TOKEN,
        "browser_take_screenshot",
        json!({"browserId": id, "selector": "#box"}),
    )
    .await;
    let image = base64::engine::general_purpose::STANDARD
        .decode(shot["content"][0]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(png_size(&image), (120, 80), "{}", shot["structuredContent"]);
    done(
        call(
            TOKEN,
            "browser_resize",
            json!({"browserId": id, "width": 800, "height": 600}),
        )
        .await,
    );
    let shot = call(TOKEN, "browser_take_screenshot", json!({"browserId": id})).await;
    let image = base64::engine::general_purpose::STANDARD
        .decode(shot["content"][0]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(png_size(&image), (800, 600));
    let screenshot_uri = shot["content"][2]["uri"].as_str().unwrap().to_string();

    // A PDF, read back as a resource by its owner only.
    let pdf = done(call(TOKEN, "browser_pdf_save", json!({"browserId": id})).await);
    let uri = pdf["uri"].as_str().unwrap().to_string();
    assert_eq!(
        uri,
        format!(
            "crawlium://artifacts/{}",
            pdf["artifactId"].as_str().unwrap()
        )
    );
    let read = request_as(&server, TOKEN, "resources/read", json!({"uri": uri})).await;
    let contents = &read["result"]["contents"][0];
    assert_eq!(contents["mimeType"], "application/pdf", "{read}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(contents["blob"].as_str().unwrap())
        .unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    assert_eq!(bytes.len() as u64, pdf["bytes"].as_u64().unwrap());
    let listed = request_as(&server, TOKEN, "resources/list", json!({})).await;
    let uris: Vec<&str> = listed["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(
        uris.contains(&uri.as_str()) && uris.contains(&screenshot_uri.as_str()),
        "{listed}"
    );
    let theirs = request_as(&server, other, "resources/read", json!({"uri": uri})).await;
    assert!(
        theirs["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no resource"),
        "{theirs}"
    );
    let their_list = request_as(&server, other, "resources/list", json!({})).await;
    assert_eq!(their_list["result"]["resources"], json!([]));
    let templates = request_as(&server, TOKEN, "resources/templates/list", json!({})).await;
    assert_eq!(
        templates["result"]["resourceTemplates"][0]["uriTemplate"],
        "crawlium://artifacts/{id}"
    );

    // Uploads: files inside UPLOAD_ALLOWED_DIRS only.
    let path = uploads.path().join("cv.txt");
    done(
        call(
            TOKEN,
            "browser_file_upload",
            json!({"browserId": id, "paths": [path], "snapshot": false}),
        )
        .await,
    );
    let page = done(
        call(
            TOKEN,
            "browser_wait_for",
            json!({"browserId": id, "text": "file cv.txt says hello"}),
        )
        .await,
    );
    assert!(text_of(&page).contains("file cv.txt says hello"));
    let refused = call(
        TOKEN,
        "browser_file_upload",
        json!({"browserId": id, "paths": [outside.path().join("secret.txt")]}),
    )
    .await;
    assert!(
        refused["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("only files inside"),
        "{refused}"
    );
}

#[tokio::test]
async fn uploads_are_off_without_allowed_directories() {
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;
    let off = call(
        &client,
        "browser_file_upload",
        json!({"paths": ["/etc/hostname"]}),
    )
    .await;
    assert_eq!(off.is_error, Some(true));
    let text = &off.content[0].as_text().unwrap().text;
    assert!(text.contains("UPLOAD_ALLOWED_DIRS"), "{text}");
}

/// A site whose pages reach for a forbidden server (reached as localhost, a host the tests
/// deny) every way a page can; the forbidden server counts its visitors.
struct GuardedSite {
    /// Requests that reached the forbidden server.
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Attempts the pages saw fail (each reports to /done).
    reported: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The forbidden server, as the pages name it.
    secret: String,
    /// The allowed site.
    base: String,
    _servers: [FixtureServer; 3],
}

impl GuardedSite {
    /// Pages: `/plain` (an image, a fetch and a link to the forbidden server), `/page` (those,
    /// and a WebSocket, a worker, a cross-site frame whose script fetches, and a popup
    /// button), `/out` (a redirect to it).
    async fn start() -> Self {
        use std::sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        };
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let forbidden = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                axum::response::Html("<title>Secret</title><p>secret</p>")
            }
        });
        let forbidden = FixtureServer::start(forbidden).await;
        let secret = format!("http://localhost:{}", forbidden.addr().port());
        let ws = secret.replace("http:", "ws:");
        // The frame comes from 127.0.0.2, another site: Chromium runs it in a process of its
        // own.
        let other = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
        let frame = format!("http://{}/frame", other.local_addr().unwrap());
        let plain = format!(
            "<!doctype html><title>Guarded</title><h1>Guarded</h1>\
             <img src=\"{secret}/pixel.png\"><a href=\"{secret}/secret\">Secret</a>\
             <script>fetch('{secret}/api').catch(() => console.log('fetch refused'))</script>"
        );
        let page = format!(
            "{plain}<button onclick=\"window.open('{secret}/popup')\">Popup</button>\
             <iframe src=\"{frame}\"></iframe>\
             <script>const done = () => fetch('/done');\
             const socket = new WebSocket('{ws}/socket'); socket.onclose = done;\
             new Worker(URL.createObjectURL(new Blob([\"fetch('{secret}/worker', \
             {{mode: 'no-cors'}}).catch(() => {{}})\
             .finally(() => fetch('\" + location.origin + \"/done'))\"])));</script>"
        );
        let framed = format!(
            "<!doctype html><title>Frame</title><script>fetch('{secret}/from-frame', \
             {{mode: 'no-cors'}}).catch(() => {{}}).finally(() => fetch('/done'))</script>"
        );
        let reported = Arc::new(AtomicUsize::new(0));
        let report = reported.clone();
        let out = format!("{secret}/secret");
        let html =
            |body: String| axum::routing::get(move || async move { axum::response::Html(body) });
        let site = axum::Router::new()
            .route("/plain", html(plain))
            .route("/page", html(page))
            .route("/frame", html(framed))
            .route(
                "/done",
                axum::routing::get(move || async move {
                    report.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .route(
                "/out",
                axum::routing::get(move || async move { axum::response::Redirect::to(&out) }),
            );
        let allowed = FixtureServer::start(site.clone()).await;
        let other = FixtureServer::on(other, site);
        Self {
            hits,
            reported,
            secret,
            base: allowed.base(),
            _servers: [forbidden, allowed, other],
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until the tab's network log holds at least two requests to the forbidden
    /// server, all failed, and returns their failures.
    async fn refused_requests(&self, client: &Client, id: &str) -> Vec<String> {
        let mut refused = Value::Null;
        for _ in 0..50 {
            refused = ok(
                client,
                "browser_network_requests",
                json!({"browserId": id, "filter": "localhost"}),
            )
            .await;
            let requests = refused["requests"].as_array().unwrap();
            if requests.len() >= 2 && requests.iter().all(|r| r["failure"].is_string()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let requests = refused["requests"].as_array().unwrap();
        assert!(requests.len() >= 2, "{refused:#}");
        requests
            .iter()
            .map(|r| r["failure"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// A redirect to the forbidden host, a click on a link to it, and its URL itself are
    /// refused; then nothing has reached it.
    async fn check_navigations(&self, client: &Client, id: &str, page: &str) {
        let redirected = error_text(
            client,
            "browser_navigate",
            json!({"browserId": id, "url": self.url("/out")}),
        )
        .await;
        assert!(
            redirected.contains("refused by the net policy") && redirected.contains("deny list"),
            "{redirected}"
        );
        ok(
            client,
            "browser_navigate",
            json!({"browserId": id, "url": self.url(page), "snapshot": false}),
        )
        .await;
        ok(
            client,
            "browser_click",
            json!({"browserId": id, "selector": "a", "snapshot": false}),
        )
        .await;
        // The URL itself is refused before Chromium sees it.
        let direct = error_text(
            client,
            "browser_navigate",
            json!({"browserId": id, "url": format!("{}/secret", self.secret)}),
        )
        .await;
        assert!(direct.contains("deny list"), "{direct}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            self.hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "the forbidden server was reached"
        );
    }
}

#[tokio::test]
async fn requests_the_net_policy_refuses_never_leave_the_browser() {
    let _serial = serial::lock().await;
    let site = GuardedSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE, ("CRAWLIUM_DENY_HOSTS", "localhost")]).await;
    let client = connect(&server).await;
    let (id, page) = open_at(&client, &site.url("/page")).await;
    assert_eq!(page["title"], "Guarded");

    // The image and the fetch were refused inside the browser, and the log says why.
    for failure in site.refused_requests(&client, &id).await {
        assert!(
            failure.starts_with("refused by the net policy (localhost:")
                && failure.contains("deny list"),
            "{failure}"
        );
    }
    // So were the WebSocket, the worker's fetch and the frame's fetch, which request
    // interception would not have seen: the proxy stops every connection.
    assert!(
        eventually(Duration::from_secs(10), || site
            .reported
            .load(std::sync::atomic::Ordering::SeqCst)
            == 3)
        .await,
        "{} of 3 attempts reported",
        site.reported.load(std::sync::atomic::Ordering::SeqCst)
    );
    // And a popup.
    ok(
        &client,
        "browser_click",
        json!({"browserId": id, "selector": "button", "snapshot": false}),
    )
    .await;
    site.check_navigations(&client, &id, "/page").await;

    // An allowed address where nothing listens: the proxy's reason, not Chromium's code.
    let nowhere = closed_address();
    let unreachable = error_text(
        &client,
        "browser_navigate",
        json!({"browserId": id, "url": format!("http://{nowhere}/")}),
    )
    .await;
    assert!(
        unreachable.contains(&format!("{nowhere} cannot be reached")),
        "{unreachable}"
    );
}

#[tokio::test]
async fn a_remote_browser_has_its_requests_intercepted() {
    let _serial = serial::lock().await;
    let site = GuardedSite::start().await;
    // A remote browser cannot reach the server's proxy: each request is paused and checked.
    let remote = RemoteChromium::start().await;
    let server = HttpServer::start(
        &[],
        &[
            PRIVATE,
            ("CRAWLIUM_DENY_HOSTS", "localhost"),
            ("BROWSER_CDP_ENDPOINTS", remote.endpoint.as_str()),
        ],
    )
    .await;
    let client = connect(&server).await;
    let (id, page) = open_at(&client, &site.url("/plain")).await;
    assert_eq!(page["title"], "Guarded");
    for failure in site.refused_requests(&client, &id).await {
        assert!(failure.contains("ERR_BLOCKED_BY_CLIENT"), "{failure}");
    }
    site.check_navigations(&client, &id, "/plain").await;
}

#[tokio::test]
async fn crawls_with_render_read_what_scripts_wrote() {
    let _serial = serial::lock().await;
    let site = BrowserSite::start().await;
    let server = HttpServer::start(&[], &[PRIVATE]).await;
    let client = connect(&server).await;

    let plain = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/js"), "store": false}),
    )
    .await;
    assert!(
        !plain["content"]
            .as_str()
            .unwrap()
            .contains("made by a script"),
        "{plain:#}"
    );
    let rendered = ok(
        &client,
        "crawl_page",
        json!({"url": site.url("/js"), "render": true, "store": false}),
    )
    .await;
    assert_eq!(rendered["status"], 200, "{rendered:#}");
    let content = rendered["content"].as_str().unwrap();
    assert!(
        content.contains("# First heading") && content.contains("First text made by a script."),
        "{rendered:#}"
    );

    // A site crawl that renders follows the links scripts wrote, and counts the browsers'
    // memory.
    let job = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/js"), "render": true, "maxDepth": 2}),
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    assert_eq!(job["progress"]["done"], 2, "{job:#}");
    let second = ok(&client, "get_page", json!({"url": site.url("/js2")})).await;
    assert!(
        second["content"]
            .as_str()
            .unwrap()
            .contains("Second text made by a script."),
        "{second:#}"
    );
    let unrendered = ok(
        &client,
        "crawl_site",
        json!({"url": site.url("/next"), "maxDepth": 0}),
    )
    .await;
    let (with, without) = (
        job["stats"]["memory"]["peakMb"].as_f64().unwrap(),
        unrendered["stats"]["memory"]["peakMb"].as_f64().unwrap(),
    );
    assert!(
        with > without + 50.0,
        "a rendering crawl counts Chromium's memory: {with} MB vs {without} MB"
    );
}

#[tokio::test]
async fn render_without_chromium_says_how_to_fix_it() {
    let server = HttpServer::start(&[], &[PRIVATE, ("CHROME_PATH", "/nonexistent/chromium")]).await;
    let client = connect(&server).await;
    for (tool, args) in [
        (
            "crawl_page",
            json!({"url": "http://127.0.0.1:9/", "render": true}),
        ),
        (
            "crawl_site",
            json!({"url": "http://127.0.0.1:9/", "render": true}),
        ),
    ] {
        let error = error_text(&client, tool, args).await;
        assert!(
            error.contains("rendering needs Chromium") && error.contains("CHROME_PATH"),
            "{tool}: {error}"
        );
    }
}
