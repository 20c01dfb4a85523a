//! Audio both ways between two real softphones (baresip): the caller's phone sends a 1,000 Hz
//! tone in PCMU, the agent's phone (registered with digest authentication, answering
//! automatically) a 700 Hz tone in PCMA; each records what it hears, and each must hear the
//! other's tone through the center's bridge (which transcodes between the two laws).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use switchboard_media::tone::relative_power;
use tokio::process::{Child, Command};

use super::*;
use switchboard_sip::Side;

const CALLER_TONE: u32 = 1_000;
const AGENT_TONE: u32 = 700;

fn phone(dir: &Path, name: &str, tone: u32, account: &str, args: &[&str]) -> (Child, PathBuf) {
    let home = dir.join(name);
    std::fs::create_dir_all(&home).unwrap();
    let port = free_port();
    // aufile plays an 8 kHz WAV (ausine in this baresip makes 48 kHz only).
    let wav = home.join("tone.wav");
    let samples = switchboard_media::tone::tone(&[f64::from(tone)], 0.3, 20_000);
    switchboard_media::sound::write_wav(&wav, &samples).unwrap();
    std::fs::write(
        home.join("config"),
        format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{port}\naudio_player aubridge,{name}-out\n\
             audio_alert aubridge,{name}-alert\naudio_source aufile,{}\n\
             module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\n\
             module aubridge.so\nmodule sndfile.so\nmodule account.so\nmodule menu.so\n\
             snd_path {}\n",
            wav.display(),
            home.display()
        ),
    )
    .unwrap();
    std::fs::write(home.join("accounts"), format!("{account}\n")).unwrap();
    let child = Command::new("baresip")
        .arg("-f")
        .arg(&home)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            std::fs::File::create(home.join("out.txt")).unwrap(),
        ))
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("baresip is installed (Debian package baresip)");
    (child, home)
}

/// The samples a phone decoded from what it received (sndfile's `*-dec.wav`).
fn heard(home: &Path) -> Vec<i16> {
    let file = std::fs::read_dir(home)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| {
            panic!(
                "no recording in {}: {}",
                home.display(),
                std::fs::read_to_string(home.join("out.txt")).unwrap_or_default()
            )
        });
    // Read the samples after the data chunk's header whatever its length field says: a phone
    // still in a call has not written the final length yet.
    let bytes = std::fs::read(&file).unwrap();
    let start = bytes
        .windows(4)
        .position(|w| w == b"data")
        .map_or(44, |p| p + 8);
    bytes[start.min(bytes.len())..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

#[tokio::test]
async fn two_softphones_hear_each_other_through_the_center() {
    let center = Center::start(acd_config(10_000), |_| {}).await;
    let sip = center.port();
    let dir = center.dir.path().to_owned();
    let (mut agent, agent_home) = phone(
        &dir,
        "agent",
        AGENT_TONE,
        &format!(
            "<sip:ct01@center.test>;auth_pass={PASSWORD};outbound=\"sip:127.0.0.1:{sip}\";regint=60;answermode=auto;audio_codecs=PCMA"
        ),
        &[],
    );
    // Up to 20 s: baresip starts slowly on a loaded machine (a CI run once saw more than 5 s).
    for _ in 0..400 {
        if center.tel.stats().registered == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        center.tel.stats().registered,
        1,
        "the agent's phone registered"
    );
    center.log_in(1).await;
    let dial = format!("/dial sip:1000@127.0.0.1:{sip}");
    let (mut caller, caller_home) = phone(
        &dir,
        "caller",
        CALLER_TONE,
        "<sip:+12025550100@127.0.0.1>;regint=0;audio_codecs=PCMU",
        &["-e", &dial, "-t", "7"],
    );
    tokio::time::timeout(Duration::from_secs(20), caller.wait())
        .await
        .expect("the caller's phone quits")
        .unwrap();
    center.assert_released().await;
    let _ = agent.kill().await;

    let at_caller = heard(&caller_home);
    let at_agent = heard(&agent_home);
    // The last two seconds: the conversation, after any ringback.
    let tail = |s: &[i16]| s[s.len().saturating_sub(16_000)..].to_vec();
    let (c, a) = (tail(&at_caller), tail(&at_agent));
    assert!(
        c.len() >= 8_000 && a.len() >= 8_000,
        "{} {}",
        c.len(),
        a.len()
    );
    let caller_hears = relative_power(&c, f64::from(AGENT_TONE));
    let agent_hears = relative_power(&a, f64::from(CALLER_TONE));
    assert!(
        caller_hears > 0.5,
        "the caller hears the agent: {caller_hears}"
    );
    assert!(
        agent_hears > 0.5,
        "the agent hears the caller: {agent_hears}"
    );
    assert!(
        relative_power(&c, f64::from(CALLER_TONE)) < 0.1,
        "not an echo"
    );
    let cdrs = center.cdrs();
    assert_eq!(outcomes(&cdrs, Side::Caller), vec![Outcome::Completed]);
    center.stop().await;
}
