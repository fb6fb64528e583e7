//! Liquidsoap's `output.icecast` as the source (Debian's liquidsoap), ffmpeg as the listener.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::process::{Command, Stdio};
use std::time::Duration;

use tidecast_tests::icecast::*;
use tidecast_tests::*;

both_backends! {
    async fn liquidsoap_source(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (_, mount, pw) = radio(&srv, "Liquid", json!({})).await;
        let port = srv.icecast.rsplit(':').next().unwrap();
        let script = store.dir.path().join("radio.liq");
        std::fs::write(&script, format!(
            "settings.init.allow_root.set(true)\n\
             settings.log.stdout.set(true)\n\
             output.icecast(%mp3(bitrate=128), host=\"127.0.0.1\", port={port}, password=\"{pw}\", \
             mount=\"/{mount}\", name=\"Liquid FM\", genre=\"Electronic\", description=\"From Liquidsoap\", sine(440.))\n"
        )).unwrap();
        let _liq = Proc(Command::new("liquidsoap").arg(&script)
            .stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null())
            .spawn().expect("liquidsoap is installed (scripts/test.sh installs it)"));
        wait_live(&srv, &mount);

        let (_, body) = raw_get(&srv, "/status-json.xsl", &[], 64 * 1024, Duration::from_secs(2));
        let v: Value = serde_json::from_slice(&body).unwrap();
        let s = &v["icestats"]["source"][0];
        assert_eq!(s["server_name"], "Liquid FM");
        assert_eq!(s["genre"], "Electronic");
        assert_eq!(s["server_description"], "From Liquidsoap");
        assert_eq!(s["bitrate"], 128, "ice-audio-info bitrate: {s}");

        let (head, audio) = raw_get(&srv, &format!("/{mount}"), &[], 48 * 1024, Duration::from_secs(5));
        assert!(head.contains("Content-Type: audio/mpeg") && head.contains("icy-name: Liquid FM"), "{head}");
        let file = store.dir.path().join("liquid.mp3");
        std::fs::write(&file, &audio).unwrap();
        let out = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&file).args(["-f", "null", "-"]).output().unwrap();
        assert!(out.status.success(), "{}", body_str(&out.stderr));
        let probe = Command::new("ffprobe").args(["-v", "error", "-show_entries", "stream=codec_name,channels", "-of", "csv=p=0"]).arg(&file).output().unwrap();
        assert_eq!(body_str(&probe.stdout).trim(), "mp3,2");
    }
}
