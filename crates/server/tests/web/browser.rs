//! A tiny stand-in for a browser without JavaScript: a cookie jar, no automatic redirects
//! (the stories check each 303), and forms posted with the page's CSRF token.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Client, RequestBuilder, StatusCode, Url};

use crate::helpers::{spawn_app, Backend, TestApp};

pub struct Browser {
    pub app: Arc<TestApp>,
    pub client: Client,
    jar: Arc<Jar>,
}

#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The `Set-Cookie` header for cookie `name`, whole.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }

    /// The value of the page's first hidden `csrf_token` field.
    pub fn csrf_field(&self) -> String {
        attribute_after(&self.body, "name=\"csrf_token\" value=\"").expect("a csrf_token field")
    }
}

pub fn attribute_after(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

pub const PASSWORD: &str = "correct horse battery";

impl Browser {
    pub async fn open() -> Browser {
        Browser::on(spawn_app(Backend::Sqlite).await)
    }

    pub fn on(app: TestApp) -> Browser {
        Browser::sharing(Arc::new(app))
    }

    /// Another browser (its own cookies) on the same server, for a second person.
    pub fn another(&self) -> Browser {
        Browser::sharing(self.app.clone())
    }

    fn sharing(app: Arc<TestApp>) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("client");
        Browser { app, client, jar }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.base)
    }

    /// The value this browser holds for cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url: Url = self.app.base.parse().expect("base url");
        let header = self.jar.cookies(&url)?;
        let header = header.to_str().ok()?.to_string();
        header
            .split("; ")
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }

    pub async fn send(request: RequestBuilder) -> Page {
        let response = request.send().await.expect("request");
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Browser::send(self.client.get(self.url(path))).await
    }

    /// Posts `fields` as the browser would, with the CSRF token it holds.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self
            .cookie("fp_csrf")
            .expect("a CSRF cookie: open a page first");
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        form.extend_from_slice(fields);
        Browser::send(self.client.post(self.url(path)).form(&form)).await
    }

    /// Signs up through the form; the browser is then signed in.
    pub async fn sign_up(&self, full_name: &str, email: &str) -> Page {
        self.get("/signup").await;
        let page = self
            .submit(
                "/signup",
                &[
                    ("full_name", full_name),
                    ("account_name", "Acme IT"),
                    ("email", email),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        page
    }
}
