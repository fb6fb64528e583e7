//! A radio station drawn as video, for video platforms: a background (a still picture, a
//! looping clip, or a plain colour) with the station's name and the title playing drawn
//! on it (libavfilter's drawtext), at a steady frame rate paced by the station's audio,
//! encoded by a ladder rung ([`Rendition`]: libx264, keyframes every two seconds) with the
//! station's audio as AAC, on a thread of its own.
//!
//! A still is drawn once per title and the same picture encoded again and again, which
//! x264 turns into near-empty frames; a clip goes through the text overlay frame by frame
//! (it plays at the output frame rate, looping at its end).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use ffmpeg_next as ff;
use tidecast_engine::media::{AudioConfig, Frame, StreamConfig, TIMESCALE};
use tidecast_engine::transcode::{
    RadioVideoInput, RadioVideoJob, RenditionOutput, RenditionSpec, RenditionStats, TranscodeError,
};

use crate::audio::AudioLadder;
use crate::decode::{AudioDecoder, timeline};
use crate::ffi;
use crate::rendition::{Rendition, Settings, Work};

/// Audio frames queued for the thread (a few seconds); beyond, frames are dropped.
const QUEUE: usize = 256;
/// Seconds between keyframes (video platforms ask for 2 to 4).
const KEYFRAME_SECS: u32 = 2;
/// Pictures and clips larger than this a side are refused.
const MAX_SIDE: u32 = 8192;
/// Titles longer than this are cut (with an ellipsis) so they fit the picture.
const MAX_TITLE: usize = 70;

const FONT_BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

static NEXT_DIR: AtomicU64 = AtomicU64::new(1);

enum Msg {
    Audio(Frame),
    Title(String),
}

struct Input {
    tx: SyncSender<Msg>,
    dropped: u64,
}

impl RadioVideoInput for Input {
    fn push(&mut self, frame: &Frame) -> bool {
        match self.tx.try_send(Msg::Audio(frame.clone())) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                if self.dropped == 0 {
                    tracing::warn!("radio as video is behind: audio dropped");
                }
                self.dropped += 1;
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn set_title(&mut self, title: &str) {
        let _ = self.tx.try_send(Msg::Title(title.to_owned()));
    }
}

fn err(what: &str) -> impl Fn(ff::Error) -> TranscodeError + '_ {
    move |e| TranscodeError::failed(what.to_owned(), e)
}

/// The two lines of text, in files drawtext reads (no escaping of titles into a filter
/// description, which has two levels of quoting and no room for mistakes).
struct Texts {
    dir: PathBuf,
}

