//! Web UI stories: the pages as a browser without JavaScript sees them, against the real
//! server on a fresh SQLite database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

#[allow(dead_code)]
#[path = "../api/fake_psa.rs"]
mod fake_psa;

#[allow(dead_code)]
#[path = "../api/sinks.rs"]
mod sinks;

mod analytics;
mod answer_stream;
mod browser;
mod fix_outcome;
mod flow_history;
mod library;
mod notification_settings;
mod notification_test;
mod pilot;
mod psa_push;
mod similar;

use browser::{attribute_after, Browser, PASSWORD};
use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, ORIGIN, REFERER, REFERRER_POLICY,
    RETRY_AFTER, X_CONTENT_TYPE_OPTIONS,
};
use reqwest::{Client, StatusCode};

fn header(page: &browser::Page, name: reqwest::header::HeaderName) -> &str {
    page.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Whether `body` shows `text` HTML-escaped, with named or numeric character references.
fn shows_escaped(body: &str, text: &str) -> bool {
    let named = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let numeric = text
        .replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;");
    body.contains(&named) || body.contains(&numeric)
}

async fn account_exists(browser: &Browser, email: &str) -> bool {
    browser
        .app
        .store
        .user_for_login(email)
        .await
        .expect("store")
        .is_some()
}

const SIGNUP: [(&str, &str); 4] = [
    ("full_name", "Mallory"),
    ("account_name", "Mallory IT"),
    ("email", "mallory@example.com"),
    ("password", PASSWORD),
];

#[tokio::test]
async fn signing_up_through_the_form_lands_on_the_pilot_signed_in() {
    let b = Browser::open().await;
    let form = b.get("/signup").await;
    assert_eq!(form.status, StatusCode::OK);
    for label in ["Full name", "Company", "Email", "Password"] {
        assert!(
            form.body.contains(&format!(">{label}</label>")),
            "label {label}"
        );
    }
    assert!(form.body.contains(">Create account</button>"));

    let done = b.sign_up("Ada Lovelace", "Ada@Example.com").await;
    assert_eq!(done.location(), Some("/pilot"));
    let cookie = done.set_cookie("fp_session").expect("session cookie");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");

    let pilot = b.get("/pilot").await;
    assert_eq!(pilot.status, StatusCode::OK);
    assert!(pilot.body.contains("Ada Lovelace"));
    assert!(pilot.body.contains(">Describe the problem</label>"));
    assert!(pilot.body.contains(">Start session</button>"));
    // The cookie holds an ordinary access token.
    let token = b.cookie("fp_session").expect("cookie kept");
    let (status, me) = b.app.get("/auth/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["role"], "admin");
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_echoing_it() {
    let b = Browser::open().await;
    b.app.register("grace@example.com", "Grace IT").await;
    let form = b.get("/login").await;
    assert!(form.body.contains(">Email</label>") && form.body.contains(">Password</label>"));
    assert!(form.body.contains(">Sign in</button>"));

    let refused = b
        .submit(
            "/login",
            &[
                ("email", "grace@example.com"),
                ("password", "not my password 42"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("Incorrect email or password"));
    assert!(
        refused.body.contains("value=\"grace@example.com\""),
        "email kept"
    );
    assert!(!refused.body.contains("not my password 42"));
    assert!(refused.set_cookie("fp_session").is_none());

    let accepted = b
        .submit(
            "/login",
            &[("email", "GRACE@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
    assert_eq!(accepted.location(), Some("/pilot"));
    assert_eq!(b.get("/pilot").await.status, StatusCode::OK);
}

#[tokio::test]
async fn sign_in_attempts_are_limited_like_the_api() {
    let b = Browser::open().await;
    b.app.register("ops@example.com", "Ops").await;
    b.get("/login").await;
    let wrong = [
        ("email", "ops@example.com"),
        ("password", "guess guess guess"),
    ];
    for attempt in 1..=10 {
        let page = b.submit("/login", &wrong).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let limited = b
        .submit(
            "/login",
            &[("email", "ops@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited.body.contains("Too many attempts, try again in "),
        "{}",
        limited.body
    );
    assert!(header(&limited, RETRY_AFTER).parse::<u64>().is_ok());
    assert!(limited.set_cookie("fp_session").is_none());
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused_and_change_nothing() {
    let b = Browser::open().await;
    b.get("/signup").await;
    let url = b.url("/signup");

    let missing = Browser::send(b.client.post(&url).form(&SIGNUP)).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("This form could not be accepted"));

    let mut forged = vec![("csrf_token", "forged-token")];
    forged.extend_from_slice(&SIGNUP);
    let wrong = Browser::send(b.client.post(&url).form(&forged)).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    // A token copied from a page is useless without the browser's cookie.
    let token = b.get("/signup").await.csrf_field();
    let mut copied = vec![("csrf_token", token.as_str())];
    copied.extend_from_slice(&SIGNUP);
    let cookieless = Browser::send(Client::new().post(&url).form(&copied)).await;
    assert_eq!(cookieless.status, StatusCode::FORBIDDEN);

    assert!(!account_exists(&b, "mallory@example.com").await);
}

#[tokio::test]
async fn a_form_sent_from_another_site_is_refused() {
    let b = Browser::open().await;
    b.get("/signup").await;
    let token = b.cookie("fp_csrf").expect("csrf cookie");
    let mut fields = vec![("csrf_token", token.as_str())];
    fields.extend_from_slice(&SIGNUP);
    let post = || b.client.post(b.url("/signup")).form(&fields);

    let by_origin = Browser::send(post().header(ORIGIN, "http://evil.example")).await;
    assert_eq!(by_origin.status, StatusCode::FORBIDDEN);
    let by_referer = Browser::send(post().header(REFERER, "https://evil.example/page")).await;
    assert_eq!(by_referer.status, StatusCode::FORBIDDEN);
    let opaque = Browser::send(post().header(ORIGIN, "null")).await;
    assert_eq!(opaque.status, StatusCode::FORBIDDEN);
    assert!(!account_exists(&b, "mallory@example.com").await);

    let same_site = Browser::send(post().header(ORIGIN, b.app.base.as_str())).await;
    assert_eq!(same_site.status, StatusCode::SEE_OTHER);
    assert!(account_exists(&b, "mallory@example.com").await);
}

#[tokio::test]
async fn the_home_page_shows_the_ways_in_then_forwards_signed_in_users() {
    let b = Browser::open().await;
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("href=\"/login\">Sign in</a>"));
    assert!(home.body.contains("href=\"/signup\">Create account</a>"));

    b.sign_up("Ada", "ada@example.com").await;
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), Some("/pilot"));
    assert_eq!(b.get("/login").await.location(), Some("/pilot"));
}

#[tokio::test]
async fn closed_sign_up_is_said_plainly() {
    let app = helpers::spawn_app_with(helpers::Backend::Sqlite, |s| s.allow_signup = false).await;
    let b = Browser::on(app);
    assert!(!b.get("/").await.body.contains("href=\"/signup\""));
    let form = b.get("/signup").await;
    assert_eq!(form.status, StatusCode::FORBIDDEN);
    assert!(form.body.contains("Sign-up is closed on this server"));
    let refused = b.submit("/signup", &SIGNUP).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!account_exists(&b, "mallory@example.com").await);
}

#[tokio::test]
async fn the_pilot_sends_signed_out_visitors_to_sign_in_and_back() {
    let b = Browser::open().await;
    b.app.register("ops@example.com", "Ops").await;
    let away = b.get("/pilot").await;
    assert_eq!(away.status, StatusCode::SEE_OTHER);
    assert_eq!(away.location(), Some("/login?next=/pilot"));

    let form = b.get("/login?next=/pilot").await;
    assert!(form.body.contains("name=\"next\" value=\"/pilot\""));
    let back = b
        .submit(
            "/login",
            &[
                ("email", "ops@example.com"),
                ("password", PASSWORD),
                ("next", "/pilot"),
            ],
        )
        .await;
    assert_eq!(back.location(), Some("/pilot"));
}

#[tokio::test]
async fn sign_in_never_leads_off_site() {
    let b = Browser::open().await;
    b.app.register("ops@example.com", "Ops").await;
    let form = b.get("/login?next=//evil.example/x").await;
    assert!(!form.body.contains("evil.example"));
    for next in ["https://evil.example", "//evil.example", "/\\evil.example"] {
        let page = b
            .submit(
                "/login",
                &[
                    ("email", "ops@example.com"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(page.location(), Some("/pilot"), "next={next}");
    }
}

#[tokio::test]
async fn signing_out_revokes_the_session() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let old = b.cookie("fp_session").expect("signed in");
    let pilot = b.get("/pilot").await;
    assert!(pilot.body.contains("action=\"/logout\""));
    assert!(pilot.body.contains(">Sign out</button>"));

    let out = b.submit("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), Some("/"));
    assert!(out
        .set_cookie("fp_session")
        .expect("cleared")
        .contains("Max-Age=0"));
    assert_eq!(b.get("/pilot").await.status, StatusCode::SEE_OTHER);

    // Replaying the old cookie does not work either: the token itself is revoked.
    let replay = Browser::send(
        Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .get(b.url("/pilot"))
            .header(COOKIE, format!("fp_session={old}")),
    )
    .await;
    assert_eq!(replay.status, StatusCode::SEE_OTHER);
    assert_eq!(
        b.app.get("/auth/me", &old).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sign_out_needs_the_csrf_token_too() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let refused = Browser::send(b.client.post(b.url("/logout"))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/pilot").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_malicious_full_name_is_shown_escaped() {
    let b = Browser::open().await;
    b.sign_up("<script>alert(1)</script>", "eve@example.com")
        .await;
    let pilot = b.get("/pilot").await;
    assert_eq!(pilot.status, StatusCode::OK);
    assert!(
        shows_escaped(&pilot.body, "<script>alert(1)</script>"),
        "{}",
        pilot.body
    );
    assert!(!pilot.body.contains("<script>alert(1)"));
}

#[tokio::test]
async fn signup_mistakes_are_shown_next_to_their_fields() {
    let b = Browser::open().await;
    b.get("/signup").await;
    let page = b
        .submit(
            "/signup",
            &[
                ("full_name", "Ada"),
                ("account_name", ""),
                ("email", "not-an-email"),
                ("password", "tiny-pw-9"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("value=\"Ada\""));
    assert!(page.body.contains("value=\"not-an-email\""));
    assert!(
        !page.body.contains("tiny-pw-9"),
        "the password is never echoed"
    );
    assert!(page
        .body
        .contains("aria-describedby=\"password-hint password-error\""));
    assert!(page.body.contains("Use at least 10 characters."));
    assert!(page
        .body
        .contains("aria-describedby=\"account_name-error\""));
    assert!(page.body.contains("aria-describedby=\"email-error\""));
    assert!(!page.body.contains("aria-describedby=\"full_name-error\""));
}

#[tokio::test]
async fn a_nul_character_in_a_form_is_refused_with_a_page_that_says_so() {
    let b = Browser::open().await;
    b.get("/signup").await;
    let page = b
        .submit(
            "/signup",
            &[
                ("full_name", "Ada\u{0}Lovelace"),
                ("account_name", "Ada IT"),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("NUL character"), "{}", page.body);
    assert!(!account_exists(&b, "ada@example.com").await);
}

#[tokio::test]
async fn an_email_already_in_use_is_said_next_to_the_field() {
    let b = Browser::open().await;
    b.app.register("taken@example.com", "Taken").await;
    b.get("/signup").await;
    let page = b
        .submit(
            "/signup",
            &[
                ("full_name", "Ada"),
                ("account_name", "Ada IT"),
                ("email", "Taken@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page
        .body
        .contains("An account with this email already exists."));
    assert!(page.body.contains("aria-describedby=\"email-error\""));
}

#[tokio::test]
async fn assets_are_embedded_and_cached_for_a_year() {
    let b = Browser::open().await;
    let home = b.get("/").await;
    let css = attribute_after(&home.body, "rel=\"stylesheet\" href=\"").expect("stylesheet");
    let js = attribute_after(&home.body, "<script src=\"").expect("script");
    for (path, content_type, sample) in [
        (
            css.as_str(),
            "text/css; charset=utf-8",
            "prefers-color-scheme",
        ),
        (
            js.as_str(),
            "text/javascript; charset=utf-8",
            "data-thinking",
        ),
    ] {
        let asset = b.get(path).await;
        assert_eq!(asset.status, StatusCode::OK, "{path}");
        assert_eq!(header(&asset, CONTENT_TYPE), content_type);
        assert_eq!(
            header(&asset, CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header(&asset, X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert!(asset.body.contains(sample));
    }
    assert_eq!(b.get("/assets/app.css").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        b.get("/assets/app.0000000000.css").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_no_inline_code() {
    let b = Browser::open().await;
    for path in ["/", "/login", "/signup"] {
        let page = b.get(path).await;
        assert_eq!(
            header(&page, CONTENT_SECURITY_POLICY),
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            "{path}"
        );
        assert_eq!(header(&page, X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header(&page, REFERRER_POLICY), "same-origin");
        assert_eq!(header(&page, CACHE_CONTROL), "no-store");
        assert_eq!(
            page.body.matches("<script").count(),
            page.body.matches("<script src=").count()
        );
        assert!(!page.body.contains("<style") && !page.body.contains(" style="));
    }
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_an_https_proxy() {
    let b = Browser::open().await;
    b.app.register("ops@example.com", "Ops").await;
    b.get("/login").await;
    let token = b.cookie("fp_csrf").expect("csrf cookie");
    let page = Browser::send(
        b.client
            .post(b.url("/login"))
            .header("x-forwarded-proto", "https")
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", "ops@example.com"),
                ("password", PASSWORD),
            ]),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page
        .set_cookie("fp_session")
        .expect("cookie")
        .ends_with("; Secure"));
}
