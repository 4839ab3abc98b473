//! The terminal's one connection to its host: connect (and reconnect after a drop), frame
//! each request with the profile's TPDU and UnionPay header, and wait for the matching
//! response through [`iso8583_wire::Client`], which pairs responses with requests by MTI
//! class, terminal id and trace number (DESIGN §4).
//!
//! The link never retries a request: what a lost answer means (a reversal, a settlement left
//! pending) is the settlement engine's decision. It only reports what happened: an answer, no
//! answer in time, a dropped connection, or a host that cannot be reached at all.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use iso8583_codec::Spec;
use iso8583_wire::{
    AppHeader, Client, ClientError, ClientOptions, FrameConfig, Request, Response, Tpdu,
};
use tokio::net::TcpStream;

use crate::tap::{ConnInfo, FrameTap, TapStream};

/// What became of one request.
#[derive(Debug)]
pub enum Reply {
    /// The matching response.
    Answer(Response),
    /// No matching response in time; the connection stays open.
    NoAnswer,
    /// The answer's TPDU was not the request's with the addresses swapped: it came from
    /// another NII and is treated as no answer.
    WrongTpdu,
    /// The connection ended before an answer came; the next request reconnects.
    Disconnected,
    /// No connection could be made.
    Unreachable(String),
}

/// A host connection, made when first needed.
pub struct Link {
    addr: String,
    frame: FrameConfig,
    spec: &'static Spec,
    tpdu: Tpdu,
    connect_timeout: Duration,
    connect_tries: u8,
    tap: Option<Arc<dyn FrameTap>>,
    client: Option<Client>,
    connections: u64,
}

impl Link {
    /// A link to `addr` (`host:port`); nothing is connected yet.
    pub fn new(
        addr: &str,
        frame: FrameConfig,
        spec: &'static Spec,
        tpdu: Tpdu,
        connect: (Duration, u8),
        tap: Option<Arc<dyn FrameTap>>,
    ) -> Link {
        Link {
            addr: addr.to_owned(),
            frame,
            spec,
            tpdu,
            connect_timeout: connect.0,
            connect_tries: connect.1.max(1),
            tap,
            client: None,
            connections: 0,
        }
    }

    /// The host address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// True while a connection is open.
    pub fn is_connected(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// Connections opened so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// Connects unless connected; each try waits at most the connect timeout.
    pub async fn connect(&mut self) -> Result<(), String> {
        if self.is_connected() {
            return Ok(());
        }
        let mut last = String::new();
        for attempt in 1..=self.connect_tries {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.addr)).await {
                Ok(Ok(stream)) => return self.attach(stream),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = format!("no connection within {:?}", self.connect_timeout),
            }
            tracing::debug!(addr = %self.addr, attempt, error = %last, "connect failed");
        }
        Err(format!("{}: {last}", self.addr))
    }

    fn attach(&mut self, stream: TcpStream) -> Result<(), String> {
        // A terminal sends one small frame and waits: Nagle's delay would only add latency.
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        self.connections += 1;
        let tap = match (&self.tap, stream.local_addr(), stream.peer_addr()) {
            (Some(tap), Ok(local), Ok(peer)) => Some((
                tap.clone(),
                ConnInfo {
                    id: self.connections,
                    local,
                    peer,
                },
            )),
            _ => None,
        };
        // A reply must come back from the NII it was sent to, addresses swapped (DESIGN §4).
        let options = ClientOptions::new().tpdu(self.tpdu).check_tpdu(true);
        let io = TapStream::new(stream, tap);
        // The client's reader task outlives the command that connected: its span hangs off a
        // connection span of its own, not off that command's (a sale's answer is not logged
        // under `command="sign_on"`).
        let span = tracing::debug_span!(
            parent: None,
            "connection",
            addr = %self.addr,
            id = self.connections
        );
        let client =
            span.in_scope(|| Client::with_options(io, self.frame.clone(), self.spec, options));
        self.client = Some(client);
        tracing::debug!(addr = %self.addr, connection = self.connections, "connected");
        Ok(())
    }

    /// Drops the connection (a power cycle, or a host that asked for it) and returns once it
    /// is closed, so the host and a tap see it end before any later connection opens.
    pub async fn disconnect(&mut self) {
        if let Some(client) = self.client.take() {
            client.close().await;
        }
    }

    /// Sends `body` and waits at most `timeout` for its response.
    pub async fn exchange(
        &mut self,
        body: Bytes,
        header: Option<AppHeader>,
        timeout: Duration,
    ) -> Reply {
        if let Err(why) = self.connect().await {
            return Reply::Unreachable(why);
        }
        let Some(client) = &self.client else {
            return Reply::Disconnected;
        };
        let mut request = Request::new(body);
        if let Some(header) = header {
            request = request.with_header(header);
        }
        match client.send_timeout(request, timeout).await {
            Ok(response) => Reply::Answer(response),
            Err(ClientError::Timeout { .. }) => Reply::NoAnswer,
            Err(error @ ClientError::WrongTpdu { .. }) => {
                tracing::debug!(%error, "answer from another NII, not trusted");
                Reply::WrongTpdu
            }
            Err(error @ (ClientError::Send(_) | ClientError::Disconnected { .. })) => {
                tracing::debug!(%error, "connection lost");
                self.disconnect().await;
                Reply::Disconnected
            }
            Err(error) => {
                // The engine built a message the client cannot match: our invariant, not the
                // host's doing. The engine sees it as unanswered, which is always safe.
                tracing::error!(%error, "request refused by the client");
                Reply::NoAnswer
            }
        }
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("addr", &self.addr)
            .field("connected", &self.is_connected())
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}