impl Texts {
    fn new(station: &str) -> Result<Self, TranscodeError> {
        let dir = std::env::temp_dir().join(format!(
            "tidecast-radio-video-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| TranscodeError::io("cannot make a folder for the text", e))?;
        let me = Self { dir };
        me.write("station.txt", station)?;
        me.write("title.txt", "")?;
        Ok(me)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write(&self, name: &str, text: &str) -> Result<(), TranscodeError> {
        let clean: String = text.chars().filter(|c| !c.is_control()).collect();
        let clean = if clean.chars().count() > MAX_TITLE {
            format!("{}…", clean.chars().take(MAX_TITLE - 1).collect::<String>())
        } else {
            clean
        };
        // drawtext refuses an empty text.
        let clean = if clean.trim().is_empty() {
            " ".to_owned()
        } else {
            clean
        };
        std::fs::write(self.path(name), clean)
            .map_err(|e| TranscodeError::io("cannot write the text", e))
    }
}

impl Drop for Texts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the text is drawn on.
enum Background {
    Plain(ff::frame::Video),
    Still(ff::frame::Video),
    Clip {
        input: ff::format::context::Input,
        decoder: ff::decoder::Video,
        stream: usize,
    },
}

fn plain(width: u32, height: u32) -> ff::frame::Video {
    let mut f = ff::frame::Video::new(ff::format::Pixel::YUV420P, width, height);
    // A dark blue-grey.
    for (plane, value) in [(0, 32u8), (1, 136), (2, 120)] {
        f.data_mut(plane).fill(value);
    }
    f
}

impl Background {
    fn open(path: Option<&Path>, width: u32, height: u32) -> Result<Self, TranscodeError> {
        let Some(path) = path else {
            return Ok(Self::Plain(plain(width, height)));
        };
        let mut input = ff::format::input(&path).map_err(err("the picture does not open"))?;
        let stream = input
            .streams()
            .best(ff::media::Type::Video)
            .ok_or_else(|| TranscodeError::input("the picture has no image in it"))?;
        let index = stream.index();
        let still = stream.frames() <= 1;
        let ctx = ff::codec::context::Context::from_parameters(stream.parameters())
            .map_err(err("the picture's decoder"))?;
        let mut decoder = ctx
            .decoder()
            .video()
            .map_err(err("the picture's decoder"))?;
        let first = next_frame(&mut input, &mut decoder, index)?
            .ok_or_else(|| TranscodeError::input("the picture has no image in it"))?;
        if first.width() > MAX_SIDE || first.height() > MAX_SIDE {
            return Err(TranscodeError::input(
                "the picture is over 8192 pixels a side",
            ));
        }
        if still {
            Ok(Self::Still(first))
        } else {
            Ok(Self::Clip {
                input,
                decoder,
                stream: index,
            })
        }
    }
}

/// The next decoded picture of `stream` (`None` at the end).
fn next_frame(
    input: &mut ff::format::context::Input,
    decoder: &mut ff::decoder::Video,
    stream: usize,
) -> Result<Option<ff::frame::Video>, TranscodeError> {
    let mut frame = ff::frame::Video::empty();
    loop {
        if decoder.receive_frame(&mut frame).is_ok() {
            return Ok(Some(frame));
        }
        let mut packet = ff::Packet::empty();
        match packet.read(input) {
            Ok(()) => {
                if packet.stream() == stream {
                    decoder
                        .send_packet(&packet)
                        .map_err(err("decoding the clip"))?;
                }
            }
            Err(ff::Error::Eof) => {
                let _ = decoder.send_eof();
                return Ok(decoder.receive_frame(&mut frame).is_ok().then_some(frame));
            }
            Err(e) => return Err(err("reading the clip")(e)),
        }
    }
}

/// Draws the pictures: background + text → `width`×`height` yuv420p.
struct Painter {
    background: Background,
    texts: Texts,
    width: u32,
    height: u32,
    graph: Option<(ff::filter::Graph, (u32, u32, ff::format::Pixel))>,
    /// A still's drawn picture, until the title changes.
    drawn: Option<ff::frame::Video>,
}

fn font(path: &str) -> String {
    if Path::new(path).exists() {
        format!("fontfile={path}")
    } else {
        "font=Sans".to_owned()
    }
}

impl Painter {
    fn graph_for(&self, bg: &ff::frame::Video) -> Result<ff::filter::Graph, ff::Error> {
        let fmt = bg
            .format()
            .descriptor()
            .map(|d| d.name())
            .ok_or(ff::Error::InvalidData)?;
        let tb = timeline();
        let args = format!(
            "video_size={}x{}:pix_fmt={fmt}:time_base={}/{}:pixel_aspect=1/1",
            bg.width(),
            bg.height(),
            tb.numerator(),
            tb.denominator()
        );
        let buffer = ff::filter::find("buffer").ok_or(ff::Error::FilterNotFound)?;
        let sink = ff::filter::find("buffersink").ok_or(ff::Error::FilterNotFound)?;
        let mut graph = ff::filter::Graph::new();
        graph.add(&buffer, "in", &args)?;
        graph.add(&sink, "out", "")?;
        let (w, h) = (self.width, self.height);
        let station = self.texts.path("station.txt");
        let title = self.texts.path("title.txt");
        let spec = format!(
            "scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=0x182030,format=yuv420p,\
             drawtext={bold}:textfile={station}:expansion=none:fontsize={big}:fontcolor=white:box=1:boxcolor=black@0.45:boxborderw={pad}:x=(w-text_w)/2:y=h*0.30,\
             drawtext={regular}:textfile={title}:expansion=none:fontsize={small}:fontcolor=white:box=1:boxcolor=black@0.45:boxborderw={pad}:x=(w-text_w)/2:y=h*0.62",
            bold = font(FONT_BOLD),
            regular = font(FONT),
            station = station.display(),
            title = title.display(),
            big = (h / 11).max(8),
            small = (h / 20).max(6),
            pad = (h / 60).max(2),
        );
        graph.output("in", 0)?.input("out", 0)?.parse(&spec)?;
        graph.validate()?;
        Ok(graph)
    }

    fn draw(&mut self, bg: &ff::frame::Video) -> Result<ff::frame::Video, TranscodeError> {
        let key = (bg.width(), bg.height(), bg.format());
        if self.graph.as_ref().is_none_or(|(_, k)| *k != key) {
            let g = self.graph_for(bg).map_err(err("the text overlay"))?;
            self.graph = Some((g, key));
        }
        let Some((graph, _)) = self.graph.as_mut() else {
            return Err(TranscodeError::missing("the text overlay did not start"));
        };
        let mut input = ffi::share(bg).map_err(err("the background"))?;
        input.set_pts(Some(0));
        graph
            .get("in")
            .ok_or_else(|| TranscodeError::missing("the text overlay has no input"))?
            .source()
            .add(&input)
            .map_err(err("the text overlay"))?;
        let mut out = ff::frame::Video::empty();
        graph
            .get("out")
            .ok_or_else(|| TranscodeError::missing("the text overlay has no output"))?
            .sink()
            .frame(&mut out)
            .map_err(err("the text overlay"))?;
        Ok(out)
    }

    fn set_title(&mut self, title: &str) -> Result<(), TranscodeError> {
        self.texts.write("title.txt", title)?;
        // drawtext reads its text file once: a new graph, a new still.
        self.graph = None;
        self.drawn = None;
        Ok(())
    }

    /// The picture at `pts` (90 kHz).
    fn picture(&mut self, pts: i64) -> Result<ff::frame::Video, TranscodeError> {
        let clip_frame = match &mut self.background {
            Background::Clip {
                input,
                decoder,
                stream,
            } => Some(match next_frame(input, decoder, *stream)? {
                Some(f) => f,
                None => {
                    // The clip ended: from its start again.
                    input.seek(0, ..).map_err(err("looping the clip"))?;
                    decoder.flush();
                    next_frame(input, decoder, *stream)?
                        .ok_or_else(|| TranscodeError::input("the clip has no pictures"))?
                }
            }),
            Background::Plain(_) | Background::Still(_) => None,
        };
        let mut out = match clip_frame {
            Some(frame) => self.draw(&frame)?,
            None => {
                if self.drawn.is_none() {
                    let bg = match &self.background {
                        Background::Plain(f) | Background::Still(f) => {
                            ffi::share(f).map_err(err("the background"))?
                        }
                        Background::Clip { .. } => {
                            return Err(TranscodeError::input("a clip has no still picture"));
                        }
                    };
                    let drawn = self.draw(&bg)?;
                    self.drawn = Some(drawn);
                }
                match &self.drawn {
                    Some(d) => ffi::share(d).map_err(err("the picture"))?,
                    None => return Err(TranscodeError::input("the picture was not drawn")),
                }
            }
        };
        out.set_pts(Some(pts));
        Ok(out)
    }
}

fn channels(audio: &AudioConfig) -> u8 {
    match audio {
        AudioConfig::Aac(a) => a.channels.max(1),
        AudioConfig::Mp3 { channels, .. } => (*channels).max(1),
    }
}

pub fn start(
    job: RadioVideoJob,
    out: Box<dyn RenditionOutput>,
) -> Result<Box<dyn RadioVideoInput>, TranscodeError> {
    if !job.width.is_multiple_of(2) || !job.height.is_multiple_of(2) || job.fps == 0 {
        return Err(TranscodeError::input(
            "the size must be even and the frame rate above 0",
        ));
    }
    let background = Background::open(job.background.as_deref(), job.width, job.height)?;
    let texts = Texts::new(&job.station)?;
    texts.write("title.txt", &job.title)?;
    let mut painter = Painter {
        background,
        texts,
        width: job.width,
        height: job.height,
        graph: None,
        drawn: None,
    };
    // The first picture now, so a font or filter problem is the caller's error.
    painter.picture(0)?;
    let decoder = AudioDecoder::new(&StreamConfig {
        video: None,
        audio: Some(job.audio.clone()),
    })
    .map_err(TranscodeError::from)?
    .ok_or_else(|| TranscodeError::input("no audio to decode"))?;
    let aac = AudioLadder::new(
        job.audio.sample_rate(),
        channels(&job.audio),
        &[job.audio_kbps],
    )
    .map_err(err("the AAC encoder"))?;
    let settings = Settings {
        spec: RenditionSpec {
            name: "radio-video".into(),
            width: job.width,
            height: job.height,
            video_kbps: job.video_kbps,
            audio_kbps: job.audio_kbps,
        },
        fps: f64::from(job.fps),
        max_gop: job.fps * KEYFRAME_SECS * 2,
        watermark: None,
        audio: aac.config(job.audio_kbps),
    };
    let mut rendition = Rendition::new(settings, out, Arc::new(RenditionStats::default()));
    rendition.start(false);
    let (tx, rx) = sync_channel(QUEUE);
    let fps = job.fps;
    std::thread::Builder::new()
        .name("radio-video".into())
        .spawn(move || {
            if let Err(e) = run(&rx, painter, decoder, aac, &mut rendition, fps) {
                tracing::warn!("radio as video stopped: {e}");
            }
            rendition.finish();
        })
        .map_err(|e| TranscodeError::io("cannot start a thread", e))?;
    Ok(Box::new(Input { tx, dropped: 0 }))
}

fn run(
    rx: &Receiver<Msg>,
    mut painter: Painter,
    mut decoder: AudioDecoder,
    mut aac: AudioLadder,
    rendition: &mut Rendition,
    fps: u32,
) -> Result<(), TranscodeError> {
    let mut first: Option<i64> = None;
    let mut pictures: i64 = 0;
    let mut pcm = Vec::new();
    while let Ok(msg) = rx.recv() {
        let frame = match msg {
            Msg::Title(t) => {
                painter.set_title(&t)?;
                continue;
            }
            Msg::Audio(f) => f,
        };
        pcm.clear();
        if let Err(e) = decoder.decode(&frame, &mut |p| pcm.push(p)) {
            tracing::debug!("radio as video: an audio frame did not decode: {e}");
            continue;
        }
        for p in &pcm {
            aac.encode(p, &mut |_, f| {
                if let Err(e) = rendition.work(Work::Audio(f)) {
                    tracing::debug!("radio as video: audio not encoded: {e}");
                }
            })
            .map_err(err("the AAC encoder"))?;
        }
        // Pictures up to this audio frame's time, on a steady grid from the first one.
        let start = *first.get_or_insert(frame.pts);
        loop {
            let pts = start + pictures * TIMESCALE / i64::from(fps);
            if pts > frame.pts {
                break;
            }
            let picture = painter.picture(pts)?;
            let key = pictures % i64::from(fps * KEYFRAME_SECS) == 0;
            rendition
                .work(Work::Picture(picture, key))
                .map_err(TranscodeError::from)?;
            pictures += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn painter(background: Option<&Path>) -> Painter {
        ff::init().expect("ffmpeg");
        Painter {
            background: Background::open(background, 320, 180).expect("background"),
            texts: Texts::new("Test FM").expect("texts"),
            width: 320,
            height: 180,
            graph: None,
            drawn: None,
        }
    }

    fn luma(f: &ff::frame::Video) -> Vec<u8> {
        (0..f.height() as usize)
            .flat_map(|y| {
                let row = &f.data(0)[y * f.stride(0)..][..f.width() as usize];
                row.to_vec()
            })
            .collect()
    }

    #[test]
    fn a_clip_moves_and_loops_a_still_stays() {
        let dir = tempfile::tempdir().expect("dir");
        let clip = dir.path().join("clip.mp4");
        let ok = std::process::Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x90:rate=10",
                "-f",
                "lavfi",
                "-i",
                "sine",
                "-t",
                "1",
                "-pix_fmt",
                "yuv420p",
            ])
            .arg(&clip)
            .status()
            .expect("ffmpeg");
        assert!(ok.success());
        let mut p = painter(Some(&clip));
        p.set_title("A title").expect("title");
        assert!(matches!(p.background, Background::Clip { .. }));
        let frames: Vec<Vec<u8>> = (0..25)
            .map(|i| luma(&p.picture(i * 3600).expect("picture")))
            .collect();
        assert_ne!(frames[0], frames[1], "the clip does not move");
        // A 1 s clip at 10 pictures a second: the 25 pictures asked for loop through it.
        assert!(frames.iter().all(|f| !f.is_empty()));
        let mut plain = painter(None);
        let a = luma(&plain.picture(0).expect("picture"));
        let b = luma(&plain.picture(3600).expect("picture"));
        assert_eq!(a, b, "a still changes by itself");
        plain.set_title("Now Playing").expect("title");
        let c = luma(&plain.picture(7200).expect("picture"));
        assert_ne!(a, c, "the title is not drawn");
    }
}

#[cfg(test)]
mod encode_tests {
    use std::sync::{Arc, Mutex};

    use tidecast_engine::media::mpa::{Framer, Kind};
    use tidecast_engine::media::{Frame, StreamConfig, Track};
    use tidecast_engine::transcode::{RadioVideoJob, RenditionOutput};

    use super::*;
    use crate::decode::VideoDecoder;

    #[derive(Default, Clone)]
    struct Collect(Arc<Mutex<(Option<StreamConfig>, Vec<Frame>)>>);

    impl RenditionOutput for Collect {
        fn configure(&mut self, config: StreamConfig) {
            self.0.lock().expect("lock").0 = Some(config);
        }
        fn frame(&mut self, frame: Frame) {
            self.0.lock().expect("lock").1.push(frame);
        }
        fn discontinuity(&mut self) {}
    }

    #[test]
    fn a_clip_background_moves_in_the_encoded_video() {
        ff::init().expect("ffmpeg");
        let dir = tempfile::tempdir().expect("dir");
        let clip = dir.path().join("clip.mp4");
        let mp3 = dir.path().join("tone.mp3");
        for args in [
            vec![
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x180:rate=25",
                "-f",
                "lavfi",
                "-i",
                "sine",
                "-t",
                "2",
                "-pix_fmt",
                "yuv420p",
                clip.to_str().expect("path"),
            ],
            vec![
                "-f",
                "lavfi",
                "-i",
                "sine=f=440:sample_rate=44100",
                "-t",
                "4",
                "-c:a",
                "libmp3lame",
                mp3.to_str().expect("path"),
            ],
        ] {
            assert!(
                std::process::Command::new("ffmpeg")
                    .arg("-v")
                    .arg("error")
                    .args(&args)
                    .status()
                    .expect("ffmpeg")
                    .success()
            );
        }
        let mut framer = Framer::new(Kind::Mp3);
        let frames = framer.push(&std::fs::read(&mp3).expect("mp3"));
        let out = Collect::default();
        let job = RadioVideoJob {
            audio: frames[0].0.clone(),
            width: 320,
            height: 180,
            fps: 25,
            video_kbps: 500,
            audio_kbps: 64,
            background: Some(clip),
            station: "Test FM".into(),
            title: "A - B".into(),
        };
        let mut input = start(job, Box::new(out.clone())).expect("start");
        for (_, f) in &frames {
            assert!(input.push(f));
        }
        drop(input);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while out
            .0
            .lock()
            .expect("lock")
            .1
            .iter()
            .filter(|f| f.track == Track::Video)
            .count()
            < 75
        {
            assert!(std::time::Instant::now() < deadline, "too few pictures");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let (config, got) = out.0.lock().expect("lock").clone();
        let mut dec = VideoDecoder::new(&config.expect("configured"))
            .expect("decoder")
            .expect("video");
        let mut pictures = Vec::new();
        for f in got.iter().filter(|f| f.track == Track::Video) {
            dec.decode(f, &mut |p| {
                pictures.push(p.data(0)[..p.stride(0) * 180].to_vec())
            })
            .expect("decode");
        }
        assert!(pictures.len() > 50, "{} pictures", pictures.len());
        assert_ne!(
            pictures[10], pictures[30],
            "the clip does not move in the encoded video"
        );
    }
}
