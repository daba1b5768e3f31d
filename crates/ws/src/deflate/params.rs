//! Negotiating permessage-deflate (RFC 7692 §5, §7): parse `Sec-WebSocket-Extensions`, choose
//! the first acceptable offer (server), build the offer and check the response (client). A
//! malformed offer is declined (the next one is tried); a malformed response fails the handshake.

/// The extension's settings on this endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Ask that the server reset its compression context after every message.
    pub server_no_context_takeover: bool,
    /// Ask that the client reset its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The largest LZ77 window (9–15) this endpoint compresses with. zlib cannot compress with a
    /// 256-byte window (8): when the peer limits us to 8, messages are sent uncompressed, which
    /// the extension allows.
    pub max_window_bits: u8,
    /// Messages shorter than this go uncompressed. Default 256 bytes.
    pub min_size: usize,
    /// zlib compression level 0–9. Default 3: most of the ratio for a fraction of level 6's CPU.
    pub level: u32,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            max_window_bits: 15,
            min_size: 256,
            level: 3,
        }
    }
}

/// What both ends agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The window the server may compress with.
    pub server_max_window_bits: u8,
    /// The window the client may compress with.
    pub client_max_window_bits: u8,
}

const NAME: &str = "permessage-deflate";

/// One parameter: name and optional value (quotes removed).
type Param<'a> = (&'a str, Option<&'a str>);

/// Splits a header value into extensions, each a name and its parameters.
fn parse_extensions(value: &str) -> Vec<(&str, Vec<Param<'_>>)> {
    value
        .split(',')
        .map(|ext| {
            let mut parts = ext.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                    None => (p, None),
                })
                .collect();
            (name, params)
        })
        .filter(|(name, _)| !name.is_empty())
        .collect()
}

/// A window size value: 8–15, plain digits.
fn window_bits(value: Option<&str>) -> Option<u8> {
    let v = value?;
    if v.is_empty() || v.len() > 2 || v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok().filter(|b| (8..=15).contains(b))
}

/// The parameters of one offer, validated; `None` declines the offer.
#[derive(Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

fn parse_offer(params: &[Param<'_>]) -> Option<Offer> {
    let mut offer = Offer::default();
    let mut seen = Vec::new();
    for &(name, value) in params {
        if seen.contains(&name) {
            return None;
        }
        seen.push(name);
        match name {
            "server_no_context_takeover" if value.is_none() => {
                offer.server_no_context_takeover = true
            }
            "client_no_context_takeover" if value.is_none() => {
                offer.client_no_context_takeover = true
            }
            "server_max_window_bits" => offer.server_max_window_bits = Some(window_bits(value)?),
            "client_max_window_bits" => {
                offer.client_max_window_bits = Some(match value {
                    None => None,
                    Some(_) => Some(window_bits(value)?),
                })
            }
            _ => return None,
        }
    }
    Some(offer)
}

/// Server side: picks the first acceptable permessage-deflate offer among the request's
/// `Sec-WebSocket-Extensions` values. Returns what was agreed and the response header value.
pub fn accept_offer<'a>(
    values: impl Iterator<Item = &'a [u8]>,
    config: &DeflateConfig,
) -> Option<(Negotiated, String)> {
    for value in values {
        let Ok(value) = std::str::from_utf8(value) else { continue };
        for (name, params) in parse_extensions(value) {
            if name != NAME {
                continue;
            }
            let Some(offer) = parse_offer(&params) else { continue };
            let negotiated = Negotiated {
                server_no_context_takeover: offer.server_no_context_takeover
                    || config.server_no_context_takeover,
                client_no_context_takeover: offer.client_no_context_takeover
                    || config.client_no_context_takeover,
                server_max_window_bits: offer
                    .server_max_window_bits
                    .unwrap_or(15)
                    .min(config.max_window_bits),
                client_max_window_bits: offer.client_max_window_bits.flatten().unwrap_or(15),
            };
            let mut response = String::from(NAME);
            if negotiated.server_no_context_takeover {
                response.push_str("; server_no_context_takeover");
            }
            if negotiated.client_no_context_takeover {
                response.push_str("; client_no_context_takeover");
            }
            if offer.server_max_window_bits.is_some() {
                response.push_str(&format!(
                    "; server_max_window_bits={}",
                    negotiated.server_max_window_bits
                ));
            }
            if let Some(Some(bits)) = offer.client_max_window_bits {
                response.push_str(&format!("; client_max_window_bits={bits}"));
            }
            return Some((negotiated, response));
        }
    }
    None
}

