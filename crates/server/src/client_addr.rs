//! The address a request came from, for the per-address limits (sign-in, sign-up) and the
//! logs. Behind a reverse proxy every connection comes from the proxy, so the proxies named in
//! `FLOWPILOT_TRUSTED_PROXIES` are believed about the client in `X-Forwarded-For`; nobody
//! else is, and no other header is, since any client can send one.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The client's address as this server believes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        // Set by `resolve` on every request the server accepts; a request built by hand in a
        // test has no peer and counts as one unknown client.
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .unwrap_or(ClientAddr(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// Middleware: works out the client once per request and records it on the request's span.
pub async fn resolve(trusted: std::sync::Arc<[IpNet]>, mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let client = client_of(peer.ip(), req.headers(), &trusted);
        tracing::Span::current().record("client", tracing::field::display(client));
        req.extensions_mut().insert(ClientAddr(client));
    }
    next.run(req).await
}

/// The peer, unless it is a trusted proxy: then the nearest address in `X-Forwarded-For` that
/// is not a trusted proxy (each proxy appends the address it got the request from, so the
/// entries left of the last untrusted one could have been written by the client).
pub fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for entry in text.split(',') {
            match parse_hop(entry.trim()) {
                Some(ip) => hops.push(ip),
                // A hop that is not an address: nothing left of it can be believed.
                None => return peer,
            }
        }
    }
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

/// `203.0.113.7`, `2001:db8::1`, or with a port as some proxies write it
/// (`203.0.113.7:51234`, `[2001:db8::1]:51234`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    entry.parse::<SocketAddr>().ok().map(|s| s.ip())
}

/// `FLOWPILOT_TRUSTED_PROXIES`: comma-separated addresses or CIDRs.
pub fn parse_trusted(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| item.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = parse_trusted("10.0.0.0/8").unwrap();
        let headers = forwarded(&["198.51.100.9"]);
        assert_eq!(
            client_of(ip("203.0.113.5"), &headers, &trusted),
            ip("203.0.113.5")
        );
        assert_eq!(client_of(ip("10.0.0.2"), &headers, &[]), ip("10.0.0.2"));
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_last_untrusted_hop() {
        let trusted = parse_trusted("10.0.0.0/8, 192.0.2.1").unwrap();
        // The client forged the first entry; the edge proxy (192.0.2.1) saw 198.51.100.9.
        let headers = forwarded(&["6.6.6.6, 198.51.100.9", "192.0.2.1"]);
        assert_eq!(
            client_of(ip("10.0.0.2"), &headers, &trusted),
            ip("198.51.100.9")
        );
        let with_port = forwarded(&["[2001:db8::7]:51234"]);
        assert_eq!(
            client_of(ip("10.0.0.2"), &with_port, &trusted),
            ip("2001:db8::7")
        );
    }

    #[test]
    fn a_trusted_proxy_that_forwards_nothing_or_garbage_is_the_client() {
        let trusted = parse_trusted("127.0.0.1").unwrap();
        assert_eq!(
            client_of(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
        let garbage = forwarded(&["198.51.100.9, not-an-address"]);
        assert_eq!(
            client_of(ip("127.0.0.1"), &garbage, &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_setting_takes_addresses_and_cidrs_and_names_a_bad_entry() {
        assert_eq!(parse_trusted("").unwrap(), Vec::<IpNet>::new());
        assert_eq!(
            parse_trusted("127.0.0.1, ::1, 10.1.0.0/16").unwrap().len(),
            3
        );
        assert_eq!(
            parse_trusted("10.0.0.0/8, proxy.lan").unwrap_err(),
            "proxy.lan"
        );
    }
}
