//! The SOCKS5 proxy every launched Chromium connects through when the net policy refuses
//! something (see [`super::guard`]).
//!
//! Chromium started with `--proxy-server=socks5://…` opens every TCP connection it makes for
//! web content — documents and subresources of every frame (cross-site frames in other
//! processes too), workers, WebSockets, popups, preconnects — as a SOCKS5 `CONNECT` naming the
//! host (Chromium sends the name, not an address, and resolves nothing itself), and with
//! `--proxy-bypass-list=<-loopback>` not even loopback hosts go direct. The proxy asks
//! [`RequestGuard::addresses`] for the host's checked addresses and connects to one of those,
//! so a name that resolves differently a moment later (DNS rebinding) gains nothing.
//!
//! It listens on 127.0.0.1 on a port of the operating system's choice, speaks only the no-
//! authentication method and `CONNECT` (what Chromium uses), and then copies bytes both ways
//! without looking at them (TLS stays end to end). A refused or failed connection is answered
//! with a SOCKS failure, which Chromium reports as `net::ERR_SOCKS_CONNECTION_FAILED`;
//! the reason goes to [`RequestGuard::connection_failed`], so the network log and a failed
//! navigation can name it.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_util::task::AbortOnDropHandle;

use super::guard::{RequestGuard, Unreachable};

/// How long a client may take to say where it wants to go.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to the destination may take (all its addresses together).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one address may take while others remain to be tried (an unreachable IPv6
/// route that drops packets would otherwise use up the whole budget).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// SOCKS5 reply codes (RFC 1928, section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Reply {
    Succeeded = 0,
    NotAllowed = 2,
    HostUnreachable = 4,
    ConnectionRefused = 5,
    CommandNotSupported = 7,
    AddressTypeNotSupported = 8,
}

/// A running proxy; it stops when dropped (connections under way keep their own tasks and
/// end when either side closes).
#[derive(Debug)]
pub struct SocksProxy {
    address: SocketAddr,
    _accept: AbortOnDropHandle<()>,
}

impl SocksProxy {
    /// Listens on a free loopback port and lets through what `guard` allows.
    pub async fn start(guard: Arc<RequestGuard>) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((client, _)) => {
                        tokio::spawn(serve(client, guard.clone()));
                    }
                    // Out of file descriptors, say: wait rather than spin.
                    Err(error) => {
                        tracing::warn!(%error, "the browser proxy cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        tracing::debug!(%address, "browser proxy listening");
        Ok(Self {
            address,
            _accept: AbortOnDropHandle::new(accept),
        })
    }

    /// The `--proxy-server` value for Chromium.
    pub fn server(&self) -> String {
        format!("socks5://{}", self.address)
    }
}

/// Serves one client connection: handshake, check, connect, then relay.
async fn serve(mut client: TcpStream, guard: Arc<RequestGuard>) {
    let _ = client.set_nodelay(true);
    let Ok(Ok((host, port))) =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut client)).await
    else {
        return;
    };
    let (reply, upstream) = match guard.addresses(&host, port).await {
        Err(Unreachable::Refused(reason)) => {
            tracing::info!(%host, port, %reason, "refused a browser connection");
            guard.connection_failed(&host, port, &reason, true);
            (Reply::NotAllowed, None)
        }
        Err(Unreachable::Unresolved(reason)) => {
            guard.connection_failed(&host, port, &reason, false);
            (Reply::HostUnreachable, None)
        }
        Ok(addresses) => match connect(&addresses, port).await {
            Ok(upstream) => (Reply::Succeeded, Some(upstream)),
            Err(error) => {
                let reply = match error.kind() {
                    std::io::ErrorKind::ConnectionRefused => Reply::ConnectionRefused,
                    _ => Reply::HostUnreachable,
                };
                guard.connection_failed(&host, port, &error.to_string(), false);
                (reply, None)
            }
        },
    };
    if answer(&mut client, reply).await.is_err() {
        return;
    }
    if let Some(mut upstream) = upstream {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

/// Reads the client's greeting and request; answers the greeting. `Ok` holds the requested
/// host (a name or an address, as text) and port; unsupported requests are answered here.
async fn handshake(
    client: &mut (impl AsyncRead + AsyncWrite + Unpin),
) -> std::io::Result<(String, u16)> {
    let unsupported = || std::io::Error::other("unsupported SOCKS request");
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods).await?;
    if head[0] != 5 || !methods.contains(&0) {
        // Version 5 with "no authentication" is all Chromium speaks.
        client.write_all(&[5, 0xFF]).await?;
        return Err(unsupported());
    }
    client.write_all(&[5, 0]).await?;
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut name = vec![0u8; usize::from(client.read_u8().await?)];
            client.read_exact(&mut name).await?;
            String::from_utf8(name).map_err(|_| unsupported())?
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).await?;
            Ipv6Addr::from(ip).to_string()
        }
        _ => {
            answer(client, Reply::AddressTypeNotSupported).await?;
            return Err(unsupported());
        }
    };
    let port = client.read_u16().await?;
    if request[1] != 1 {
        // Only CONNECT: no BIND, no UDP ASSOCIATE.
        answer(client, Reply::CommandNotSupported).await?;
        return Err(unsupported());
    }
    Ok((host, port))
}