/// Client side: the offer header value.
pub fn offer(config: &DeflateConfig) -> String {
    let mut offer = format!("{NAME}; client_max_window_bits");
    if config.max_window_bits < 15 {
        offer = format!("{NAME}; client_max_window_bits={}", config.max_window_bits.max(8));
    }
    if config.server_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    offer
}

/// Client side: checks the server's `Sec-WebSocket-Extensions` response against our offer.
pub fn check_response(value: &[u8], config: &DeflateConfig) -> Result<Negotiated, &'static str> {
    let value = std::str::from_utf8(value).map_err(|_| "extension response is not UTF-8")?;
    let extensions = parse_extensions(value);
    let [(name, params)] = extensions.as_slice() else {
        return Err("more than one extension in the response");
    };
    if *name != NAME {
        return Err("server chose an extension that was not offered");
    }
    let offer = parse_offer(params).ok_or("malformed permessage-deflate response")?;
    let client_bits = match offer.client_max_window_bits {
        None => config.max_window_bits,
        Some(Some(bits)) => bits.min(config.max_window_bits),
        Some(None) => return Err("client_max_window_bits without a value in the response"),
    };
    if config.server_no_context_takeover && !offer.server_no_context_takeover {
        return Err("server ignored server_no_context_takeover");
    }
    Ok(Negotiated {
        server_no_context_takeover: offer.server_no_context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: offer.server_max_window_bits.unwrap_or(15),
        client_max_window_bits: client_bits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Option<(Negotiated, String)> {
        accept_offer(std::iter::once(v.as_bytes()), &DeflateConfig::default())
    }

    #[test]
    fn the_first_acceptable_offer_wins_and_bad_offers_are_declined() {
        let (n, resp) = accept("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(resp, "permessage-deflate");
        assert_eq!((n.server_max_window_bits, n.client_max_window_bits), (15, 15));
        let (n, resp) =
            accept("permessage-deflate; server_max_window_bits=10; client_no_context_takeover")
                .unwrap();
        assert_eq!(
            resp,
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10"
        );
        assert!(n.client_no_context_takeover);
        assert_eq!(n.server_max_window_bits, 10);
        // Bad values, duplicates, unknown parameters: declined, the next offer is taken.
        for bad in [
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover=1",
        ] {
            assert!(accept(bad).is_none(), "{bad}");
            let (_, resp) = accept(&format!("{bad}, permessage-deflate")).unwrap();
            assert_eq!(resp, "permessage-deflate", "fallback after {bad}");
        }
        assert!(accept("x-webkit-deflate-frame").is_none());
    }

    #[test]
    fn the_client_checks_what_the_server_answered() {
        let config = DeflateConfig::default();
        assert_eq!(offer(&config), "permessage-deflate; client_max_window_bits");
        let n = check_response(
            b"permessage-deflate; client_max_window_bits=9; server_no_context_takeover",
            &config,
        )
        .unwrap();
        assert_eq!(n.client_max_window_bits, 9);
        assert!(n.server_no_context_takeover);
        assert!(check_response(b"permessage-deflate; nope", &config).is_err());
        assert!(check_response(b"permessage-deflate, permessage-deflate", &config).is_err());
        assert!(check_response(b"other-extension", &config).is_err());
        assert!(check_response(b"permessage-deflate; client_max_window_bits", &config).is_err());
    }
}
