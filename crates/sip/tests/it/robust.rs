//! Malformed messages and overload, sent raw over UDP.

use std::time::Duration;

use tokio::net::UdpSocket;

use super::*;

async fn exchange(sock: &UdpSocket, to: u16, msg: &[u8], wait: Duration) -> Vec<String> {
    sock.send_to(msg, ("127.0.0.1", to)).await.unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    while let Ok(Ok((n, _))) = tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

fn invite(number: &str, call_id: &str, port: u16, sdp: &str) -> String {
    format!(
        "INVITE sip:{number}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id}\r\nFrom: <sip:+12025550101@127.0.0.1>;tag=a{call_id}\r\nTo: <sip:{number}@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:{port}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n";

fn status(responses: &[String]) -> Vec<String> {
    responses
        .iter()
        .map(|r| r.lines().next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn malformed_messages_are_dropped_or_refused_and_nothing_leaks() {
    let center = Center::start(acd_config(5_000), |c| c.max_calls = 1).await;
    let sip = center.port();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap().port();
    let quiet = Duration::from_millis(300);
    // Garbage, a truncated request line, headers missing, an absurd Content-Length.
    for junk in [
        &b"\x00\xff\xfe garbage"[..],
        b"INVITE\r\n\r\n",
        b"INVITE sip:1000@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\n\r\n",
        b"OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\nContent-Length: 99999999\r\n\r\n",
        &[b'A'; 4000][..],
    ] {
        let r = exchange(&sock, sip, junk, quiet).await;
        assert!(
            r.iter().all(|m| m.starts_with("SIP/2.0 4")),
            "{:?} got {:?}",
            String::from_utf8_lossy(junk),
            status(&r)
        );
    }
    // SDP without a usable codec: 488; a number the center does not have: 404.
    let r = exchange(
        &sock,
        sip,
        invite(
            "1000",
            "bad-sdp",
            me,
            &SDP.replace("RTP/AVP 0", "RTP/AVP 18"),
        )
        .as_bytes(),
        quiet,
    )
    .await;
    assert!(
        status(&r).iter().any(|s| s.starts_with("SIP/2.0 488")),
        "{:?}",
        status(&r)
    );
    let r = exchange(
        &sock,
        sip,
        invite("9999", "no-number", me, SDP).as_bytes(),
        quiet,
    )
    .await;
    assert!(
        status(&r).iter().any(|s| s.starts_with("SIP/2.0 404")),
        "{:?}",
        status(&r)
    );
    // The server still answers.
    let options = format!(
        "OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKopt\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:1000@127.0.0.1>\r\nCall-ID: opt\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let r = exchange(&sock, sip, options.as_bytes(), quiet).await;
    assert!(
        status(&r).iter().any(|s| s == "SIP/2.0 200 OK"),
        "{:?}",
        status(&r)
    );

    // Capacity: one call is queued; the next INVITE gets 503 with Retry-After.
    let r = exchange(
        &sock,
        sip,
        invite("1000", "first", me, SDP).as_bytes(),
        quiet,
    )
    .await;
    assert!(
        status(&r).iter().any(|s| s.starts_with("SIP/2.0 183")),
        "{:?}",
        status(&r)
    );
    let r = exchange(
        &sock,
        sip,
        invite("1000", "second", me, SDP).as_bytes(),
        quiet,
    )
    .await;
    let refused = r
        .iter()
        .find(|m| m.starts_with("SIP/2.0 503"))
        .expect("503");
    assert!(refused.contains("Retry-After: 5"), "{refused}");
    assert_eq!(center.tel.stats().calls, 1);
    // The first caller hangs up; everything is released.
    let cancel = format!(
        "CANCEL sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKfirst\r\nFrom: <sip:+12025550101@127.0.0.1>;tag=afirst\r\nTo: <sip:1000@127.0.0.1>\r\nCall-ID: first\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let r = exchange(&sock, sip, cancel.as_bytes(), quiet).await;
    assert!(
        status(&r).iter().any(|s| s.starts_with("SIP/2.0 487")),
        "{:?}",
        status(&r)
    );
    center.stop().await;
}