/// Reads a handshake from `bytes` (the fuzz target's way in): the host and port asked for.
#[cfg(any(test, feature = "fuzzing"))]
pub async fn handshake_of(bytes: &[u8]) -> std::io::Result<(String, u16)> {
    let mut client = tokio::io::join(bytes, tokio::io::sink());
    handshake(&mut client).await
}

/// Sends the reply to a request (the bound address is not meaningful to Chromium: zeros).
async fn answer(client: &mut (impl AsyncWrite + Unpin), reply: Reply) -> std::io::Result<()> {
    client
        .write_all(&[5, reply as u8, 0, 1, 0, 0, 0, 0, 0, 0])
        .await
}

/// Connects to the first of `addresses` that answers, within [`CONNECT_TIMEOUT`] in all and
/// [`ATTEMPT_TIMEOUT`] for each address but the last.
async fn connect(addresses: &[IpAddr], port: u16) -> std::io::Result<TcpStream> {
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let mut last = std::io::Error::other("the host has no address");
    for (i, &ip) in addresses.iter().enumerate() {
        let until = if i + 1 < addresses.len() {
            deadline.min(tokio::time::Instant::now() + ATTEMPT_TIMEOUT)
        } else {
            deadline
        };
        match tokio::time::timeout_at(until, TcpStream::connect(SocketAddr::new(ip, port))).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(error)) => last = error,
            Err(_) => {
                last = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("{ip} did not answer in time"),
                );
            }
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net_policy::NetPolicy;

    /// Asks `proxy` for `host:port` as Chromium does (a name) and returns the reply code and
    /// the stream.
    async fn request(proxy: &SocksProxy, host: &str, port: u16) -> (u8, TcpStream) {
        let mut stream = TcpStream::connect(proxy.address).await.unwrap();
        stream.write_all(&[5, 1, 0]).await.unwrap();
        let mut chosen = [0u8; 2];
        stream.read_exact(&mut chosen).await.unwrap();
        assert_eq!(chosen, [5, 0]);
        let mut ask = vec![5, 1, 0, 3, host.len() as u8];
        ask.extend_from_slice(host.as_bytes());
        ask.extend_from_slice(&port.to_be_bytes());
        stream.write_all(&ask).await.unwrap();
        let mut reply = [0u8; 10];
        stream.read_exact(&mut reply).await.unwrap();
        (reply[1], stream)
    }

    #[tokio::test]
    async fn the_proxy_relays_what_the_policy_allows_and_refuses_the_rest() {
        let guard = RequestGuard::new(NetPolicy {
            allow_private: true,
            deny_hosts: vec!["localhost".into()],
            ..Default::default()
        })
        .unwrap();
        let proxy = SocksProxy::start(guard.clone()).await.unwrap();
        assert!(proxy.server().starts_with("socks5://127.0.0.1:"));
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = echo.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut peer, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = peer.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });

        // Allowed: bytes go both ways.
        let (reply, mut stream) = request(&proxy, "127.0.0.1", port).await;
        assert_eq!(reply, Reply::Succeeded as u8);
        stream.write_all(b"ping").await.unwrap();
        let mut back = [0u8; 4];
        stream.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"ping");

        // The same server under a denied name: refused, and the reason is kept.
        let (reply, mut stream) = request(&proxy, "localhost", port).await;
        assert_eq!(reply, Reply::NotAllowed as u8);
        assert_eq!(stream.read(&mut back).await.unwrap(), 0, "closed");
        let last = guard.last_refusal().unwrap();
        assert!(
            last.starts_with(&format!("refused by the net policy (localhost:{port}: "))
                && last.contains("deny list"),
            "{last}"
        );

        // Nothing listening: refused by the host, said so.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let (reply, _) = request(&proxy, "127.0.0.1", closed_port).await;
        assert_eq!(reply, Reply::ConnectionRefused as u8);
        let last = guard.last_refusal().unwrap();
        assert!(
            last.starts_with(&format!("127.0.0.1:{closed_port} cannot be reached: ")),
            "{last}"
        );
    }

    #[tokio::test]
    async fn a_host_is_reached_at_the_first_of_its_addresses_that_answers() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Nothing listens on 127.0.0.2 at that port: refused, and the next address is tried.
        let addresses: [IpAddr; 2] = ["127.0.0.2".parse().unwrap(), Ipv4Addr::LOCALHOST.into()];
        let stream = connect(&addresses, port).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
        let error = connect(&addresses[..1], port).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test]
    async fn private_addresses_are_refused_by_name_and_by_address() {
        let guard = RequestGuard::new(NetPolicy::default()).unwrap();
        let proxy = SocksProxy::start(guard).await.unwrap();
        for host in ["localhost", "127.0.0.1", "169.254.169.254", "::1", "0x7f.1"] {
            let (reply, _) = request(&proxy, host, 80).await;
            assert_eq!(reply, Reply::NotAllowed as u8, "{host}");
        }
        // A client that offers only password authentication, or asks for BIND, is turned away.
        let mut stream = TcpStream::connect(proxy.address).await.unwrap();
        stream.write_all(&[5, 1, 2]).await.unwrap();
        let mut chosen = [0u8; 2];
        stream.read_exact(&mut chosen).await.unwrap();
        assert_eq!(chosen, [5, 0xFF]);
        let mut stream = TcpStream::connect(proxy.address).await.unwrap();
        stream
            .write_all(&[5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80])
            .await
            .unwrap();
        let mut reply = [0u8; 12];
        stream.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply[..2], &[5, 0]);
        assert_eq!(reply[3], Reply::CommandNotSupported as u8);
    }

    #[tokio::test]
    async fn garbage_from_a_client_is_turned_away_and_the_next_client_served() {
        let guard = RequestGuard::new(NetPolicy {
            allow_private: true,
            ..Default::default()
        })
        .unwrap();
        let proxy = SocksProxy::start(guard).await.unwrap();
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = echo.local_addr().unwrap().port();
        tokio::spawn(async move { while echo.accept().await.is_ok() {} });
        let mut junk = vec![0xA5u8; 10_000];
        junk[0] = 5;
        let garbage: [&[u8]; 7] = [
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            &[4, 1, 0, 80, 127, 0, 0, 1, 0],
            &[5],
            &[5, 1, 0, 5, 1, 0, 9, 1, 2, 3, 4, 0, 80],
            &[5, 1, 0, 5, 1, 0, 3, 255, 0xFF, 0xFE],
            &[5, 1, 0, 5, 1, 0, 3, 2, 0xFF, 0xFE, 0, 80],
            &junk,
        ];
        for bytes in garbage {
            let mut stream = TcpStream::connect(proxy.address).await.unwrap();
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
            // Answered with a refusal or closed: never relayed anywhere.
            let mut reply = Vec::new();
            let read = tokio::time::timeout(HANDSHAKE_TIMEOUT * 2, stream.read_to_end(&mut reply));
            assert!(
                read.await.is_ok(),
                "{:?} held the connection",
                &bytes[..bytes.len().min(8)]
            );
            assert!(reply.len() <= 12, "{reply:?}");
            if reply.len() >= 4 {
                assert_ne!(reply[3], Reply::Succeeded as u8, "{reply:?}");
            }
        }
        let (reply, _) = request(&proxy, "127.0.0.1", port).await;
        assert_eq!(reply, Reply::Succeeded as u8);
    }
}
